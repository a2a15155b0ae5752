"""Media type / transfer syntax negotiation shared by both clients (PS3.18 §8.7).

Both clients take ``media_types`` as dicomweb-client does (CONFORMANCE L-04): a sequence of
strings (``"image/jpeg"``, optionally with ``;transfer-syntax=...`` and ``;q=...`` parameters) or
``(media_type, transfer_syntax_uid)`` tuples, ``"*"`` being the wildcard transfer syntax.
:func:`parse_media_types` validates them against a resource:

=============  ==============================================================================
resource       valid media types
=============  ==============================================================================
``instance``   ``application/dicom`` (studies, series and instances)
``frame``      ``application/octet-stream``, ``image/*`` codestreams, ``video/*`` streams
``bulkdata``   as ``frame``
``rendered``   ``image/jpeg`` (default), ``image/png``, ``image/gif``, ``image/jp2``,
               ``text/html``, ``text/plain``, ``text/xml``, ``text/rtf``, ``application/pdf``,
               ``video/mpeg``, ``video/mp4``, ``video/h265`` (H-01, Table 8.7.4-1; which ones
               can be produced is :func:`choose_rendered_media`)
``metadata``   ``application/dicom+json``, ``application/json`` (K-05)
=============  ==============================================================================

``*/*`` and ``<type>/*`` are accepted everywhere and read as "what the resource offers" (E-10).
A media type not valid for the resource, mixed categories (only ``image/*`` with
``application/octet-stream`` may be mixed, L-04/E-09), a transfer syntax on a rendered or
metadata type, or a media type / transfer syntax pair that does not match Table 8.7.3-5 (F-06)
raise :class:`~dicomfs.errors.BadRequestError`. A valid request that cannot be produced from the
stored data raises :class:`~dicomfs.errors.NotAcceptableError` in the ``choose_*`` functions.

Choices
-------
* ``("application/dicom", "*")`` returns the stored syntax, except Implicit VR Little Endian and
  Explicit VR Big Endian, which DICOMweb never sends (E-06): they become Explicit VR LE.
  Deflated Explicit VR LE *is* sent as stored: it is Explicit VR Little Endian, and PS3.18 only
  excludes the other two.
* ``image/jpeg`` (or ``image/jls``, ...) without a transfer syntax selects the stored codestream
  when the stored syntax belongs to that media type (``.50`` as well as the table's default
  ``.70``); the part's Content-Type then states the actual syntax (F-07). Nothing is re-encoded.
* JPEG 2000 (``.91``, ``.93``) and HTJ2K (``.203``) may be lossless or lossy; without
  ``lossy=False`` they count as lossy, so they are not decoded to octet-stream (F-08).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from pydicom import uid as _uid

from dicomfs.errors import BadRequestError, NotAcceptableError

__all__ = [
    "DEFAULT_MEDIA_TYPES",
    "OCTET_RANGES",
    "DEFLATED_EXPLICIT_VR_LE",
    "ENCAPSULATED_SYNTAXES",
    "EXPLICIT_VR_BE",
    "EXPLICIT_VR_LE",
    "FrameMedia",
    "IMPLICIT_VR_LE",
    "LOSSLESS_SYNTAXES",
    "LOSSY_SYNTAXES",
    "MEDIA_TYPE_SYNTAXES",
    "MediaRange",
    "NATIVE_SYNTAXES",
    "RESOURCES",
    "SYNTAX_MEDIA_TYPE",
    "accept_header",
    "choose_frame_media",
    "choose_instance_syntax",
    "choose_rendered_media",
    "multipart_content_type",
    "parse_accept_header",
    "parse_content_type",
    "parse_media_types",
    "part_content_type",
]

# ---- transfer syntaxes ---------------------------------------------------------------------
IMPLICIT_VR_LE = str(_uid.ImplicitVRLittleEndian)
EXPLICIT_VR_LE = str(_uid.ExplicitVRLittleEndian)
EXPLICIT_VR_BE = str(_uid.ExplicitVRBigEndian)
DEFLATED_EXPLICIT_VR_LE = str(_uid.DeflatedExplicitVRLittleEndian)
ENCAPSULATED_UNCOMPRESSED = "1.2.840.10008.1.2.1.98"
_JPEG_XL_LOSSLESS, _JPEG_XL_RECOMPRESSION, _JPEG_XL = (
    "1.2.840.10008.1.2.4.110", "1.2.840.10008.1.2.4.111", "1.2.840.10008.1.2.4.112")

#: Not encapsulated: frames are plain pixel bytes.
NATIVE_SYNTAXES = frozenset({IMPLICIT_VR_LE, EXPLICIT_VR_LE, EXPLICIT_VR_BE,
                             DEFLATED_EXPLICIT_VR_LE})
#: Never in a DICOMweb response (E-06).
_NEVER_SENT = frozenset({IMPLICIT_VR_LE, EXPLICIT_VR_BE})

_MPEG2 = tuple(str(u) for u in (_uid.MPEG2MPML, _uid.MPEG2MPMLF, _uid.MPEG2MPHL, _uid.MPEG2MPHLF))
_MP4 = tuple(str(u) for u in (
    _uid.MPEG4HP41, _uid.MPEG4HP41F, _uid.MPEG4HP41BD, _uid.MPEG4HP41BDF, _uid.MPEG4HP422D,
    _uid.MPEG4HP422DF, _uid.MPEG4HP423D, _uid.MPEG4HP423DF, _uid.MPEG4HP42STEREO,
    _uid.MPEG4HP42STEREOF))
_HEVC = (str(_uid.HEVCMP51), str(_uid.HEVCM10P51))

#: Table 8.7.3-5 (F-06): media type -> its transfer syntaxes, the default first.
MEDIA_TYPE_SYNTAXES: dict[str, tuple[str, ...]] = {
    "image/jpeg": (str(_uid.JPEGLosslessSV1), str(_uid.JPEGBaseline8Bit),
                   str(_uid.JPEGExtended12Bit), str(_uid.JPEGLossless)),
    "image/jls": (str(_uid.JPEGLSLossless), str(_uid.JPEGLSNearLossless)),
    "image/jp2": (str(_uid.JPEG2000Lossless), str(_uid.JPEG2000)),
    "image/jpx": (str(_uid.JPEG2000MCLossless), str(_uid.JPEG2000MC)),
    "image/jphc": (str(_uid.HTJ2KLossless), str(_uid.HTJ2KLosslessRPCL), str(_uid.HTJ2K)),
    "image/jxl": (_JPEG_XL_LOSSLESS, _JPEG_XL_RECOMPRESSION, _JPEG_XL),
    "image/dicom-rle": (str(_uid.RLELossless),),
    "video/mpeg2": _MPEG2,
    "video/mp4": _MP4 + _HEVC,
    "video/h265": _HEVC,
}
#: Legacy names still accepted (§8.7.3.3.2 note 8).
_ALIASES = {"image/x-dicom-rle": "image/dicom-rle", "image/x-jls": "image/jls"}
#: Compressed transfer syntax -> its canonical media type.
SYNTAX_MEDIA_TYPE: dict[str, str] = {}
for _media, _syntaxes in MEDIA_TYPE_SYNTAXES.items():
    for _ts in _syntaxes:
        SYNTAX_MEDIA_TYPE.setdefault(_ts, _media)

ENCAPSULATED_SYNTAXES = frozenset(SYNTAX_MEDIA_TYPE) | {ENCAPSULATED_UNCOMPRESSED}
LOSSLESS_SYNTAXES = frozenset({
    str(_uid.JPEGLossless), str(_uid.JPEGLosslessSV1), str(_uid.JPEGLSLossless),
    str(_uid.JPEG2000Lossless), str(_uid.JPEG2000MCLossless), str(_uid.HTJ2KLossless),
    str(_uid.HTJ2KLosslessRPCL), str(_uid.RLELossless), _JPEG_XL_LOSSLESS,
    ENCAPSULATED_UNCOMPRESSED,
}) | NATIVE_SYNTAXES
#: Lossy, or possibly lossy (.91, .93, .203), or video: never decoded to octet-stream (F-08).
LOSSY_SYNTAXES = ENCAPSULATED_SYNTAXES - LOSSLESS_SYNTAXES
_MAYBE_LOSSLESS = frozenset({str(_uid.JPEG2000), str(_uid.JPEG2000MC), str(_uid.HTJ2K)})

# ---- resources -----------------------------------------------------------------------------
RESOURCES = ("instance", "frame", "bulkdata", "rendered", "metadata")
_OCTET = "application/octet-stream"
_PIXEL_TYPES = frozenset(MEDIA_TYPE_SYNTAXES) | set(_ALIASES) | {_OCTET}
_RENDERED_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/jp2", "text/html",
                             "text/plain", "text/xml", "video/mpeg", "video/mp4", "video/h265",
                             "text/rtf", "application/pdf"})  # the last two: optional (Text)
_VALID: dict[str, frozenset[str]] = {
    "instance": frozenset({"application/dicom"}),
    "frame": _PIXEL_TYPES,
    "bulkdata": _PIXEL_TYPES,
    "rendered": _RENDERED_TYPES,
    "metadata": frozenset({"application/dicom+json", "application/json"}),
}
_MULTIPART_RESOURCES = frozenset({"instance", "frame", "bulkdata"})
_UID_RE = re.compile(r"(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*\Z")
_TOKEN_RE = re.compile(r"(\*/\*|[A-Za-z0-9!#$&^_.+-]+/(\*|[A-Za-z0-9!#$&^_.+-]+))\Z")
_Q_RE = re.compile(r"(0(\.[0-9]{0,3})?|1(\.0{0,3})?)\Z")


#: Media ranges under which bulk data is sent as its value bytes (F-10).
OCTET_RANGES = frozenset({"application/octet-stream", "application/*", "*/*"})


@dataclass(frozen=True)
class MediaRange:
    """One acceptable media type.

    Attributes
    ----------
    media_type: str
        Lower-case ``type/subtype``; may be a wildcard (``*/*``, ``image/*``).
    transfer_syntax: str or None
        A transfer syntax UID, ``"*"`` (any), or None (not specified: the default).
    q: float
        Weight from 0 to 1 (E-10); 0 means "not acceptable".
    """

    media_type: str
    transfer_syntax: str | None = None
    q: float = 1.0


#: What ``media_types=None`` means for each resource (API.md; E-03, F-03, H-01, K-05).
DEFAULT_MEDIA_TYPES: dict[str, tuple[MediaRange, ...]] = {
    "instance": (MediaRange("application/dicom"),),
    "frame": (MediaRange(_OCTET),),
    "bulkdata": (MediaRange(_OCTET), MediaRange("*/*", None, 0.5)),
    "rendered": (MediaRange("image/jpeg"),),
    "metadata": (MediaRange("application/dicom+json"), MediaRange("application/json")),
}


def _check_resource(resource: str) -> None:
    if resource not in _VALID:
        raise BadRequestError(f"unknown resource {resource!r}; expected one of {RESOURCES}")


def parse_content_type(value: str) -> tuple[str, dict[str, str]]:
    """Split a Content-Type (or one Accept entry) into the media type and its parameters.

    Type and parameter names are lower-cased; quoted and unquoted values are equal (E-12).

    >>> parse_content_type('multipart/related; Type="application/dicom"; boundary=ab')
    ('multipart/related', {'type': 'application/dicom', 'boundary': 'ab'})
    """
    if not isinstance(value, str):
        raise BadRequestError(f"media type {value!r} is not a string")
    parts = _split_outside_quotes(value, ";")
    media_type = parts[0].strip().lower()
    if media_type == "*":  # the short form of */* that some clients send ("as stored" for frames)
        media_type = "*/*"
    if not _TOKEN_RE.match(media_type):
        raise BadRequestError(f"invalid media type {value!r}")
    params: dict[str, str] = {}
    for part in parts[1:]:
        if not part.strip():
            continue
        name, sep, raw = part.partition("=")
        name = name.strip().lower()
        if not sep or not name:
            raise BadRequestError(f"invalid media type parameter {part.strip()!r} in {value!r}")
        raw = raw.strip()
        if len(raw) >= 2 and raw[0] == raw[-1] == '"':
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        params[name] = raw
    return media_type, params


def _split_outside_quotes(value: str, sep: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for ch in value:
        if escaped:
            escaped = False
        elif ch == "\\" and quoted:
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == sep and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(ch)
    parts.append("".join(current))
    return parts


def _parse_q(text: str, item: Any) -> float:
    if not _Q_RE.match(text.strip()):
        raise BadRequestError(f"invalid q value {text!r} in {item!r}")
    return float(text)


def _category(media_type: str, resource: str) -> str | None:
    """The category for the mixing rule (L-04); None for wildcards that match anything."""
    if media_type == "*/*" or resource in ("rendered", "metadata", "instance"):
        return None if media_type.endswith("/*") else resource
    if media_type in (_OCTET, "application/*"):
        return "octet"
    return media_type.split("/")[0]  # image, video


def _validate(rng: MediaRange, resource: str, item: Any) -> MediaRange:
    mt, ts = rng.media_type, rng.transfer_syntax
    major = mt.split("/")[0]
    if mt.endswith("/*"):
        valid = mt == "*/*" or any(v.startswith(major + "/") for v in _VALID[resource])
    else:
        valid = mt in _VALID[resource]
    if not valid:
        raise BadRequestError(f"media type {mt!r} is not valid for {resource} resources ({item!r})")
    if ts is None:
        return rng
    if resource in ("rendered", "metadata"):  # H-01: not even "*"
        raise BadRequestError(f"a transfer syntax is not allowed for {resource} media ({item!r})")
    if ts == "*":
        return rng
    if not _UID_RE.match(ts) or len(ts) > 64:
        raise BadRequestError(f"invalid transfer syntax UID {ts!r} in {item!r}")
    if resource == "instance":
        return rng
    canonical = _ALIASES.get(mt, mt)
    if canonical in (_OCTET, "application/*"):
        ok = ts in (EXPLICIT_VR_LE, ENCAPSULATED_UNCOMPRESSED)
    elif canonical == "*/*":
        ok = ts in SYNTAX_MEDIA_TYPE or ts == EXPLICIT_VR_LE
    elif canonical.endswith("/*"):
        ok = SYNTAX_MEDIA_TYPE.get(ts, "").startswith(major + "/")
    else:
        ok = ts in MEDIA_TYPE_SYNTAXES[canonical]
    if not ok:
        raise BadRequestError(f"transfer syntax {ts} does not match media type {mt} (F-06)")
    return rng


def _range_of(item: Any) -> MediaRange:
    if isinstance(item, MediaRange):
        media_type, _ = parse_content_type(item.media_type)
        if not isinstance(item.q, (int, float)) or not 0 <= item.q <= 1:
            raise BadRequestError(f"invalid q value in {item!r}")
        return MediaRange(media_type, item.transfer_syntax, float(item.q))
    if isinstance(item, str):
        media_type, params = parse_content_type(item)
        ts = params.get("transfer-syntax")
        q = _parse_q(params["q"], item) if "q" in params else 1.0
        return MediaRange(media_type, ts.strip() if ts is not None else None, q)
    if isinstance(item, (tuple, list)) and len(item) in (1, 2) and all(
        isinstance(x, str) for x in item
    ):
        media_type, params = parse_content_type(item[0])
        ts = item[1] if len(item) == 2 else params.get("transfer-syntax")
        if len(item) == 2 and "transfer-syntax" in params and params["transfer-syntax"] != ts:
            raise BadRequestError(f"two transfer syntaxes in {item!r}")
        q = _parse_q(params["q"], item) if "q" in params else 1.0
        return MediaRange(media_type, ts.strip() if ts is not None else None, q)
    raise BadRequestError(
        f"media type {item!r} must be a string or a (media_type, transfer_syntax_uid) tuple"
    )


def parse_media_types(media_types: Any, resource: str) -> list[MediaRange]:
    """Parse and validate a ``media_types`` argument for a resource.

    Parameters
    ----------
    media_types: Sequence[str | tuple[str, str] | MediaRange] or None
        As the retrieve methods take it. None (or empty) gives :data:`DEFAULT_MEDIA_TYPES`.
    resource: str
        One of ``"instance"``, ``"frame"``, ``"bulkdata"``, ``"rendered"``, ``"metadata"``.

    Returns
    -------
    list[MediaRange]
        In the given order (not sorted by q).

    Raises
    ------
    dicomfs.errors.BadRequestError
        Invalid or mixed media types, mismatched transfer syntax (see the module docstring).

    Examples
    --------
    >>> parse_media_types([("image/jls", "1.2.840.10008.1.2.4.80"), "image/jpeg;q=0.5"], "frame")
    [MediaRange(media_type='image/jls', transfer_syntax='1.2.840.10008.1.2.4.80', q=1.0), \
MediaRange(media_type='image/jpeg', transfer_syntax=None, q=0.5)]
    """
    _check_resource(resource)
    if media_types is None:
        return list(DEFAULT_MEDIA_TYPES[resource])
    if isinstance(media_types, (str, bytes)) or not isinstance(media_types, Sequence):
        example = DEFAULT_MEDIA_TYPES[resource][0].media_type
        raise BadRequestError(
            f"media_types must be a sequence such as ('{example}',), got {media_types!r}"
        )
    if not media_types:
        return list(DEFAULT_MEDIA_TYPES[resource])
    ranges = [_validate(_range_of(item), resource, item) for item in media_types]
    categories = {c for c in (_category(r.media_type, resource) for r in ranges) if c}
    if len(categories) > 1 and categories != {"image", "octet"}:
        raise BadRequestError(
            f"media types {list(media_types)!r} mix resource categories (only image/* and "
            "application/octet-stream may be combined)"
        )
    return ranges


def parse_accept_header(value: str | None, resource: str) -> list[MediaRange]:
    """Parse an HTTP Accept header for a resource (server side).

    ``multipart/related; type="X"; transfer-syntax=Y; q=Z`` entries become ``MediaRange(X, Y,
    Z)``; ``multipart/related`` without ``type`` means the resource's default type. An empty or
    missing header gives ``[]`` (the HTTP front-end answers 406, E-08).
    """
    _check_resource(resource)
    if value is None or not value.strip():
        return []
    ranges = []
    for entry in _split_outside_quotes(value, ","):
        if not entry.strip():
            continue
        media_type, params = parse_content_type(entry)
        q = _parse_q(params["q"], entry) if "q" in params else 1.0
        if media_type == "multipart/related":
            media_type = params.get("type", DEFAULT_MEDIA_TYPES[resource][0].media_type).lower()
        ranges.append(MediaRange(media_type, params.get("transfer-syntax"), q))
    return parse_media_types(ranges, resource)


def _normalise(requested: Any, resource: str) -> list[MediaRange]:
    ranges = parse_media_types(requested, resource)
    order = sorted(range(len(ranges)), key=lambda i: (-ranges[i].q, i))
    return [ranges[i] for i in order if ranges[i].q > 0]


def _format_q(q: float) -> str:
    return "" if q == 1.0 else f"; q={f'{q:.3f}'.rstrip('0').rstrip('.')}"


def accept_header(media_types: Any, resource: str) -> str:
    """Build the HTTP Accept header for a retrieve request.

    >>> accept_header([("application/dicom", "*")], "instance")
    'multipart/related; type="application/dicom"; transfer-syntax=*'
    >>> accept_header(None, "metadata")
    'application/dicom+json, application/json'

    For instances, Implicit VR Little Endian and Explicit VR Big Endian are left out: DICOMweb
    never sends them (E-06), as :func:`choose_instance_syntax` skips them. When nothing
    acceptable (q > 0) is left, :class:`~dicomfs.errors.NotAcceptableError` is raised (the 406
    a server would answer) rather than sending a request that cannot succeed.
    """
    ranges = parse_media_types(media_types, resource)
    if resource == "instance":
        ranges = [r for r in ranges if r.transfer_syntax not in _NEVER_SENT]
    if not any(r.q > 0 for r in ranges):
        raise NotAcceptableError(
            f"nothing acceptable in {media_types!r}: Implicit VR Little Endian and Explicit VR "
            "Big Endian are never sent (E-06), and q=0 means not acceptable (E-10)"
        )
    entries = []
    for r in ranges:
        if resource in _MULTIPART_RESOURCES:
            ts = f"; transfer-syntax={r.transfer_syntax}" if r.transfer_syntax else ""
            entries.append(f'multipart/related; type="{r.media_type}"{ts}{_format_q(r.q)}')
        else:
            entries.append(f"{r.media_type}{_format_q(r.q)}")
    return ", ".join(entries)


def part_content_type(media_type: str, transfer_syntax: str | None = None) -> str:
    """Content-Type of one part of a multipart response, stating its transfer syntax (F-07).

    >>> part_content_type("image/jls", "1.2.840.10008.1.2.4.80")
    'image/jls; transfer-syntax=1.2.840.10008.1.2.4.80'
    """
    media_type, _ = parse_content_type(media_type)
    if media_type.endswith("/*"):
        raise BadRequestError(f"a part cannot have the wildcard media type {media_type!r}")
    if transfer_syntax is None:
        return media_type
    canonical = _ALIASES.get(media_type, media_type)
    if canonical == "application/dicom":
        ok = bool(_UID_RE.match(transfer_syntax)) and transfer_syntax not in _NEVER_SENT
    elif canonical == _OCTET:
        ok = transfer_syntax in (EXPLICIT_VR_LE, ENCAPSULATED_UNCOMPRESSED)
    else:
        ok = transfer_syntax in MEDIA_TYPE_SYNTAXES.get(canonical, ())
    if not ok:
        raise BadRequestError(f"transfer syntax {transfer_syntax} is invalid for {media_type}")
    return f"{media_type}; transfer-syntax={transfer_syntax}"


def multipart_content_type(media_type: str, boundary: str) -> str:
    """``multipart/related; type="..."; boundary=...`` with the quoted ``type`` (K-01)."""
    media_type, _ = parse_content_type(media_type)
    if not re.fullmatch(r"[0-9A-Za-z'()+_,\-./:=?]{1,70}", boundary):
        raise BadRequestError(f"invalid multipart boundary {boundary!r}")
    return f'multipart/related; type="{media_type}"; boundary={boundary}'


# ---- choosing what to send -----------------------------------------------------------------
def _transcodable(stored: str, target: str, can_transcode: Callable[[str, str], bool]) -> bool:
    if stored == target:
        return True
    if stored in NATIVE_SYNTAXES and target == EXPLICIT_VR_LE:
        return True  # re-encoding the elements only; pydicom always can
    return bool(can_transcode(stored, target))


def choose_instance_syntax(
    requested: Any, stored_ts: str, can_transcode: Callable[[str, str], bool]
) -> str:
    """Choose the transfer syntax in which to send an instance (E-03..E-07, E-10).

    Parameters
    ----------
    requested: media_types or list[MediaRange] or None
        ``application/dicom`` ranges; None is the API default (Explicit VR Little Endian).
    stored_ts: str
        The stored transfer syntax UID.
    can_transcode: Callable[[str, str], bool]
        ``can_transcode(stored_ts, target_ts)``: whether the caller can convert (asked only
        for real conversions; native -> Explicit VR LE is always possible).

    Returns
    -------
    str
        The transfer syntax UID to send (never Implicit VR LE or Explicit VR BE).

    Raises
    ------
    dicomfs.errors.BadRequestError
        Invalid media types.
    dicomfs.errors.NotAcceptableError
        No acceptable syntax can be produced.

    Examples
    --------
    >>> no = lambda stored, target: False
    >>> choose_instance_syntax(None, "1.2.840.10008.1.2", no)
    '1.2.840.10008.1.2.1'
    >>> choose_instance_syntax([("application/dicom", "*")], "1.2.840.10008.1.2.4.50", no)
    '1.2.840.10008.1.2.4.50'
    """
    if not isinstance(stored_ts, str) or not stored_ts:
        raise BadRequestError(f"invalid stored transfer syntax {stored_ts!r}")
    ranges = _normalise(requested, "instance")
    for rng in ranges:
        ts = rng.transfer_syntax
        if ts == "*":
            target = EXPLICIT_VR_LE if stored_ts in _NEVER_SENT else stored_ts
        else:
            target = ts or EXPLICIT_VR_LE
        if target in _NEVER_SENT:
            continue
        if _transcodable(stored_ts, target, can_transcode):
            return target
        if ts is None and stored_ts in LOSSY_SYNTAXES:
            return stored_ts  # E-03: data that exists only in lossy form is exempt
    wanted = ", ".join(f"{r.media_type};transfer-syntax={r.transfer_syntax or EXPLICIT_VR_LE}"
                       for r in ranges) or "nothing (all q=0)"
    raise NotAcceptableError(f"cannot provide {wanted} from stored transfer syntax {stored_ts}")


class FrameMedia(NamedTuple):
    """How to send frames or bulk pixel data (a tuple: ``media_type, transfer_syntax, decode``).

    ``decode`` is True when the bytes must be produced by decoding the stored pixel data
    (compressed, encapsulated, or big endian) rather than copied from it.
    """

    media_type: str
    transfer_syntax: str | None
    decode: bool


def choose_frame_media(
    requested: Any, stored_ts: str, *, lossy: bool | None = None, resource: str = "frame"
) -> FrameMedia:
    """Choose how to send the frames of an instance (F-03, F-05, F-06, F-08, F-09).

    Parameters
    ----------
    requested: media_types or list[MediaRange] or None
        None means ``application/octet-stream`` (frames) as in API.md.
    stored_ts: str
        The stored transfer syntax UID.
    lossy: bool, optional
        For .91, .93 and .203, which may hold lossless or lossy data: ``False`` (known
        lossless, e.g. from LossyImageCompression "00") allows decoding to octet-stream; None
        or True counts them as lossy. Ignored for the other syntaxes.
    resource: str, optional
        ``"frame"`` or ``"bulkdata"`` (whose default also accepts the stored codestream).

    Returns
    -------
    FrameMedia
        ``(media_type, transfer_syntax_uid, decode)``: ``application/octet-stream`` with
        Explicit VR LE for native bytes, else the stored codestream's media type and syntax.

    Raises
    ------
    dicomfs.errors.NotAcceptableError
        E.g. octet-stream only, and the data exists only lossy-compressed (F-08) or is video.

    Examples
    --------
    >>> choose_frame_media(None, "1.2.840.10008.1.2.4.80")
    FrameMedia(media_type='application/octet-stream', transfer_syntax='1.2.840.10008.1.2.1', \
decode=True)
    >>> choose_frame_media(["image/jpeg"], "1.2.840.10008.1.2.4.50")
    FrameMedia(media_type='image/jpeg', transfer_syntax='1.2.840.10008.1.2.4.50', decode=False)
    """
    if resource not in ("frame", "bulkdata"):
        raise BadRequestError(f"resource must be 'frame' or 'bulkdata', got {resource!r}")
    if not isinstance(stored_ts, str) or not stored_ts:
        raise BadRequestError(f"invalid stored transfer syntax {stored_ts!r}")
    ranges = _normalise(requested, resource)
    stored_media = SYNTAX_MEDIA_TYPE.get(stored_ts)
    decoded: FrameMedia | None
    if stored_ts in NATIVE_SYNTAXES:
        decoded = FrameMedia(_OCTET, EXPLICIT_VR_LE, stored_ts == EXPLICIT_VR_BE)
    elif stored_ts in LOSSLESS_SYNTAXES or (stored_ts in _MAYBE_LOSSLESS and lossy is False):
        decoded = FrameMedia(_OCTET, EXPLICIT_VR_LE, True)
    else:
        decoded = None  # F-08 / F-09: lossy or video is not decoded to octet-stream
    for rng in ranges:
        mt, ts = _ALIASES.get(rng.media_type, rng.media_type), rng.transfer_syntax
        if mt in (_OCTET, "application/*"):
            if decoded is not None:
                return decoded
            continue
        if stored_media is not None and ts in (None, "*", stored_ts):
            as_stored = FrameMedia(stored_media, stored_ts, False)
            if mt == stored_media:
                return FrameMedia(rng.media_type, stored_ts, False)
            if mt == "*/*" or (mt.endswith("/*") and stored_media.startswith(mt[:-1])):
                return as_stored
            if stored_ts in MEDIA_TYPE_SYNTAXES.get(mt, ()):  # e.g. HEVC as video/h265
                return FrameMedia(rng.media_type, stored_ts, False)
        if mt == "*/*" and stored_media is None and ts in (None, "*", EXPLICIT_VR_LE):
            if decoded is not None:
                return decoded
    wanted = ", ".join(f"{r.media_type}" + (f";transfer-syntax={r.transfer_syntax}"
                                            if r.transfer_syntax else "") for r in ranges)
    raise NotAcceptableError(
        f"cannot provide {wanted or 'nothing (all q=0)'} from stored transfer syntax {stored_ts}"
        + ("" if decoded else " (lossy data and video are not decoded to octet-stream, F-08)")
    )


def choose_rendered_media(
    requested: Any, supported: Sequence[str] = ("image/jpeg", "image/png", "image/gif")
) -> str:
    """Choose the rendered media type (H-01): the preferred acceptable one in ``supported``.

    >>> choose_rendered_media(None)
    'image/jpeg'
    >>> choose_rendered_media(["image/gif", "image/png"])
    'image/gif'
    """
    for rng in _normalise(requested, "rendered"):
        if rng.media_type in supported:
            return rng.media_type
        if rng.media_type.endswith("/*"):
            prefix = "" if rng.media_type == "*/*" else rng.media_type[:-1]
            match = next((s for s in supported if s.startswith(prefix)), None)
            if match is not None:
                return match
    raise NotAcceptableError(f"cannot render as {requested!r}; supported: {list(supported)}")
