"""Dataset <-> DICOM JSON (PS3.18 Annex F), shared by both clients.

``dataset_to_json`` works from the raw bytes of elements pydicom has not converted yet (split on
byte 0x5C, decode with the Specific Character Set, parse numbers), which is several times faster
than ``Dataset.to_json_dict`` and gets right what pydicom does not (CONFORMANCE J-01..J-13):
sorted keys, no group lengths, ``null`` for empty values among several, PN objects with only
their non-empty groups, IS/DS as numbers, Pixel Data as BulkDataURI.

Tag paths
---------
A *tag path* names one element of a dataset, nested or not. It is what ``bulk_uri`` receives and
what :func:`resolve_tag_path` resolves; the BulkDataURI ``.../bulk/{tag path}`` ends with it:

* ``"7FE00010"``: the top-level element (7FE0,0010): 8 upper-case hex digits;
* ``"00540016/0/00181072"``: element (0018,1072) in item 0 of the sequence (0054,0016);
* ``"00400275/1/0040A730/0/00420011"``: deeper nesting, alternating tag / item index.

Item indexes are 0-based decimal integers (item 0 is the first item, as in ``ds.Seq[0]``).
:func:`resolve_tag_path` also accepts lower-case hex.

Choices (PS3.18 leaves them open)
---------------------------------
* DS is a JSON number when the number denotes exactly the stored decimal value (``"2.50"`` ->
  ``2.5``, ``"512"`` -> ``512``); otherwise (more digits than a double holds, NaN, not a number
  at all, beyond 2**53 for integers) it stays a string, so no value is lost or rejected.
  IS is an integer when it is one, else the string. SV/UV beyond 2**53 are strings (J-07, J-08).
* Leading and trailing spaces are removed from AE, CS, DS, IS, SH and LO; trailing spaces (and
  NULs) from the other string VRs. A PN value whose component groups are all empty is ``null``.
* Binary VRs (OB OD OF OL OV OW UN): Pixel Data, Float Pixel Data and Double Float Pixel Data
  (at any depth) are always bulk; other values are bulk when longer than ``bulk_threshold``
  bytes. Bulk values become ``BulkDataURI`` when ``bulk_uri`` is given, are left out when
  ``skip_bulk`` is true, else InlineBinary. Empty binary values are ``{"vr": "OB"}``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

from pydicom import config
from pydicom.charset import default_encoding
from pydicom.datadict import dictionary_VR, private_dictionary_VR
from pydicom.dataelem import DataElement, RawDataElement, empty_value_for_VR
from pydicom.dataset import Dataset
from pydicom.filewriter import correct_ambiguous_vr_element
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag

from dicomfs._jsonvalues import (
    ALL_VRS,
    BULK_VRS,
    DEFAULT_CHARSET,
    SIMPLE_VRS,
    Charset,
    charset_for,
    charset_from_encodings,
    charset_terms_from_bytes,
    charset_terms_from_python,
    decode_inline_binary,
    inline_binary,
    little_endian_bytes,
    python_from_json,
    values_from_bytes,
    values_from_python,
)
from dicomfs._types import DicomJSON
from dicomfs.errors import BadRequestError, NotFoundError

__all__ = [
    "BULK_VRS",
    "PIXEL_DATA_TAGS",
    "bulk_value_bytes",
    "dataset_to_json",
    "format_tag_path",
    "iter_bulk_elements",
    "json_to_dataset",
    "load_json_dataset",
    "resolve_tag_path",
]

#: Float Pixel Data, Double Float Pixel Data, Pixel Data: always bulk data (G-05).
PIXEL_DATA_TAGS = frozenset({0x7FE00008, 0x7FE00009, 0x7FE00010})
_UNDEFINED = 0xFFFFFFFF
#: VRs that may carry a BulkDataURI (PS3.18 F.2.6).
_BULK_URI_VRS = BULK_VRS | {"DS", "FL", "FD", "IS", "LT", "SL", "SS", "ST", "SV", "UC", "UL",
                            "US", "UT", "UV"}
_CHARSET_TAG = 0x00080005

#: ``bulk_uri(tag_path) -> uri``
BulkURIFactory = Callable[[str], str]
#: ``handler(tag, vr, uri) -> value`` (pydicom's ``bulk_data_element_handler`` signature)
BulkDataElementHandler = Callable[[str, str, str], Any]

_VR_CACHE: dict[int, str | None] = {}
_PRIVATE_VR_CACHE: dict[tuple[int, str], str] = {}


def _dictionary_vr(tag: int) -> str | None:
    """The dictionary VR of a public tag (None when unknown)."""
    try:
        return _VR_CACHE[tag]
    except KeyError:
        pass
    vr: str | None
    try:
        vr = str(dictionary_VR(tag))
    except KeyError:
        vr = None
    _VR_CACHE[tag] = vr
    return vr


def _private_vr(ds: Dataset, tag: int) -> str:
    """The VR of a private element read in implicit VR: pydicom's rule (PS3.5 6.2.2)."""
    element = tag & 0xFFFF
    if 0x0010 <= element <= 0x00FF:
        return "LO"
    if element < 0x1000:
        return "UN"
    creator_elem = ds._dict.get(BaseTag(tag & 0xFFFF0000 | element >> 8))
    if creator_elem is None:
        return "UN"
    creator = creator_elem.value
    if isinstance(creator, bytes):
        creator = creator.decode("latin_1")
    creator = str(creator).strip(" \x00")
    key = (tag & 0xFFFF00FF, creator)
    try:
        return _PRIVATE_VR_CACHE[key]
    except KeyError:
        pass
    try:
        vr = str(private_dictionary_VR(tag, creator)) if creator else "UN"
    except KeyError:
        vr = "UN"
    _PRIVATE_VR_CACHE[key] = vr
    return vr


def _resolve(ds: Dataset, tag: int, elem: Any) -> tuple[str, Any]:
    """Return ``(vr, element)``, converting through pydicom only when the VR needs it."""
    if isinstance(elem, RawDataElement):
        vr = elem.VR
        if vr is None:  # implicit VR
            vr = _private_vr(ds, tag) if tag >> 16 & 1 else (_dictionary_vr(tag) or "UN")
        elif vr == "UN":  # explicit UN: pydicom may know better (replace_un_with_known_vr)
            elem = ds[tag]
            return str(elem.VR), elem
        if vr == "OB or OW" and tag == 0x7FE00010:
            # PS3.5 A.4: encapsulated is OB; implicit VR native is OW (A.1)
            return ("OB" if elem.length == _UNDEFINED else "OW"), elem
        if vr == "SQ" or " or " in vr:  # ambiguous: pydicom's own rules
            elem = ds[tag]
            return str(elem.VR), elem
        return vr, elem
    vr = str(elem.VR)
    if " or " in vr:
        elem = correct_ambiguous_vr_element(copy.copy(elem), ds, True)
        vr = str(elem.VR)
    return vr, elem


def _charset_of(ds: Dataset, inherited: Charset) -> Charset:
    elem = ds.get_item(_CHARSET_TAG)
    if elem is None:
        return inherited
    if isinstance(elem, RawDataElement):
        return charset_for(charset_terms_from_bytes(elem.value))
    return charset_for(charset_terms_from_python(elem.value))


def _sorted_elements(ds: Dataset) -> list[tuple[int, Any]]:
    """``(tag, element)`` pairs in ascending tag order, elements as stored (raw or not).

    Reads ``Dataset._dict`` (pydicom 3.0) directly: ``get_item`` and ``BaseTag`` comparisons cost
    a third of the conversion time. Deferred elements stay deferred (value None).
    """
    pairs = [(int(tag), elem) for tag, elem in ds._dict.items()]
    prev = -1
    for tag, _ in pairs:
        if tag < prev:
            pairs.sort(key=_first)
            break
        prev = tag
    return pairs


def _first(pair: tuple[int, Any]) -> int:
    return pair[0]


class _Options:
    __slots__ = ("bulk_uri", "little", "skip_bulk", "skip_group_0002", "threshold")

    def __init__(
        self,
        bulk_uri: BulkURIFactory | None,
        threshold: int,
        skip_bulk: bool,
        skip_group_0002: bool,
        little: bool,
    ) -> None:
        self.bulk_uri = bulk_uri
        self.threshold = threshold
        self.skip_bulk = skip_bulk
        self.skip_group_0002 = skip_group_0002
        self.little = little


def _is_bulk(tag: int, length: int, threshold: int) -> bool:
    return length > 0 and (tag in PIXEL_DATA_TAGS or length > threshold)


def _binary_length(elem: Any) -> int:
    if isinstance(elem, RawDataElement):
        if elem.length == _UNDEFINED or elem.value is None:
            return int(elem.length)
        return len(elem.value)
    if elem.is_undefined_length and elem.value:
        return _UNDEFINED
    return len(elem.value) if elem.value is not None else 0


def _encode_binary(
    ds: Dataset, tag: int, vr: str, elem: Any, path: str, opts: _Options
) -> dict[str, Any] | None:
    length = _binary_length(elem)
    if length == 0:
        return {"vr": vr}
    if _is_bulk(tag, length, opts.threshold):
        if opts.skip_bulk:
            return None
        if opts.bulk_uri is not None:
            return {"vr": vr, "BulkDataURI": opts.bulk_uri(path)}
    if isinstance(elem, RawDataElement):
        if elem.value is None:  # deferred read
            elem = ds.get_item(tag)
            if isinstance(elem, DataElement):
                return _encode_binary(ds, tag, vr, elem, path, opts)
        little = bool(elem.is_little_endian)
    else:
        little = opts.little
    value = elem.value
    if not value:
        return {"vr": vr}
    return {"vr": vr, "InlineBinary": inline_binary(vr, bytes(value), little)}


def _encode(ds: Dataset, opts: _Options, charset: Charset, prefix: str) -> DicomJSON:
    charset = _charset_of(ds, charset)
    out: DicomJSON = {}
    for tag, elem in _sorted_elements(ds):
        if not tag & 0xFFFF:  # group length (J-01)
            continue
        group = tag >> 16
        if (group == 2 and opts.skip_group_0002) or group == 0xFFFE:
            continue
        key = f"{tag:08X}"
        if type(elem) is RawDataElement and elem.value is not None:  # fast path
            vr = elem.VR
            if vr is None and not group & 1:
                vr = _VR_CACHE.get(tag) or _dictionary_vr(tag)
            if vr in SIMPLE_VRS:
                values = values_from_bytes(vr, elem.value, charset, elem.is_little_endian)
                out[key] = {"vr": vr, "Value": values} if values else {"vr": vr}
                continue
        vr, elem = _resolve(ds, tag, elem)
        if vr in BULK_VRS:
            attr = _encode_binary(ds, tag, vr, elem, f"{prefix}{key}", opts)
            if attr is not None:
                out[key] = attr
            continue
        if isinstance(elem, RawDataElement):
            if elem.value is None:  # empty, or a deferred read
                values = values_from_python(vr, ds[tag].value, charset) if elem.length else []
            else:
                values = values_from_bytes(vr, elem.value, charset, bool(elem.is_little_endian))
        elif vr == "SQ":
            items = elem.value or ()
            path = f"{prefix}{key}/"
            values = [_encode(item, opts, charset, f"{path}{i}/") for i, item in enumerate(items)]
        else:
            values = values_from_python(vr, elem.value, charset)
        out[key] = {"vr": vr, "Value": values} if values else {"vr": vr}
    return out


def dataset_to_json(
    ds: Dataset,
    *,
    bulk_uri: BulkURIFactory | None = None,
    bulk_threshold: int = 1024,
    exclude_group_0002: bool = True,
    skip_bulk: bool = False,
    character_set: str | list[str] | tuple[str, ...] | None = None,
) -> DicomJSON:
    """Convert a dataset to a DICOM JSON object (PS3.18 Annex F).

    Parameters
    ----------
    ds: pydicom.dataset.Dataset
        The dataset (as read by ``dcmread``, with or without pixel data, or built in memory).
    bulk_uri: Callable[[str], str], optional
        Called with the tag path (see the module docstring) of every bulk element; its result is
        the element's ``BulkDataURI``. Without it, bulk elements are InlineBinary.
    bulk_threshold: int, optional
        Binary values longer than this many bytes are bulk (Pixel Data always is).
    exclude_group_0002: bool, optional
        Leave out group 0002 (G-02). When False, the elements of ``ds.file_meta`` are
        included too.
    skip_bulk: bool, optional
        Leave bulk elements out entirely (for the index); takes precedence over ``bulk_uri``.
    character_set: str or list of str, optional
        The Specific Character Set (0008,0005) in force where ``ds`` is, when ``ds`` has none
        of its own: that of its parent for a sequence item (J-10). By default, a sequence item
        read from a file uses the character set of the dataset it was read in (pydicom records
        it), and any other dataset the default repertoire.

    Returns
    -------
    dict
        Keys are 8-digit upper-case hex tags in ascending order.

    Examples
    --------
    >>> from pydicom.dataset import Dataset
    >>> ds = Dataset()
    >>> ds.PatientName = "=Yamada^Tarou"
    >>> ds.ImageType = ["ORIGINAL", "", "AXIAL"]
    >>> dataset_to_json(ds)
    {'00080008': {'vr': 'CS', 'Value': ['ORIGINAL', None, 'AXIAL']}, \
'00100010': {'vr': 'PN', 'Value': [{'Ideographic': 'Yamada^Tarou'}]}}
    """
    if not isinstance(ds, Dataset):
        raise TypeError(f"expected a pydicom Dataset, got {type(ds).__name__}")
    if isinstance(bulk_threshold, bool) or not isinstance(bulk_threshold, int) or (
        bulk_threshold < 0
    ):
        raise ValueError(f"bulk_threshold must be a non-negative int, got {bulk_threshold!r}")
    if bulk_uri is not None and not callable(bulk_uri):
        raise TypeError("bulk_uri must be callable")
    little = ds.original_encoding[1]
    opts = _Options(bulk_uri, bulk_threshold, skip_bulk, exclude_group_0002, little is not False)
    out = _encode(ds, opts, _inherited_charset(ds, character_set), "")
    meta = getattr(ds, "file_meta", None)
    if not exclude_group_0002 and meta:
        out.update(_encode(meta, opts, DEFAULT_CHARSET, ""))
        out = dict(sorted(out.items()))
    return out


def _inherited_charset(ds: Dataset, character_set: object) -> Charset:
    """The character set in force around ``ds`` (before its own (0008,0005), if any)."""
    if character_set is not None:
        if isinstance(character_set, str):
            return charset_for((character_set,))
        if isinstance(character_set, (list, tuple)) and all(
            isinstance(t, str) for t in character_set
        ):
            return charset_for(tuple(character_set))
        raise TypeError(f"character_set must be a str or a list of str: {character_set!r}")
    parent = getattr(ds, "_parent_encoding", None)  # set by pydicom's reader on sequence items
    if isinstance(parent, str) and parent != default_encoding:
        return charset_from_encodings((parent,))
    if isinstance(parent, (list, tuple)) and parent and all(isinstance(e, str) for e in parent):
        return charset_from_encodings(tuple(parent))
    return DEFAULT_CHARSET


# ---- tag paths -----------------------------------------------------------------------------
def format_tag_path(*parts: int) -> str:
    """Format a tag path: tags and 0-based item indexes alternate.

    >>> format_tag_path(0x00540016, 0, 0x00181072)
    '00540016/0/00181072'
    """
    if len(parts) % 2 == 0:
        raise ValueError("a tag path alternates tag, item index, tag, ... and ends with a tag")
    out = []
    for i, part in enumerate(parts):
        if isinstance(part, bool) or not isinstance(part, int) or part < 0:
            raise ValueError(f"invalid tag path component {part!r}")
        if i % 2 == 0:
            if part > 0xFFFFFFFF:
                raise ValueError(f"invalid tag {part!r}")
            out.append(f"{part:08X}")
        else:
            out.append(str(part))
    return "/".join(out)


def _parse_tag(text: str, path: str) -> int:
    if len(text) != 8 or not all(c in "0123456789abcdefABCDEF" for c in text):
        raise BadRequestError(f"invalid tag path {path!r}: {text!r} is not 8 hex digits")
    return int(text, 16)


def resolve_tag_path(ds: Dataset, path: str) -> DataElement:
    """Return the element a tag path names (see the module docstring).

    Raises
    ------
    dicomfs.errors.BadRequestError
        (a ``ValueError``) when ``path`` is malformed.
    dicomfs.errors.NotFoundError
        (a ``LookupError``) when the element or item does not exist.

    Examples
    --------
    >>> from pydicom.dataset import Dataset
    >>> item = Dataset(); item.CodeValue = "T-D3000"
    >>> ds = Dataset(); ds.AnatomicRegionSequence = [item]
    >>> resolve_tag_path(ds, "00082218/0/00080100").value
    'T-D3000'
    """
    if not isinstance(path, str) or not path:
        raise BadRequestError(f"invalid tag path {path!r}")
    parts = path.split("/")
    if len(parts) % 2 == 0:
        raise BadRequestError(f"invalid tag path {path!r}: it must end with a tag")
    current = ds
    for i in range(0, len(parts), 2):
        tag = _parse_tag(parts[i], path)
        if tag not in current:
            raise NotFoundError(f"no element {parts[i].upper()} for tag path {path!r}")
        elem = current[tag]
        if i + 1 == len(parts):
            return elem
        index_text = parts[i + 1]
        if not index_text.isdigit() or not index_text.isascii():
            raise BadRequestError(f"invalid tag path {path!r}: bad item index {index_text!r}")
        if elem.VR != "SQ":
            raise NotFoundError(f"element {parts[i].upper()} of tag path {path!r} is no sequence")
        index = int(index_text)
        if index >= len(elem.value):
            raise NotFoundError(f"no item {index} in {parts[i].upper()} for tag path {path!r}")
        current = elem.value[index]
    raise AssertionError("unreachable")  # pragma: no cover


def iter_bulk_elements(
    ds: Dataset, *, bulk_threshold: int = 1024
) -> Iterator[tuple[str, DataElement]]:
    """Yield ``(tag_path, element)`` for every element ``dataset_to_json`` makes a BulkDataURI.

    The same ``bulk_threshold`` gives the same paths, in the same (ascending, depth-first) order,
    so study/series/instance bulkdata resources can list exactly what the metadata references.
    """
    yield from _iter_bulk(ds, bulk_threshold, "")


def _iter_bulk(ds: Dataset, threshold: int, prefix: str) -> Iterator[tuple[str, DataElement]]:
    for tag, stored in _sorted_elements(ds):
        if not tag & 0xFFFF or tag >> 16 in (2, 0xFFFE):
            continue
        vr, elem = _resolve(ds, tag, stored)
        key = f"{tag:08X}"
        if vr in BULK_VRS:
            if _is_bulk(tag, _binary_length(elem), threshold):
                yield f"{prefix}{key}", ds[tag]
        elif vr == "SQ":
            for i, item in enumerate(ds[tag].value or ()):
                yield from _iter_bulk(item, threshold, f"{prefix}{key}/{i}/")


def bulk_value_bytes(elem: DataElement, *, little_endian: bool = True) -> bytes:
    """The value of a binary element in little-endian byte order (F-10, J-09).

    ``little_endian`` is the byte order of the dataset the element was read from
    (``ds.original_encoding[1]``); OW/OF/OL/OD/OV values of a big-endian source are swapped.
    """
    value = elem.value
    if value is None:
        return b""
    return little_endian_bytes(str(elem.VR), bytes(value), little_endian)


# ---- JSON -> Dataset -----------------------------------------------------------------------
def _bad(key: str, message: str) -> BadRequestError:
    return BadRequestError(f"DICOM JSON attribute {key}: {message}")


def _tag_of(key: Any) -> int:
    if not isinstance(key, str) or len(key) != 8:
        raise BadRequestError(f"DICOM JSON key {key!r} is not 8 hex digits")
    try:
        return int(key, 16)
    except ValueError as exc:
        raise BadRequestError(f"DICOM JSON key {key!r} is not 8 hex digits") from exc


def _element_from_json(
    key: str, attr: Any, handler: BulkDataElementHandler | None
) -> DataElement:
    tag = _tag_of(key)
    if not isinstance(attr, dict):
        raise _bad(key, "is not an object")
    vr = attr.get("vr")
    if vr is None:
        vr = None if tag >> 16 & 1 else _dictionary_vr(tag)
        if vr is None or " or " in vr:
            raise _bad(key, "has no vr")
    if vr not in ALL_VRS:
        raise _bad(key, f"unknown vr {vr!r}")
    kinds = [k for k in ("Value", "InlineBinary", "BulkDataURI") if k in attr]
    if len(kinds) > 1:
        raise _bad(key, f"has more than one of {kinds} (G-03)")
    value: Any = None
    if kinds == ["Value"]:
        values = attr["Value"]
        if not isinstance(values, list):
            raise _bad(key, "Value is not an array")
        if vr == "SQ":
            items = []
            for item in values:
                if item is not None and not isinstance(item, dict):
                    raise _bad(key, "sequence item is not an object")
                items.append(_dataset_from_json(item or {}, handler))
            value = Sequence(items)
        elif vr in BULK_VRS:
            if values:
                raise _bad(key, f"a {vr} value must be InlineBinary or BulkDataURI (G-03)")
        else:
            value = python_from_json(vr, values, key)
    elif kinds == ["InlineBinary"]:
        if vr not in BULK_VRS:
            raise _bad(key, f"InlineBinary is not allowed for vr {vr}")
        value = decode_inline_binary(attr["InlineBinary"], key)
    elif kinds == ["BulkDataURI"]:
        uri = attr["BulkDataURI"]
        if not isinstance(uri, str):
            raise _bad(key, "BulkDataURI is not a string")
        if vr not in _BULK_URI_VRS:
            raise _bad(key, f"BulkDataURI is not allowed for vr {vr} (F.2.6)")
        value = handler(key, vr, uri) if handler is not None else None
    if value is None:
        value = Sequence() if vr == "SQ" else empty_value_for_VR(vr)
    return DataElement(tag, vr, value, validation_mode=config.IGNORE)


def _dataset_from_json(obj: dict[str, Any], handler: BulkDataElementHandler | None) -> Dataset:
    ds = Dataset()
    for key, attr in obj.items():
        ds.add(_element_from_json(key, attr, handler))
    return ds


def json_to_dataset(
    obj: DicomJSON, *, bulk_data_element_handler: BulkDataElementHandler | None = None
) -> Dataset:
    """Convert a DICOM JSON object to a dataset.

    Parameters
    ----------
    obj: dict
        One DICOM JSON object (a search result, an instance's metadata, a STOW JSON item).
    bulk_data_element_handler: Callable[[str, str, str], Any], optional
        Called as ``handler(tag, vr, uri)`` for each ``BulkDataURI``; its result becomes the
        element's value. Without it such elements are kept with an empty value.

    Returns
    -------
    pydicom.dataset.Dataset
        Values are what pydicom would read from a file; writing it restores the padding of
        odd-length values (J-13). IS/DS may arrive as numbers or strings, InlineBinary as a
        string or a list of strings (J-09), PN as objects (J-06), AT as 8 hex digits.

    Raises
    ------
    dicomfs.errors.BadRequestError
        (a ``ValueError``) when ``obj`` is not valid DICOM JSON.

    Examples
    --------
    >>> ds = json_to_dataset({"00100010": {"vr": "PN", "Value": [{"Alphabetic": "Doe^J"}]},
    ...                       "00281050": {"vr": "DS", "Value": [40, "-0.5"]}})
    >>> str(ds.PatientName), list(ds.WindowCenter)
    ('Doe^J', ['40', '-0.5'])
    """
    if not isinstance(obj, dict):
        raise BadRequestError(f"a DICOM JSON object must be a dict, got {type(obj).__name__}")
    if bulk_data_element_handler is not None and not callable(bulk_data_element_handler):
        raise TypeError("bulk_data_element_handler must be callable")
    return _dataset_from_json(obj, bulk_data_element_handler)


def load_json_dataset(
    dataset: DicomJSON, *, bulk_data_element_handler: BulkDataElementHandler | None = None
) -> Dataset:
    """Convert a DICOM JSON object to a pydicom Dataset (same as :func:`json_to_dataset`).

    This is the public ``dicomfs.load_json_dataset``, the counterpart of
    ``dicomweb_client.api.load_json_dataset``.
    """
    return json_to_dataset(dataset, bulk_data_element_handler=bulk_data_element_handler)
