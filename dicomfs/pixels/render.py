"""Rendered images (PS3.18 §8.3.5, CONFORMANCE H-01..H-18): decoded frame -> JPEG, PNG or GIF.

Pure functions: a decoded frame (numpy array, as pydicom returns it, YBR already converted to
RGB) and the dataset's attributes go in, image bytes come out. The pipeline (H-09)::

    stored values -> Modality LUT (rescale or Modality LUT Sequence; per-frame functional groups)
                  -> VOI: window parameter | WindowCenter/Width (first pair, VOILUTFunction)
                          | FrameVOILUTSequence | VOI LUT Sequence | min/max of the frame (H-13)
                  -> MONOCHROME1 inversion (H-14) -> viewport crop/flip/scale (H-04, H-05)
                  -> 8-bit JPEG (baseline), PNG or GIF

Colour images (RGB, YBR_*, PALETTE COLOR) are converted to 8-bit RGB without windowing (H-15).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO
from typing import Any

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.pixels.processing import apply_color_lut, apply_modality_lut, apply_voi

from dicomfs.errors import InvalidQueryError, NotAcceptableError
from dicomfs.pixels.gif import animated_gif

__all__ = [
    "RenderOptions",
    "Viewport",
    "apply_viewport",
    "display_pixels",
    "encode",
    "parse_params",
    "render",
    "window_lut",
]

log = logging.getLogger(__name__)

#: ``window`` functions (H-08) and the VOILUTFunction values they correspond to.
WINDOW_FUNCTIONS = {"linear": "LINEAR", "linear-exact": "LINEAR_EXACT", "sigmoid": "SIGMOID"}
_FROM_VOI_FUNCTION = {v: k for k, v in WINDOW_FUNCTIONS.items()}
ANNOTATIONS = ("patient", "technique")
ICC_PROFILES = ("no", "yes", "srgb", "adobergb", "rommrgb")
DEFAULT_QUALITY = 90
#: PNG zlib level: 1 is several times faster than the default 6 for a few % more bytes.
PNG_COMPRESS_LEVEL = 1
#: Frame duration of animated GIFs (series rendered, several frames), in milliseconds.
GIF_FRAME_MS = 100
#: Largest viewport width or height (a bigger one is an unsupported viewport: 400, H-06).
MAX_VIEWPORT = 16384
#: Largest magnitude of sx, sy, sw, sh (regions are clamped to the image anyway).
MAX_REGION = 2**31 - 1
_INT_RE = re.compile(r"[+-]?[0-9]+\Z")
_DECIMAL_RE = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")


@dataclass(frozen=True)
class Viewport:
    """``viewport=vw,vh[,sx,sy,sw,sh]`` (H-04, H-05); ``None`` source fields mean the default."""

    width: int
    height: int
    sx: int = 0
    sy: int = 0
    sw: int | None = None
    sh: int | None = None


@dataclass(frozen=True)
class RenderOptions:
    """Validated rendering parameters."""

    media_type: str = "image/jpeg"
    window: tuple[float, float, str] | None = None
    viewport: Viewport | None = None
    quality: int = DEFAULT_QUALITY
    iccprofile: str = "no"
    annotation: tuple[str, ...] = ()


def _text(name: str, value: object) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        raise InvalidQueryError(f"{name}: invalid value {value!r}")
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (list, tuple)) and all(
        isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in value
    ):
        return ",".join(str(v) for v in value)
    raise InvalidQueryError(f"{name}: invalid value {value!r}")


def _parse_window(text: str) -> tuple[float, float, str]:
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 3 or parts[2] not in WINDOW_FUNCTIONS:
        raise InvalidQueryError(
            f"window must be 'center,width,function' with function linear, linear-exact or "
            f"sigmoid: {text!r}"
        )
    if not (_DECIMAL_RE.match(parts[0]) and _DECIMAL_RE.match(parts[1])):
        raise InvalidQueryError(f"window center and width must be decimal numbers: {text!r}")
    center, width = float(parts[0]), float(parts[1])
    if not (math.isfinite(center) and math.isfinite(width)):
        raise InvalidQueryError(f"window values must be finite: {text!r}")
    if (parts[2] == "linear" and width < 1) or width <= 0:
        raise InvalidQueryError(f"window width {width} is too small for {parts[2]}")
    return center, width, parts[2]


def _int_field(text: str, name: str) -> int:
    if not _INT_RE.match(text):
        raise InvalidQueryError(f"viewport {name} must be an integer: {text!r}")
    value = int(text)
    limit = MAX_VIEWPORT if name in ("vw", "vh") else MAX_REGION
    if abs(value) > limit:
        raise InvalidQueryError(f"viewport {name} {value} is beyond the supported {limit}")
    return value


def _parse_viewport(text: str) -> Viewport:
    parts = [p.strip() for p in text.split(",")]
    if not 2 <= len(parts) <= 6 or not parts[0] or not parts[1]:
        raise InvalidQueryError(f"viewport must be 'vw,vh[,sx,sy,sw,sh]': {text!r}")
    width, height = _int_field(parts[0], "vw"), _int_field(parts[1], "vh")
    if width < 1 or height < 1:
        raise InvalidQueryError(f"viewport size must be positive: {text!r}")
    fields = parts[2:] + [""] * (6 - len(parts))
    sx = _int_field(fields[0], "sx") if fields[0] else 0
    sy = _int_field(fields[1], "sy") if fields[1] else 0
    sw = _int_field(fields[2], "sw") if fields[2] else None
    sh = _int_field(fields[3], "sh") if fields[3] else None
    if sx < 0 or sy < 0 or sw == 0 or sh == 0:
        raise InvalidQueryError(f"viewport region must have sx, sy >= 0 and sw, sh != 0: {text!r}")
    return Viewport(width, height, sx, sy, sw, sh)


def parse_params(params: object, media_type: str) -> RenderOptions:
    """Validate rendering parameters (H-05..H-08, H-16, H-17) for ``media_type``.

    Parameters
    ----------
    params: dict, optional
        ``window``, ``viewport``, ``quality``, ``annotation``, ``iccprofile``.
    media_type: str
        ``image/jpeg``, ``image/png`` or ``image/gif``.

    Raises
    ------
    InvalidQueryError
        An unknown parameter or a malformed value.
    NotAcceptableError
        An ICC profile this server cannot embed (adobergb, rommrgb).

    Examples
    --------
    >>> parse_params({"window": "40,400,linear"}, "image/png").window
    (40.0, 400.0, 'linear')
    """
    if params is None:
        return RenderOptions(media_type=media_type)
    if not isinstance(params, dict):
        raise InvalidQueryError(f"params must be a dict: {params!r}")
    unknown = sorted(
        set(params) - {"window", "viewport", "quality", "annotation", "iccprofile"}, key=str
    )
    if unknown:
        names = ", ".join(str(k) if str(k).isprintable() else repr(k) for k in unknown)
        raise InvalidQueryError(f"unknown rendering parameters: {names}")  # one line
    window = _parse_window(_text("window", params["window"])) if "window" in params else None
    viewport = (
        _parse_viewport(_text("viewport", params["viewport"])) if "viewport" in params else None
    )
    quality = DEFAULT_QUALITY
    if "quality" in params:
        text = _text("quality", params["quality"])
        if not _INT_RE.match(text) or not 1 <= int(text) <= 100:
            raise InvalidQueryError(f"quality must be an integer from 1 to 100: {text!r}")
        quality = int(text)
    annotation: tuple[str, ...] = ()
    if "annotation" in params:
        values = [v.strip() for v in _text("annotation", params["annotation"]).split(",")]
        if not values or any(v not in ANNOTATIONS for v in values):
            raise InvalidQueryError(f"annotation must be patient and/or technique: {values!r}")
        annotation = tuple(values)
        log.warning("The following annotation values are not supported: %s", ",".join(values))
    icc = "no"
    if "iccprofile" in params:
        icc = _text("iccprofile", params["iccprofile"])
        if icc not in ICC_PROFILES:
            raise InvalidQueryError(f"iccprofile must be one of {ICC_PROFILES}: {icc!r}")
        if icc != "no" and media_type == "image/gif":
            raise InvalidQueryError("image/gif cannot embed an ICC profile (iccprofile=no only)")
        if icc in ("adobergb", "rommrgb"):
            raise NotAcceptableError(f"ICC profile {icc} is not available (only srgb)")
    return RenderOptions(media_type, window, viewport, quality, icc, annotation)


def window_lut(x: np.ndarray, center: float, width: float, function: str) -> np.ndarray:
    """Apply a VOI window to rescaled values; returns float values in [0, 255] (H-10..H-12).

    >>> round(float(window_lut(np.array([40.0]), 40, 400, "linear")[0]), 6)  # H-09: ~128/255
    127.819549
    """
    x = np.asarray(x, dtype=np.float64)
    # Extreme (valid) windows, such as width 1e-310 or center 1e308, overflow to inf and give
    # NaN between the bounds: no warning, and every value outside [0, 255] is clipped later.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        out: np.ndarray = np.nan_to_num(
            _window(x, center, width, function), nan=0.0, posinf=255.0, neginf=0.0
        )
    return out


def _window(x: np.ndarray, center: float, width: float, function: str) -> np.ndarray:
    if function == "linear":
        low = center - 0.5 - (width - 1) / 2
        high = center - 0.5 + (width - 1) / 2
        if width <= 1:
            return np.where(x <= low, 0.0, 255.0)
        y = ((x - (center - 0.5)) / (width - 1) + 0.5) * 255.0
        return np.where(x <= low, 0.0, np.where(x > high, 255.0, y))
    if function == "linear-exact":
        low, high = center - width / 2, center + width / 2
        y = ((x - center) / width + 0.5) * 255.0
        return np.where(x <= low, 0.0, np.where(x > high, 255.0, y))
    if function == "sigmoid":
        exponent = np.clip(-4.0 * (x - center) / width, -700.0, 700.0)
        return 255.0 / (1.0 + np.exp(exponent))
    raise InvalidQueryError(f"unknown window function {function!r}")


def _to_uint8(y: np.ndarray) -> np.ndarray:
    """Round half up and clip to 0..255."""
    return np.clip(np.floor(y + 0.5), 0, 255).astype(np.uint8)


def _functional_item(ds: Dataset, index: int, keyword: str) -> Dataset | None:
    """The first item of ``keyword`` for frame ``index`` (per-frame groups, then shared)."""
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if per_frame and index < len(per_frame):
        seq = per_frame[index].get(keyword)
        if seq:
            return seq[0]  # type: ignore[no-any-return]
    shared = ds.get("SharedFunctionalGroupsSequence")
    if shared:
        seq = shared[0].get(keyword)
        if seq:
            return seq[0]  # type: ignore[no-any-return]
    return None


def _first(value: Any) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, Sequence) and not isinstance(value, str):
        if not value:
            return None
        value = value[0]
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None  # "nan" / "inf" in a DS: no value


def _modality(frame: np.ndarray, ds: Dataset, index: int) -> np.ndarray:
    """Stored values -> rescaled values (Modality LUT), per-frame groups honoured."""
    item = _functional_item(ds, index, "PixelValueTransformationSequence")
    source = item if item is not None and "RescaleSlope" in item else ds
    if "ModalityLUTSequence" in ds and "RescaleSlope" not in source:
        return np.asarray(apply_modality_lut(frame, ds), dtype=np.float64)
    slope = _first(source.get("RescaleSlope"))
    intercept = _first(source.get("RescaleIntercept"))
    x = frame.astype(np.float64)
    if slope is not None and slope != 1:
        x *= slope
    if intercept:
        x += intercept
    return x


def _dataset_window(ds: Dataset, index: int) -> tuple[float, float, str] | None:
    """The first valid window of the dataset, then of the frame's FrameVOILUTSequence (H-13)."""
    sources: list[Dataset] = [ds]
    item = _functional_item(ds, index, "FrameVOILUTSequence")
    if item is not None:
        sources.append(item)
    for source in sources:
        center = _first(source.get("WindowCenter"))
        width = _first(source.get("WindowWidth"))
        if center is None or width is None:
            continue
        function = _FROM_VOI_FUNCTION.get(str(source.get("VOILUTFunction") or "LINEAR"), "linear")
        if (function == "linear" and width >= 1) or (function != "linear" and width > 0):
            return center, width, function
    return None


def _voi(x: np.ndarray, ds: Dataset, window: tuple[float, float, str] | None) -> np.ndarray:
    """Rescaled values -> float display values in [0, 255]."""
    if window is not None:
        return window_lut(x, *window)
    voi_seq = ds.get("VOILUTSequence")
    if voi_seq:
        descriptor = voi_seq[0].get("LUTDescriptor")
        bits = int(descriptor[2]) if descriptor else 16
        lut_out = apply_voi(x.astype(np.int64) if x.dtype.kind == "f" else x, ds, index=0)
        return np.asarray(lut_out, dtype=np.float64) * (255.0 / float(2**bits - 1))
    finite = x[np.isfinite(x)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
    if high <= low:
        return np.zeros_like(x)
    return (x - low) * (255.0 / (high - low))


def display_pixels(
    frame: np.ndarray,
    ds: Dataset,
    index: int = 0,
    window: tuple[float, float, str] | None = None,
) -> np.ndarray:
    """A decoded frame as 8-bit display values: (rows, columns) grey or (rows, columns, 3) RGB.

    Parameters
    ----------
    frame: numpy.ndarray
        One decoded frame (YBR already converted to RGB).
    ds: Dataset
        The instance's attributes (pixel data not needed).
    index: int
        Zero-based frame index (for per-frame functional groups).
    window: tuple, optional
        ``(center, width, function)`` from the ``window`` parameter; overrides the dataset's VOI.
    """
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip()
    if photometric == "PALETTE COLOR":
        try:
            rgb = apply_color_lut(frame, ds)
        except (AttributeError, TypeError, ValueError) as exc:  # no usable Palette Color LUT
            raise NotAcceptableError(f"cannot apply the palette: {exc}") from exc
        descriptor = ds.get("RedPaletteColorLookupTableDescriptor")
        bits = int(descriptor[2]) if descriptor else 8
        if bits > 8:
            return _to_uint8(rgb.astype(np.float64) * (255.0 / 65535.0))
        return rgb.astype(np.uint8)
    if frame.ndim == 3:
        if frame.dtype == np.uint8:
            return frame
        if frame.dtype.kind == "f":
            return _to_uint8(_voi(frame.astype(np.float64), ds, None))
        bits = int(ds.get("BitsStored") or frame.dtype.itemsize * 8)
        return _to_uint8(frame.astype(np.float64) * (255.0 / float(2**bits - 1)))
    x = _modality(frame, ds, index)
    if window is None:
        window = _dataset_window(ds, index)
    y = _to_uint8(np.nan_to_num(_voi(x, ds, window)))
    if photometric == "MONOCHROME1":
        y = 255 - y
    return y


def _region(length: int, start: int, size: int | None) -> tuple[int, int, bool]:
    """Clamp a viewport region along one axis: (first, end, flip)."""
    flip = size is not None and size < 0
    extent = length - start if size is None else abs(size)
    first, end = min(start, length), min(start + extent, length)
    if end <= first:
        raise InvalidQueryError("the viewport region lies outside the image")
    return first, end, flip


def apply_viewport(pixels: np.ndarray, viewport: Viewport | None) -> Image.Image:
    """Crop (and flip) the region, then scale to the largest size fitting the viewport (H-04/H-05).

    The region is ``[sx, sx+|sw|) x [sy, sy+|sh|)``, clamped to the image; a negative ``sw``
    (``sh``) flips it horizontally (vertically).
    """
    if viewport is None:
        return Image.fromarray(pixels)
    x0, x1, flip_x = _region(pixels.shape[1], viewport.sx, viewport.sw)
    y0, y1, flip_y = _region(pixels.shape[0], viewport.sy, viewport.sh)
    region = pixels[y0:y1, x0:x1]
    if flip_x:
        region = region[:, ::-1]
    if flip_y:
        region = region[::-1]
    image = Image.fromarray(np.ascontiguousarray(region))
    scale = min(viewport.width / image.width, viewport.height / image.height)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    if size != image.size:
        image = image.resize(size, Image.Resampling.BILINEAR)
    return image


def _icc_bytes(profile: str) -> bytes | None:
    if profile == "no":
        return None
    from PIL import ImageCms

    data: bytes = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return data


def encode(images: Sequence[Image.Image], options: RenderOptions) -> bytes:
    """Encode one image (or, for image/gif, several as an animation) in the requested format."""
    if not images:
        raise NotAcceptableError("nothing to render")
    buffer = BytesIO()
    icc = _icc_bytes(options.iccprofile)
    extra: dict[str, Any] = {"icc_profile": icc} if icc else {}
    first = images[0]
    if options.media_type == "image/jpeg":
        first.save(buffer, "JPEG", quality=options.quality, **extra)
    elif options.media_type == "image/png":
        first.save(buffer, "PNG", compress_level=PNG_COMPRESS_LEVEL, **extra)
    elif options.media_type == "image/gif":
        if len(images) == 1:
            first.save(buffer, "GIF")
        else:  # one GIF frame per image, identical ones too (Pillow would merge them)
            return animated_gif(images, GIF_FRAME_MS)
    else:
        raise NotAcceptableError(f"cannot render as {options.media_type}")
    return buffer.getvalue()


def render(
    frame: np.ndarray, ds: Dataset, index: int, options: RenderOptions
) -> Image.Image:
    """Render one decoded frame to a PIL image (display values, viewport applied)."""
    return apply_viewport(display_pixels(frame, ds, index, options.window), options.viewport)
