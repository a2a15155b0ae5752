"""Value conversion for DICOM JSON (PS3.18 Annex F): private helpers of :mod:`dicomfs.dicomjson`.

Two directions:

* ``*_from_bytes`` / ``*_from_python``: a stored value (raw bytes of a not yet converted element,
  or the Python value of a pydicom ``DataElement``) to the list of JSON values of ``"Value"``.
  An empty list means "no Value" (J-03); ``None`` inside the list is an empty value (J-04).
* ``python_from_json``: the JSON ``"Value"`` list back to a value pydicom accepts.

Character sets (J-10, J-11): multi-valued strings are split on byte 0x5C *before* decoding, so a
0x5C that is a YEN SIGN (JIS X 0201) still separates values; the split skips the bytes of
two-byte characters (JIS X 0208/0212 in ISO 2022 G0, GBK/GB18030), which may contain 0x5C, 0x3D
or 0x5E. Each value is then decoded with pydicom's ``decode_bytes``.
"""

from __future__ import annotations

import base64
import math
import re
import struct
import sys
from array import array
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from pydicom.charset import convert_encodings, decode_bytes
from pydicom.valuerep import PersonName, format_number_as_ds

from dicomfs.errors import BadRequestError

__all__: list[str] = []  # private module

#: Binary VRs: never ``Value``; InlineBinary or BulkDataURI (G-03).
BULK_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})
#: Bytes per unit of binary VRs that are byte-swapped when the source is big endian.
SWAP_SIZE = {"OW": 2, "OF": 4, "OL": 4, "OD": 8, "OV": 8}
#: Fixed-size numeric VRs -> struct code (J-08).
NUMBER_CODES = {"US": "H", "SS": "h", "UL": "I", "SL": "i", "FL": "f", "FD": "d", "SV": "q",
                "UV": "Q"}
#: Strings in the default repertoire, multi-valued.
ASCII_MULTI_VRS = frozenset({"AE", "AS", "CS", "DA", "DT", "TM", "UI", "DS", "IS"})
#: Strings in the dataset's character set, multi-valued (split on 0x5C, J-11).
CHARSET_MULTI_VRS = frozenset({"SH", "LO", "UC"})
#: Single-valued text (no split; backslash is a character).
TEXT_VRS = frozenset({"LT", "ST", "UT"})
STRING_VRS = ASCII_MULTI_VRS | CHARSET_MULTI_VRS | TEXT_VRS | {"UR", "PN"}
ALL_VRS = STRING_VRS | BULK_VRS | set(NUMBER_CODES) | {"AT", "SQ"}
#: VRs whose raw bytes ``values_from_bytes`` converts directly.
SIMPLE_VRS = STRING_VRS | set(NUMBER_CODES) | {"AT"}
#: Leading spaces are insignificant too (PS3.5 Table 6.2-1).
_STRIP_BOTH = frozenset({"AE", "CS", "DS", "IS", "SH", "LO"})

_TEXT_DELIMS = {0x0D, 0x0A, 0x09, 0x0C}
_PN_DELIMS = {0x5E, 0x3D} | _TEXT_DELIMS
_MAX_SAFE_INT = 2**53
_DS_RE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\Z")
_IS_RE = re.compile(r"[+-]?\d+\Z")
_PN_KEYS = ("Alphabetic", "Ideographic", "Phonetic")
_HOST_LITTLE = sys.byteorder == "little"


# ---- character sets ------------------------------------------------------------------------
class Charset:
    """Python encodings of a Specific Character Set and how to split its byte strings."""

    __slots__ = ("encodings", "split_mode")

    def __init__(self, encodings: list[str], split_mode: str) -> None:
        self.encodings = encodings
        #: "plain": 0x5C/0x3D are always delimiters; "iso2022": skip two-byte G0 runs;
        #: "gb": skip the trail bytes of GBK / GB18030 characters.
        self.split_mode = split_mode


@lru_cache(maxsize=64)
def charset_for(terms: tuple[str, ...]) -> Charset:
    """Return the :class:`Charset` of the (0008,0005) values ``terms`` (``()`` = default)."""
    encodings = convert_encodings(list(terms)) if terms else convert_encodings(None)
    return charset_from_encodings(tuple(encodings))


@lru_cache(maxsize=64)
def charset_from_encodings(encodings: tuple[str, ...]) -> Charset:
    """Return the :class:`Charset` of Python codec names (as pydicom's ``_parent_encoding``)."""
    if any(e in ("GB18030", "GBK") for e in encodings):
        mode = "gb"
    elif any(e in ("iso2022_jp", "iso2022_jp_2") for e in encodings):
        mode = "iso2022"
    else:
        mode = "plain"
    return Charset(list(encodings), mode)


DEFAULT_CHARSET = charset_for(())


def charset_terms_from_bytes(raw: bytes | None) -> tuple[str, ...]:
    """Parse a raw (0008,0005) value into its terms (empty terms kept, J-10)."""
    if not raw:
        return ()
    return tuple(v.strip(" \x00") for v in raw.decode("latin_1").split("\\"))


def charset_terms_from_python(value: Any) -> tuple[str, ...]:
    """(0008,0005) terms from a converted element value (str or MultiValue)."""
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        return (value.strip(),)
    return tuple(str(v).strip() for v in value)


def _split_iso2022(raw: bytes, sep: int) -> list[bytes]:
    """Split on ``sep`` outside two-byte G0 runs (ESC $ B, ESC $ @, ESC $ ( D)."""
    parts: list[bytes] = []
    start = i = 0
    n = len(raw)
    two_byte = False
    while i < n:
        b = raw[i]
        if b == 0x1B:
            if raw.startswith((b"\x1b$B", b"\x1b$@"), i):
                two_byte, i = True, i + 3
            elif raw.startswith(b"\x1b$(", i):
                two_byte, i = True, i + 4
            elif raw.startswith(b"\x1b(", i):
                two_byte, i = False, i + 3
            elif raw.startswith(b"\x1b$", i):  # ESC $ ) X: a G1 designation
                i += 4
            else:  # ESC ) X, ESC - X: G1 designations, G0 unchanged
                i += 3
            continue
        if two_byte and 0x21 <= b <= 0x7E:
            i += 2
            continue
        if b == sep:
            parts.append(raw[start:i])
            start = i + 1
        i += 1
    parts.append(raw[start:])
    return parts


def _split_gb(raw: bytes, sep: int) -> list[bytes]:
    """Split on ``sep`` outside GBK / GB18030 multi-byte characters."""
    parts: list[bytes] = []
    start = i = 0
    n = len(raw)
    while i < n:
        b = raw[i]
        if b >= 0x81:
            i += 4 if i + 1 < n and 0x30 <= raw[i + 1] <= 0x39 else 2
            continue
        if b == sep:
            parts.append(raw[start:i])
            start = i + 1
        i += 1
    parts.append(raw[start:])
    return parts


def split_bytes(raw: bytes, sep: int, charset: Charset) -> list[bytes]:
    """Split an encoded value on the delimiter byte ``sep`` (0x5C, or 0x3D for PN groups)."""
    if charset.split_mode == "plain" or (raw.isascii() and b"\x1b" not in raw):
        return raw.split(bytes((sep,)))
    if charset.split_mode == "gb":
        return _split_gb(raw, sep)
    return _split_iso2022(raw, sep)


def _decode(raw: bytes, charset: Charset, delims: set[int]) -> str:
    if raw.isascii() and b"\x1b" not in raw:
        return raw.decode("ascii")
    return decode_bytes(raw, charset.encodings, delims)


# ---- numbers -------------------------------------------------------------------------------
def ds_json(text: str) -> Any:
    """A DS value as JSON: a number when the value survives the round trip, else the string."""
    if not _DS_RE.match(text):
        return text
    if _IS_RE.match(text):
        i = int(text)
        return i if -_MAX_SAFE_INT <= i <= _MAX_SAFE_INT else text
    f = float(text)
    if not math.isfinite(f):
        return text
    r = repr(f)
    if r == text:
        return f
    try:
        return f if Decimal(text) == Decimal(r) else text
    except InvalidOperation:  # pragma: no cover - the regex admits only valid decimals
        return text


def is_json(text: str) -> Any:
    """An IS value as a JSON integer, or the string when it is not one (J-07)."""
    if _IS_RE.match(text):
        i = int(text)
        if -_MAX_SAFE_INT <= i <= _MAX_SAFE_INT:
            return i
    return text


def _big_int(i: int) -> Any:
    return i if -_MAX_SAFE_INT <= i <= _MAX_SAFE_INT else str(i)


def float_json(f: float) -> Any:
    """An FL/FD value as JSON: a number, or ``"NaN"``/``"Infinity"``/``"-Infinity"``.

    IEEE 754 NaN and infinities are valid FL/FD values (PS3.5 6.2, CP-2352) but JSON (RFC 8259
    §6) has no number for them, and ``NaN`` in the output is not JSON. They are written as these
    strings, as fo-dicom and Azure's DICOM service do; :func:`python_from_json` (and pydicom's
    ``from_json``) read them back.

    >>> float_json(2.5), float_json(float("nan")), float_json(float("-inf"))
    (2.5, 'NaN', '-Infinity')
    """
    if math.isfinite(f):
        return f
    if math.isnan(f):
        return "NaN"
    return "Infinity" if f > 0 else "-Infinity"


# ---- stored value -> JSON ------------------------------------------------------------------
def _finish(values: list[Any]) -> list[Any]:
    """A single empty value means an empty attribute (J-03); keep nulls among several (J-04)."""
    if len(values) == 1 and values[0] is None:
        return []
    return values


def _str_value(vr: str, text: str) -> Any:
    text = text.strip(" \x00") if vr in _STRIP_BOTH else text.rstrip(" \x00")
    if not text:
        return None
    if vr == "DS":
        return ds_json(text)
    if vr == "IS":
        return is_json(text)
    return text


def pn_from_groups(groups: Sequence[str]) -> dict[str, str] | None:
    """A PN value object with only its non-empty component groups (J-06)."""
    obj = {key: g for key, g in zip(_PN_KEYS, groups, strict=False) if g}
    return obj or None


def _pn_from_bytes(raw: bytes, charset: Charset) -> dict[str, str] | None:
    raw = raw.rstrip(b" \x00")
    if not raw:
        return None
    groups = split_bytes(raw, 0x3D, charset)
    return pn_from_groups([_decode(g, charset, _PN_DELIMS).rstrip(" ") for g in groups])


def values_from_bytes(vr: str, raw: bytes, charset: Charset, little: bool) -> list[Any]:
    """JSON values of an encoded (raw) non-sequence, non-binary element value."""
    if not raw:
        return []
    if vr in ASCII_MULTI_VRS:
        parts = raw.decode("latin_1").split("\\")
        if vr == "DS":
            vals = [ds_json(t) if (t := p.strip(" \x00")) else None for p in parts]
        elif vr == "IS":
            vals = [is_json(t) if (t := p.strip(" \x00")) else None for p in parts]
        elif vr in _STRIP_BOTH:
            vals = [p.strip(" \x00") or None for p in parts]
        else:
            vals = [p.rstrip(" \x00") or None for p in parts]
        return vals if len(vals) > 1 or vals[0] is not None else []
    code = NUMBER_CODES.get(vr)
    if code is not None:
        size = struct.calcsize(code)
        count = len(raw) // size
        nums = list(struct.unpack(f"{'<' if little else '>'}{count}{code}", raw[: count * size]))
        if vr in ("SV", "UV"):
            return [_big_int(v) for v in nums]
        if vr in ("FL", "FD"):
            return [float_json(v) for v in nums]
        return nums
    if vr == "AT":
        count = len(raw) // 4
        pairs = struct.unpack(f"{'<' if little else '>'}{count * 2}H", raw[: count * 4])
        return [f"{pairs[k]:04X}{pairs[k + 1]:04X}" for k in range(0, len(pairs), 2)]
    if vr in TEXT_VRS:
        text = _decode(raw, charset, _TEXT_DELIMS).rstrip(" \x00")
        return [text] if text else []
    if vr == "UR":
        text = raw.decode("latin_1").rstrip(" \x00")
        return [text] if text else []
    if vr == "PN":
        return _finish([_pn_from_bytes(v, charset) for v in split_bytes(raw, 0x5C, charset)])
    # SH, LO, UC
    return _finish(
        [_str_value(vr, _decode(v, charset, _TEXT_DELIMS)) for v in split_bytes(raw, 0x5C, charset)]
    )


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (str, bytes, PersonName)) or not isinstance(value, Sequence):
        return [value]
    return list(value)


def _pn_from_python(v: Any, charset: Charset) -> dict[str, str] | None:
    if v is None:
        return None
    if isinstance(v, bytes):
        return _pn_from_bytes(v, charset)
    if not isinstance(v, PersonName):
        v = PersonName(str(v))
    elif isinstance(v.original_string, bytes):  # decode with the dataset's character set
        return _pn_from_bytes(v.original_string, charset)
    return pn_from_groups([g.rstrip(" ") for g in v.components])


def values_from_python(vr: str, value: Any, charset: Charset) -> list[Any]:
    """JSON values of a converted (pydicom ``DataElement``) non-sequence, non-binary value."""
    if value is None or value == "" or value == b"":
        return []
    if isinstance(value, bytes):  # a value pydicom left unconverted
        return values_from_bytes(vr, value, charset, True)
    items = _as_list(value)
    if vr in NUMBER_CODES:
        if vr in ("SV", "UV"):
            return [_big_int(int(v)) for v in items]
        if vr in ("FL", "FD"):
            return [float_json(float(v)) for v in items]
        return [int(v) for v in items]
    if vr == "AT":
        return [f"{int(v):08X}" for v in items]
    if vr == "PN":
        return _finish([_pn_from_python(v, charset) for v in items])
    if vr in TEXT_VRS or vr == "UR":
        text = "\\".join("" if v is None else str(v) for v in items).rstrip(" \x00")
        return [text] if text else []
    return _finish([None if v is None else _str_value(vr, str(v)) for v in items])


def inline_binary(vr: str, raw: bytes, little: bool) -> str:
    """Base64 of a binary value, little endian (J-09); UN passes through untranslated (J-10)."""
    size = SWAP_SIZE.get(vr)
    if not little and size is not None and len(raw) % size == 0:
        arr = array({2: "H", 4: "I", 8: "Q"}[size])
        arr.frombytes(raw)
        arr.byteswap()
        raw = arr.tobytes()
    return base64.b64encode(raw).decode("ascii")


def little_endian_bytes(vr: str, raw: bytes, little: bool) -> bytes:
    """``raw`` in little-endian order (OW/OF/OL/OD/OV words swapped when ``little`` is False)."""
    if little or vr not in SWAP_SIZE:
        return raw
    return base64.b64decode(inline_binary(vr, raw, little))


# ---- JSON -> Python value ------------------------------------------------------------------
def _bad(tag: str, message: str) -> BadRequestError:
    return BadRequestError(f"DICOM JSON attribute {tag}: {message}")


def _ds_string(v: Any, tag: str) -> str:
    if isinstance(v, bool):
        raise _bad(tag, f"DS value {v!r} is not a number or string")
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise _bad(tag, f"DS value {v!r} is not finite")
        text = repr(v)
        return text if len(text) <= 16 else format_number_as_ds(v)
    if isinstance(v, str):
        return v
    raise _bad(tag, f"DS value {v!r} is not a number or string")


def _is_string(v: Any, tag: str) -> str:
    if isinstance(v, bool):
        raise _bad(tag, f"IS value {v!r} is not an integer or string")
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, str):
        return v
    raise _bad(tag, f"IS value {v!r} is not an integer or string")


def _pn_string(v: Any, tag: str) -> str:
    if isinstance(v, str):  # tolerated: some servers send the encoded form
        return v
    if not isinstance(v, dict):
        raise _bad(tag, f"PN value {v!r} is not an object")
    unknown = set(v) - set(_PN_KEYS)
    if unknown:
        raise _bad(tag, f"PN value has unknown keys {sorted(unknown)}")
    groups = [v.get(k) or "" for k in _PN_KEYS]
    if not all(isinstance(g, str) for g in groups):
        raise _bad(tag, f"PN component groups must be strings: {v!r}")
    return "=".join(groups).rstrip("=")


def _number(vr: str, v: Any, tag: str) -> int | float:
    if isinstance(v, bool):
        raise _bad(tag, f"{vr} value {v!r} is not a number")
    if vr in ("FL", "FD"):
        if isinstance(v, (int, float)):
            return float(v)
        if isinstance(v, str):  # NaN / Infinity written as strings by some servers
            try:
                return float(v)
            except ValueError as exc:
                raise _bad(tag, f"{vr} value {v!r} is not a number") from exc
        raise _bad(tag, f"{vr} value {v!r} is not a number")
    if isinstance(v, int):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, str) and _IS_RE.match(v.strip()):
        return int(v.strip())
    raise _bad(tag, f"{vr} value {v!r} is not an integer")


def python_from_json(vr: str, values: list[Any], tag: str) -> Any:
    """Convert a JSON ``Value`` list (not SQ) to a value for ``DataElement(tag, vr, value)``."""
    if vr in NUMBER_CODES:
        if any(v is None for v in values):
            raise _bad(tag, f"{vr} values cannot be null")
        out: list[Any] = [_number(vr, v, tag) for v in values]
    elif vr == "AT":
        out = []
        for v in values:
            if not (isinstance(v, str) and len(v) == 8):
                raise _bad(tag, f"AT value {v!r} is not 8 hex digits")
            try:
                out.append(int(v, 16))
            except ValueError as exc:
                raise _bad(tag, f"AT value {v!r} is not 8 hex digits") from exc
    elif vr == "PN":
        out = ["" if v is None else _pn_string(v, tag) for v in values]
    elif vr == "DS":
        out = ["" if v is None else _ds_string(v, tag) for v in values]
    elif vr == "IS":
        out = ["" if v is None else _is_string(v, tag) for v in values]
    else:
        out = []
        for v in values:
            if v is None:
                out.append("")
            elif isinstance(v, str):
                out.append(v)
            else:
                raise _bad(tag, f"{vr} value {v!r} is not a string")
    if not out:
        return None
    return out[0] if len(out) == 1 else out


def decode_inline_binary(value: Any, tag: str) -> bytes:
    """Decode InlineBinary: one base64 string (J-09), or the tolerated list form."""
    parts = value if isinstance(value, list) else [value]
    chunks = []
    for part in parts:
        if not isinstance(part, str):
            raise _bad(tag, "InlineBinary is not a base64 string")
        try:
            chunks.append(base64.b64decode(part, validate=True))
        except ValueError as exc:
            raise _bad(tag, "InlineBinary is not valid base64") from exc
    return b"".join(chunks)
