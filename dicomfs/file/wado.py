"""WADO-RS for the file store: instances, metadata, frames, bulk data and rendered images.

Every function validates its UIDs (:class:`InvalidQueryError`), looks the instances up in the
index with the hierarchy checked (unknown -> :class:`NotFoundError`, CONFORMANCE E-14), decides
what to produce from ``media_types`` (invalid for the resource -> :class:`BadRequestError`,
impossible -> :class:`NotAcceptableError`) and only then reads files. Iterators are returned
after this validation, so errors come at call time, and each item is read when it is yielded.
See ``docs/wado.md`` for what is served and the choices made.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

from PIL import Image
from pydicom import dcmread
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian

from dicomfs import media
from dicomfs._types import DicomJSON, MediaTypes, RenderParams
from dicomfs.dicomjson import (
    BULK_VRS,
    bulk_value_bytes,
    dataset_to_json,
    iter_bulk_elements,
    resolve_tag_path,
)
from dicomfs.errors import (
    BadRequestError,
    CorruptFileError,
    InvalidQueryError,
    NotAcceptableError,
    NotFoundError,
)
from dicomfs.file.context import StoreContext
from dicomfs.index.records import StoredInstance
from dicomfs.pixels import frames as fr
from dicomfs.pixels.decode import (
    LOSSLESS_COMPRESSED,
    can_decode,
    decode_frame,
    decoding_options,
    native_bytes,
)
from dicomfs.pixels.render import RenderOptions, encode, parse_params, render
from dicomfs.pixels.transcode import can_produce, transcode
from dicomfs.storage import atomic
from dicomfs.storage.layout import is_valid_uid
from dicomfs.storage.safefile import FileChangedError, expected_of, open_stored, stored_path

__all__ = ["check_level", "iter_bulkdata", "iter_frames", "iter_instances", "metadata",
           "rendered", "series_rendered"]

_SWAP_UNIT = {"OW": 2, "OF": 4, "OL": 4, "OD": 8, "OV": 8}
_SEQ_DELIMITER = b"\xfe\xff\xdd\xe0"


# ---- lookup and reading --------------------------------------------------------------------
def _uid(value: object, name: str) -> str:
    if not is_valid_uid(value):
        raise InvalidQueryError(f"invalid {name}: {value!r}")
    assert isinstance(value, str)
    return value


#: What each level of resource needs: (series UID required, SOP Instance UID required).
_LEVELS = {"study": (False, False), "series": (True, False), "instance": (True, True)}


def check_level(level: str | None, series: object, sop: object) -> None:
    """Check that the UIDs given fit the level of the resource asked for.

    ``level=None`` infers the level from the UIDs given (None = not given). Otherwise a UID the
    level needs must be given: ``retrieve_instance(study, series, None)`` must not quietly
    become a series retrieve (nor ``delete_series(study, None)`` a study delete).

    Raises
    ------
    InvalidQueryError
        A UID the level needs is missing, or one it does not take is given.
    """
    if level is None:
        return
    if level not in _LEVELS:
        raise InvalidQueryError(f"unknown resource level {level!r}")
    needs_series, needs_sop = _LEVELS[level]
    for value, needed, name in (
        (series, needs_series, "Series Instance UID"),
        (sop, needs_sop, "SOP Instance UID"),
    ):
        if needed and value is None:
            raise InvalidQueryError(f"invalid {name}: None (the {level} level needs it)")
        if not needed and value is not None:
            raise InvalidQueryError(f"a {level} is addressed without a {name}")


def _expected(inst: StoredInstance) -> tuple[int, int] | None:
    """The indexed (size, mtime_ns): a file rewritten since is not served (CorruptFileError)."""
    return expected_of(inst.file_size, inst.file_mtime_ns)


T = TypeVar("T")

#: How many times a read follows an instance whose file and index row keep changing under it.
_CHANGED_RETRIES = 5


def _current(ctx: StoreContext, inst: StoredInstance, work: Callable[[StoredInstance], T]) -> T:
    """Run ``work`` on the instance; if its file changed since its row was read, wait for any
    writer's commit, read the row again and retry.

    Another process's STOW may replace the file between our index read and our open (it renames
    the new file into place just before its index commit, under the store's writer lock): the
    fresh row then describes the new file. A file that disagrees with an index row that did not
    move was changed behind the store's back: FileChangedError (a CorruptFileError) at once.
    """
    for _ in range(_CHANGED_RETRIES):
        try:
            return work(inst)
        except FileChangedError:
            atomic.wait_for_writers(ctx.root)
            fresh = ctx.repo.instance(
                inst.study_instance_uid, inst.series_instance_uid, inst.sop_instance_uid
            )
            if (fresh.path, fresh.file_size, fresh.file_mtime_ns) == (
                inst.path, inst.file_size, inst.file_mtime_ns
            ):
                return work(fresh)  # the index did not move: raises FileChangedError again
            inst = fresh
    return work(inst)


def _find(
    ctx: StoreContext,
    study: object,
    series: object = None,
    sop: object = None,
    level: str | None = None,
) -> list[StoredInstance]:
    """Instances of a study/series/instance, hierarchy checked; NotFoundError when none."""
    check_level(level, series, sop)
    if sop is not None and series is None:
        raise InvalidQueryError("an instance is addressed by its study and series")
    study_uid = _uid(study, "Study Instance UID")
    series_uid = None if series is None else _uid(series, "Series Instance UID")
    sop_uid = None if sop is None else _uid(sop, "SOP Instance UID")
    if sop_uid is not None and series_uid is not None:
        return [ctx.repo.instance(study_uid, series_uid, sop_uid)]  # the hot path: one lookup
    found = ctx.repo.instances(study_uid, series_uid, sop_uid)
    if not found:
        what = (
            f"instance {sop_uid} of series {series_uid} of study {study_uid}" if sop_uid
            else f"series {series_uid} of study {study_uid}" if series_uid
            else f"study {study_uid}"
        )
        raise NotFoundError(f"{what} not found")
    return found


def _read(ctx: StoreContext, inst: StoredInstance, *, header_only: bool = False) -> Dataset:
    """Read an instance's file (File Meta completed from the index when the file has none)."""
    return _current(ctx, inst, lambda current: _read_once(ctx, current, header_only=header_only))


def _read_once(ctx: StoreContext, inst: StoredInstance, *, header_only: bool) -> Dataset:
    try:
        with open_stored(ctx.root, inst.path, _expected(inst)) as fh:
            ds = dcmread(fh, stop_before_pixels=header_only, force=True)
    except (OSError, InvalidDicomError, ValueError, EOFError) as exc:
        raise CorruptFileError(f"{inst.path}: cannot be read: {exc}") from exc
    _check_identity(ds, inst)
    _complete_file_meta(ds, inst)
    if not header_only and not fr.is_encapsulated(inst) and inst.pixel_data_tag is not None:
        elem = ds.get_item(inst.pixel_data_tag)
        got = None if elem is None or elem.value is None else len(elem.value)
        if inst.pixel_data_length is not None and got != inst.pixel_data_length:
            raise CorruptFileError(
                f"{inst.path}: the pixel data is {got} bytes, the index recorded "
                f"{inst.pixel_data_length} (file truncated or changed since it was indexed)"
            )
    return ds


def _check_identity(ds: Dataset, inst: StoredInstance) -> None:
    """The file must still hold the instance the index recorded (else it was overwritten)."""
    sop = ds.get("SOPInstanceUID")
    if sop is None or str(sop).rstrip("\0 ") != inst.sop_instance_uid:
        raise CorruptFileError(
            f"{inst.path}: no longer holds instance {inst.sop_instance_uid} (changed since it "
            "was indexed; sync the store)"
        )


def _complete_file_meta(ds: Dataset, inst: StoredInstance) -> None:
    meta = getattr(ds, "file_meta", None) or FileMetaDataset()
    if not meta.get("TransferSyntaxUID"):
        meta.TransferSyntaxUID = inst.transfer_syntax_uid
    if "MediaStorageSOPInstanceUID" not in meta:
        meta.MediaStorageSOPInstanceUID = inst.sop_instance_uid
    if "MediaStorageSOPClassUID" not in meta and inst.sop_class_uid:
        meta.MediaStorageSOPClassUID = inst.sop_class_uid
    ds.file_meta = meta


def _instance_url(ctx: StoreContext, inst: StoredInstance) -> str:
    return (
        f"{ctx.base_url}/studies/{inst.study_instance_uid}/series/{inst.series_instance_uid}"
        f"/instances/{inst.sop_instance_uid}"
    )


# ---- instances -----------------------------------------------------------------------------
def iter_instances(
    ctx: StoreContext,
    study: str,
    series: str | None,
    sop: str | None,
    media_types: MediaTypes | None,
    *,
    level: str | None = None,
) -> Iterator[Dataset]:
    """Yield the instances of a study, series or one instance, one at a time (E-02..E-07).

    ``media_types=None`` gives Explicit VR Little Endian; ``("application/dicom", "*")`` the
    stored syntax (Implicit VR LE and Explicit VR BE become Explicit VR LE, E-06).

    Raises
    ------
    InvalidQueryError
        A malformed UID, or a UID missing for ``level`` (see :func:`check_level`).
    BadRequestError
        A media type other than application/dicom.
    NotFoundError
        Nothing matches (hierarchy checked, E-14).
    NotAcceptableError
        An instance cannot be produced in any acceptable transfer syntax (checked for every
        instance before the first is yielded).
    """
    found = _find(ctx, study, series, sop, level)
    plans = [
        (inst, media.choose_instance_syntax(media_types, inst.transfer_syntax_uid, can_produce))
        for inst in found
    ]
    return _yield_instances(ctx, plans)


def _yield_instances(
    ctx: StoreContext, plans: list[tuple[StoredInstance, str]]
) -> Iterator[Dataset]:
    for inst, target in plans:
        yield transcode(_read(ctx, inst), target)


# ---- metadata ------------------------------------------------------------------------------
def _pixel_vr(inst: StoredInstance, fh_vr: str | None) -> str:
    if fh_vr in ("OB", "OW", "OF", "OD"):
        return fh_vr
    if fr.is_encapsulated(inst) and inst.transfer_syntax_uid != DeflatedExplicitVRLittleEndian:
        return "OB"
    return {0x7FE00008: "OF", 0x7FE00009: "OD"}.get(
        inst.pixel_data_tag or 0, "OW" if (inst.bits_allocated or 16) > 8 else "OB"
    )


def _instance_metadata(ctx: StoreContext, inst: StoredInstance) -> DicomJSON:
    return _current(ctx, inst, lambda current: _instance_metadata_once(ctx, current))


def _instance_metadata_once(ctx: StoreContext, inst: StoredInstance) -> DicomJSON:
    explicit = inst.transfer_syntax_uid not in ("1.2.840.10008.1.2", DeflatedExplicitVRLittleEndian)
    try:
        with open_stored(ctx.root, inst.path, _expected(inst)) as fh:
            ds = dcmread(fh, stop_before_pixels=True, force=True)
            vr = None
            if explicit and inst.pixel_data_offset is not None and inst.pixel_data_offset >= 8:
                fh.seek(inst.pixel_data_offset - 8)
                vr = fh.read(2).decode("ascii", "replace")
    except (OSError, InvalidDicomError, ValueError, EOFError) as exc:
        raise CorruptFileError(f"{inst.path}: cannot be read: {exc}") from exc
    _check_identity(ds, inst)
    base = f"{_instance_url(ctx, inst)}/bulk/"
    obj = dataset_to_json(ds, bulk_uri=lambda tag_path: base + tag_path)
    if inst.pixel_data_tag is not None:
        key = f"{inst.pixel_data_tag:08X}"
        obj[key] = {"vr": _pixel_vr(inst, vr), "BulkDataURI": base + key}
        obj = dict(sorted(obj.items()))
    return obj


def metadata(
    ctx: StoreContext,
    study: str,
    series: str | None,
    sop: str | None,
    *,
    level: str | None = None,
) -> list[DicomJSON]:
    """DICOM JSON of every matching instance (G-01..G-06): the file header is read (no pixel
    data), group 0002 is left out and binary values over 1024 bytes and the pixel data are
    BulkDataURIs ``{base_url}/studies/{s}/series/{se}/instances/{i}/bulk/{tag path}``.
    ``level`` as :func:`iter_instances`.
    """
    return [_instance_metadata(ctx, inst) for inst in _find(ctx, study, series, sop, level)]


# ---- frames --------------------------------------------------------------------------------
def _pixel_instance(ctx: StoreContext, study: str, series: str, sop: str) -> StoredInstance:
    inst = _find(ctx, study, series, sop, "instance")[0]
    if not fr.has_pixel_data(inst):
        raise NotFoundError(f"instance {inst.sop_instance_uid} has no pixel data (no frames)")
    return inst


def _check_range(inst: StoredInstance, numbers: Sequence[int]) -> None:
    count = fr.frame_count(inst)
    beyond = [n for n in numbers if n > count]
    if beyond:
        raise NotFoundError(f"frame {beyond[0]} does not exist (the instance has {count})")


def _stored_frames(
    ctx: StoreContext, inst: StoredInstance, numbers: Sequence[int], ds: Dataset | None = None
) -> Iterator[bytes]:
    """Frames as stored (native frames little-endian), by offsets or from the parsed file."""
    if fr.uses_offsets(inst):
        return _current(
            ctx, inst,
            lambda current: fr.read_frames(
                stored_path(ctx.root, current.path, _expected(current)), current, numbers
            ),
        )
    return fr.frames_from_dataset(ds if ds is not None else _read(ctx, inst), numbers)


def _keyword(inst: StoredInstance) -> str:
    return fr.PIXEL_KEYWORDS.get(inst.pixel_data_tag or 0x7FE00010, "PixelData")


def iter_frames(
    ctx: StoreContext,
    study: str,
    series: str,
    sop: str,
    frame_numbers: Sequence[int],
    media_types: MediaTypes | None,
) -> Iterator[bytes]:
    """Yield frames in the requested order, duplicates kept (F-01..F-09).

    ``application/octet-stream`` (default): native little-endian bytes, decoded frame by frame
    when stored lossless-compressed; the stored codestream's media type (or ``*``): the frame as
    stored, fragments joined.

    Raises
    ------
    InvalidQueryError
        An empty list or a frame number that is not a positive integer.
    NotFoundError
        Unknown instance, an instance without pixel data, or a frame past NumberOfFrames.
    NotAcceptableError
        No acceptable media type can be produced (e.g. octet-stream of lossy data, F-08).
    """
    numbers = fr.check_frame_numbers(frame_numbers)
    inst = _pixel_instance(ctx, study, series, sop)
    _check_range(inst, numbers)
    stored = inst.transfer_syntax_uid
    media_type = media.choose_frame_media(media_types, stored)[0]
    if media_type != "application/octet-stream" or not fr.is_encapsulated(inst):
        return _stored_frames(ctx, inst, numbers)
    if stored not in LOSSLESS_COMPRESSED or not can_decode(stored):
        raise NotAcceptableError(f"frames stored as {stored} cannot be decoded (F-08)")
    return _decoded_frames(ctx, inst, numbers)


def _decoded_frames(
    ctx: StoreContext, inst: StoredInstance, numbers: Sequence[int]
) -> Iterator[bytes]:
    header = _read(ctx, inst, header_only=True)
    options = decoding_options(header, _keyword(inst))
    for frame in _stored_frames(ctx, inst, numbers):
        arr = decode_frame(frame, inst.transfer_syntax_uid, options, raw=True)
        yield native_bytes(arr, options["bits_allocated"])


# ---- rendered ------------------------------------------------------------------------------
def _render_frames(
    ctx: StoreContext, inst: StoredInstance, numbers: Sequence[int], options: RenderOptions
) -> list[Image.Image]:
    if not fr.has_pixel_data(inst):
        raise NotAcceptableError(f"instance {inst.sop_instance_uid} has no pixel data to render")
    _check_range(inst, numbers)
    full = not fr.uses_offsets(inst)
    ds = _read(ctx, inst, header_only=not full)
    decode_opts = decoding_options(ds, _keyword(inst))
    images = []
    frames = _stored_frames(ctx, inst, numbers, ds if full else None)
    for number, frame in zip(numbers, frames, strict=True):
        arr = decode_frame(frame, inst.transfer_syntax_uid, decode_opts, raw=False)
        images.append(render(arr, ds, number - 1, options))
    return images


def rendered(
    ctx: StoreContext,
    study: str,
    series: str,
    sop: str,
    frame_numbers: Sequence[int] | None,
    media_types: MediaTypes | None,
    params: RenderParams | None,
) -> bytes:
    """Render an instance (its first frame, H-18) or the given frames (H-01..H-17).

    One frame number renders that frame; several need ``image/gif`` (an animation in the
    requested order), since a JPEG or PNG holds one image (else NotAcceptableError).
    """
    mtype = media.choose_rendered_media(media_types)
    options = parse_params(params, mtype)
    numbers = [1] if frame_numbers is None else fr.check_frame_numbers(frame_numbers)
    if len(numbers) > 1 and mtype != "image/gif":
        raise NotAcceptableError(f"{mtype} holds one image: ask image/gif for several frames")
    inst = _find(ctx, study, series, sop, "instance")[0]
    return encode(_render_frames(ctx, inst, numbers, options), options)


def series_rendered(
    ctx: StoreContext,
    study: str,
    series: str,
    media_types: MediaTypes | None,
    params: RenderParams | None,
) -> bytes:
    """Render a series: ``image/gif`` an animation of the first frame of every instance with
    pixel data in InstanceNumber order (frames resized to the first one's size); ``image/jpeg``
    (default) or ``image/png`` the first such instance.
    """
    mtype = media.choose_rendered_media(media_types)
    options = parse_params(params, mtype)
    found = [inst for inst in _find(ctx, study, series, None, "series")
             if fr.has_pixel_data(inst)]
    if not found:
        raise NotAcceptableError(f"series {series} has no instance with pixel data to render")
    found.sort(key=lambda i: (i.instance_number is None, i.instance_number or 0))
    if mtype != "image/gif":
        return encode(_render_frames(ctx, found[0], [1], options), options)
    images: list[Image.Image] = []
    for inst in found:
        image = _render_frames(ctx, inst, [1], options)[0]
        if images and image.size != images[0].size:
            image = image.resize(images[0].size, Image.Resampling.BILINEAR)
        images.append(image)
    return encode(images, options)


# ---- bulk data -----------------------------------------------------------------------------

def _parse_bulk_url(ctx: StoreContext, url: object) -> tuple[list[str], str | None]:
    """Split a bulk data URL into its UIDs and tag path (None for a whole-level resource)."""
    if not isinstance(url, str):
        raise BadRequestError(f"not a bulk data URL of this store ({ctx.base_url}): {url!r}")
    # The URL as the metadata gives it (percent-encoded), or with the root written as it is.
    for base in (ctx.base_url, "file://" + ctx.root.as_posix()):
        if url.startswith(base + "/studies/"):
            break
    else:
        raise BadRequestError(f"not a bulk data URL of this store ({ctx.base_url}): {url!r}")
    parts = url[len(base) + 1 :].split("/")
    if parts[-1] == "bulkdata":
        parts = parts[:-1]
    uids: list[str] = []
    for i, name in enumerate(("studies", "series", "instances")):
        if len(parts) <= 2 * i:
            break
        if parts[2 * i] != name or len(parts) < 2 * i + 2:
            raise BadRequestError(f"malformed bulk data URL: {url!r}")
        uids.append(_uid(parts[2 * i + 1], name))
    rest = parts[2 * len(uids) :]
    if not rest:
        return uids, None
    if len(uids) != 3 or rest[0] != "bulk" or len(rest) < 2:
        raise BadRequestError(f"malformed bulk data URL: {url!r}")
    return uids, "/".join(rest[1:])


def _check_byte_range(byte_range: object) -> tuple[int, int] | None:
    if byte_range is None:
        return None
    if (
        not isinstance(byte_range, tuple)
        or len(byte_range) != 2
        or not all(isinstance(b, int) and not isinstance(b, bool) for b in byte_range)
        or byte_range[0] < 0
        or byte_range[1] < byte_range[0]
    ):
        raise InvalidQueryError(f"byte_range must be (first, last) with 0 <= first <= last: "
                                f"{byte_range!r}")
    return byte_range[0], byte_range[1]


def _encapsulated_value(ctx: StoreContext, inst: StoredInstance) -> bytes | None:
    """The encapsulated pixel data value (items, no delimiter) by offsets, or None."""
    return _current(ctx, inst, lambda current: _encapsulated_value_once(ctx, current))


def _encapsulated_value_once(ctx: StoreContext, inst: StoredInstance) -> bytes | None:
    if not fr.uses_offsets(inst) or not inst.frame_fragments or inst.pixel_data_offset is None:
        return None
    end = max(offset + length for frame in inst.frame_fragments for offset, length in frame)
    try:
        with open_stored(ctx.root, inst.path, _expected(inst)) as fh:
            fh.seek(inst.pixel_data_offset)
            value = fh.read(end - inst.pixel_data_offset + 4)
    except OSError as exc:
        raise CorruptFileError(f"{inst.path}: cannot be read: {exc}") from exc
    if len(value) != end - inst.pixel_data_offset + 4 or value[-4:] != _SEQ_DELIMITER:
        return None
    return value[:-4]


def _pixel_bulk(ctx: StoreContext, inst: StoredInstance) -> bytes:
    return _current(ctx, inst, lambda current: _pixel_bulk_once(ctx, current))


def _pixel_bulk_once(ctx: StoreContext, inst: StoredInstance) -> bytes:
    if fr.is_encapsulated(inst):
        value = _encapsulated_value(ctx, inst)
    elif fr.uses_offsets(inst):
        assert inst.pixel_data_offset is not None and inst.pixel_data_length is not None
        try:
            with open_stored(ctx.root, inst.path, _expected(inst)) as fh:
                vr = ""
                if inst.transfer_syntax_uid == ExplicitVRBigEndian:
                    fh.seek(inst.pixel_data_offset - 8)
                    vr = fh.read(2).decode("ascii", "replace")
                fh.seek(inst.pixel_data_offset)
                raw = fh.read(inst.pixel_data_length)
        except OSError as exc:
            raise CorruptFileError(f"{inst.path}: cannot be read: {exc}") from exc
        if len(raw) != inst.pixel_data_length:
            raise CorruptFileError(
                f"{inst.path}: expected {inst.pixel_data_length} bytes of pixel data, got "
                f"{len(raw)} (file truncated or changed since it was indexed)"
            )
        value = fr.byteswap(raw, _SWAP_UNIT.get(vr, 1))
    else:
        value = None
    if value is None:
        ds = _read(ctx, inst)
        value = bulk_value_bytes(ds[inst.pixel_data_tag or 0x7FE00010], little_endian=_little(ds))
    return value


def _little(ds: Dataset) -> bool:
    return ds.original_encoding[1] is not False


def _element_bulk(ctx: StoreContext, inst: StoredInstance, tag_path: str) -> bytes:
    ds = _read(ctx, inst, header_only=True)
    elem = resolve_tag_path(ds, tag_path)
    if str(elem.VR) not in BULK_VRS:
        raise NotFoundError(f"{tag_path} is not bulk data (VR {elem.VR})")
    return bulk_value_bytes(elem, little_endian=_little(ds))


def _all_bulk(ctx: StoreContext, insts: list[StoredInstance]) -> Iterator[bytes]:
    for inst in insts:
        ds = _read(ctx, inst, header_only=True)
        for _, elem in iter_bulk_elements(ds):
            yield bulk_value_bytes(elem, little_endian=_little(ds))
        if fr.has_pixel_data(inst):
            yield _pixel_bulk(ctx, inst)


def iter_bulkdata(
    ctx: StoreContext,
    url: str,
    media_types: MediaTypes | None,
    byte_range: tuple[int, int] | None,
) -> Iterator[bytes]:
    """Yield the bulk data at a BulkDataURI: the element's value bytes, little-endian (F-10).

    A study, series or instance URL (optionally ending ``/bulkdata``) yields every bulk value of
    its instances, in metadata order (F-13). ``byte_range=(first, last)`` is inclusive (F-12)
    and only applies to one BulkDataURI.

    ``media_types``: the value bytes are ``application/octet-stream`` (also under ``*/*`` and
    ``application/*``). Asking only for compressed types (``image/jp2``...) for the pixel data
    of a compressed instance yields each frame's codestream as stored, one item per frame, as
    the frames resource does (F-05, F-06); for any other bulk data that is 406.

    Raises
    ------
    BadRequestError
        A URL of another store or a malformed URL or tag path (InvalidQueryError: bad UID or
        byte range).
    NotFoundError
        Unknown instance or element.
    NotAcceptableError
        Only types other than octet-stream asked, and the data is not compressed pixel data of
        such a type.
    """
    octet = True
    if media_types is not None:
        ranges = media.parse_media_types(media_types, "bulkdata")
        octet = any(r.q > 0 and r.media_type in media.OCTET_RANGES for r in ranges)
    rng = _check_byte_range(byte_range)
    uids, tag_path = _parse_bulk_url(ctx, url)
    if tag_path is None:
        if rng is not None:
            raise InvalidQueryError("byte_range applies to one BulkDataURI only")
        if not octet:
            raise NotAcceptableError("the bulk data of a whole study, series or instance is "
                                     "application/octet-stream")
        return _all_bulk(ctx, _find(ctx, *uids))
    inst = _find(ctx, *uids)[0]
    pixels = fr.has_pixel_data(inst) and tag_path.upper() == f"{inst.pixel_data_tag:08X}"
    if not octet:
        # Only compressed types asked: the codestream of each frame, as stored (F-05), when the
        # pixel data is encapsulated in a syntax of that type; anything else is 406.
        if not pixels or not fr.is_encapsulated(inst) or rng is not None:
            raise NotAcceptableError(
                f"this bulk data is application/octet-stream only, not {media_types!r}"
            )
        numbers = list(range(1, fr.frame_count(inst) + 1))
        return iter_frames(ctx, uids[0], uids[1], uids[2], numbers, media_types)
    if pixels:
        value = _pixel_bulk(ctx, inst)
    else:
        value = _element_bulk(ctx, inst, tag_path)
    if rng is not None:
        if rng[0] >= len(value) and value:
            raise InvalidQueryError(f"byte range {rng} starts beyond the {len(value)} bytes")
        value = value[rng[0] : rng[1] + 1]
    return iter([value])
