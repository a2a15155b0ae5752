"""QIDO-RS / C-FIND attribute matching: one class per matching type of PS3.4 C.2.2.2.

Every matcher answers the same question twice:

* :meth:`Matcher.clause` gives a SQLAlchemy clause over an index column (or ``None`` when the
  column cannot express it), and :attr:`Matcher.exact` says whether that clause is the whole
  answer or only a pre-filter that the Python predicate must confirm;
* :meth:`Matcher.matches` is a pure-Python predicate over the ``"Value"`` list of a DICOM JSON
  attribute (PS3.18 F.2), used for attributes without a column.

:func:`parse_value` turns a query value into a matcher, validating it against the VR
(CONFORMANCE A-05, B-08, B-15); a malformed value raises :class:`InvalidQueryError`.

Choices (see docs/conformance.md, "QIDO-RS"):

* matching is case-sensitive, except PN which is case-insensitive (B-01, B-02, B-06);
* wildcards on a VR that has none (UI, DA, TM, DT, numbers, ...) are a malformed value: 400 (B-08);
* an empty or absent stored value never matches a non-empty key (B-24);
* a multi-valued attribute matches when any of its values matches (B-22);
* DA, TM and DT are matched by meaning; a value given at lower precision covers its whole unit
  (B-16, B-17, B-18).
"""

from __future__ import annotations

import datetime as _dt
import functools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, true
from sqlalchemy.orm import InstrumentedAttribute

from dicomfs.errors import InvalidQueryError

__all__ = [
    "BINARY_VRS",
    "DATE_TIME_VRS",
    "WILDCARD_VRS",
    "AnyOf",
    "CombinedDateTime",
    "DateTimeRange",
    "Matcher",
    "NumberMatch",
    "PersonNameMatch",
    "SequenceMatch",
    "SingleValue",
    "UIDList",
    "Universal",
    "Wildcard",
    "combine_date_time",
    "da_key",
    "dt_bounds",
    "like_pattern",
    "parse_offset",
    "parse_value",
    "tm_bounds",
    "tm_key",
    "wildcard_regex",
]

Column = ColumnElement[Any] | InstrumentedAttribute[Any]
Clause = ColumnElement[bool]

#: VRs on which ``*`` and ``?`` are wildcards (PS3.4 C.2.2.2.4).
WILDCARD_VRS = frozenset({"AE", "CS", "LO", "LT", "PN", "SH", "ST", "UC", "UR", "UT"})
#: VRs matched by meaning, with range matching (PS3.4 C.2.2.2.5).
DATE_TIME_VRS = frozenset({"DA", "TM", "DT"})
_INT_VRS = frozenset({"IS", "US", "UL", "SS", "SL", "SV", "UV"})
_FLOAT_VRS = frozenset({"DS", "FL", "FD"})
#: VRs whose character repertoire has no comma: a comma in a query string separates values
#: (UID list, PS3.4 C.2.2.2.2; multiple values as OR, CONFORMANCE B-28).
_COMMA_LIST_VRS = frozenset({"UI", "CS", "DA", "TM", "DT", "AS", "AT"}) | _INT_VRS | _FLOAT_VRS
#: Binary VRs: never match keys; the index keeps their values only when short (InlineBinary).
BINARY_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})
#: VRs whose values cannot contain a backslash (the value delimiter, PS3.5 6.2): a backslash in
#: a query value separates values there, as in a C-FIND key (OR, CONFORMANCE B-22, B-28).
_BACKSLASH_TEXT_VRS = frozenset({"LT", "ST", "UT", "UR"})
#: VRs whose leading spaces are insignificant too (PS3.5 Table 6.2-1); trailing spaces are
#: padding for every VR but UI (whose padding is NUL and which allows no space at all).
_LEADING_SPACE_VRS = frozenset({"AE", "CS", "DS", "IS", "LO", "SH"})
#: Integer ranges of the binary VRs and of IS (PS3.5 Table 6.2-1).
_INT_RANGES: dict[str, tuple[int, int]] = {
    "IS": (-(2**31), 2**31 - 1), "SL": (-(2**31), 2**31 - 1), "SS": (-(2**15), 2**15 - 1),
    "UL": (0, 2**32 - 1), "US": (0, 2**16 - 1), "SV": (-(2**63), 2**63 - 1), "UV": (0, 2**64 - 1),
}
_IS = re.compile(r"[+-]?[0-9]{1,12}")
_DS = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_AS = re.compile(r"[0-9]{3}[DWMY]")
_DOTTED_DA = re.compile(r"(\d{4})\.(\d{2})\.(\d{2})")
#: LIKE escape character (chosen so no dialect treats it specially in a string literal).
_ESC = "!"

_UID = re.compile(r"(?:0|[1-9][0-9]*)(?:\.(?:0|[1-9][0-9]*))*")  # PS3.5 9.1: no leading zero
_DA = re.compile(r"(\d{4})(\d{2})(\d{2})")
_TM = re.compile(r"(\d{2})(?:(\d{2})(?:(\d{2})(?:\.(\d{1,6}))?)?)?")
_DT = re.compile(
    r"(\d{4})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:\.(\d{1,6}))?)?)?)?)?)?"
    r"([+-]\d{4})?"
)
_OFFSET = re.compile(r"([+-])(\d{2})(\d{2})")
_DT_MIN = "00010101000000.000000"
_DT_MAX = "99991231235959.999999"


# ---- value normalisation (shared with the index writer) --------------------------------------


def _bad(message: str) -> InvalidQueryError:
    return InvalidQueryError(message)


def like_pattern(query: str) -> str:
    """SQL LIKE pattern (escape ``!``) of a DICOM wildcard value (PS3.4 C.2.2.2.4, B-05, B-07).

    ``*`` becomes ``%``, ``?`` becomes ``_``; a literal ``%``, ``_`` or ``!`` is escaped.

    >>> like_pattern("100%*A_?")
    '100!%%A!__'
    """
    out = []
    for ch in query:
        if ch == "*":
            out.append("%")
        elif ch == "?":
            out.append("_")
        elif ch in "%_" + _ESC:
            out.append(_ESC + ch)
        else:
            out.append(ch)
    return "".join(out)


@functools.lru_cache(maxsize=1024)
def wildcard_regex(query: str, *, ignore_case: bool = False) -> re.Pattern[str]:
    """Compiled regular expression (for ``fullmatch``) of a DICOM wildcard value.

    >>> bool(wildcard_regex("P?-*").fullmatch("P1-0001"))
    True
    """
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in query)
    return re.compile(body, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _check_date(y: str, m: str, d: str, text: str) -> None:
    try:
        _dt.date(int(y), int(m), int(d))
    except ValueError as exc:
        raise _bad(f"invalid date {text!r}: {exc}") from exc


def da_key(text: str) -> str:
    """Validated ``YYYYMMDD`` of a DA query value (PS3.5 Table 6.2-1).

    The ACR-NEMA form ``YYYY.MM.DD`` is accepted too (PS3.5 DA, note on backward
    compatibility).

    >>> da_key("2020.01.31")
    '20200131'
    """
    dotted = _DOTTED_DA.fullmatch(text)
    if dotted is not None:
        text = "".join(dotted.groups())
    m = _DA.fullmatch(text)
    if m is None:
        raise _bad(f"invalid DA value {text!r} (expected YYYYMMDD)")
    _check_date(m.group(1), m.group(2), m.group(3), text)
    return text


def tm_bounds(text: str) -> tuple[str, str]:
    """``(floor, ceiling)`` of a TM value as ``HHMMSS.ffffff`` (by meaning, B-16..B-18).

    >>> tm_bounds("1000")
    ('100000.000000', '100059.999999')
    """
    m = _TM.fullmatch(text)
    if m is None:
        raise _bad(f"invalid TM value {text!r} (expected HH[MM[SS[.F{{1,6}}]]])")
    hh, mm, ss, frac = m.groups()
    if int(hh) > 23 or (mm is not None and int(mm) > 59) or (ss is not None and int(ss) > 60):
        raise _bad(f"invalid TM value {text!r}")
    lo = f"{hh}{mm or '00'}{ss or '00'}.{(frac or '').ljust(6, '0')}"
    hi = f"{hh}{mm or '59'}{ss or '59'}.{(frac or '').ljust(6, '9')}"
    return lo, hi


def tm_key(stored: str) -> str | None:
    """``HHMMSS.ffffff`` of a stored TM value (``None`` if it cannot be read).

    Also accepts the ACR-NEMA form ``HH:MM:SS``.

    >>> tm_key("235959.5")
    '235959.500000'
    """
    text = stored.strip().replace(":", "")
    try:
        return tm_bounds(text)[0]
    except InvalidQueryError:
        return None


def _last_day(year: int, month: int) -> int:
    nxt = _dt.date(year + month // 12, month % 12 + 1, 1)
    return (nxt - _dt.timedelta(days=1)).day


def parse_offset(text: str) -> int:
    """Minutes east of UTC of a ``&ZZXX`` offset (``+0100`` -> 60)."""
    m = _OFFSET.fullmatch(text)
    if m is None or int(m.group(2)) > 14 or int(m.group(3)) > 59:
        raise _bad(f"invalid UTC offset {text!r} (expected +HHMM or -HHMM)")
    minutes = int(m.group(2)) * 60 + int(m.group(3))
    return -minutes if m.group(1) == "-" else minutes


def dt_bounds(text: str) -> tuple[str, str, int | None]:
    """``(floor, ceiling, offset minutes or None)`` of a DT value, keys ``YYYYMMDDHHMMSS.ffffff``.

    >>> dt_bounds("202002")
    ('20200201000000.000000', '20200229235959.999999', None)
    """
    m = _DT.fullmatch(text)
    if m is None:
        raise _bad(f"invalid DT value {text!r}")
    yy, mo, dd, hh, mi, ss, frac, off = m.groups()
    year = int(yy)
    try:
        if mo is not None and not 1 <= int(mo) <= 12:
            raise ValueError("month out of range")
        if dd is not None:
            _dt.date(year, int(mo), int(dd))
        if (hh and int(hh) > 23) or (mi and int(mi) > 59) or (ss and int(ss) > 60) or year < 1:
            raise ValueError("time out of range")
    except ValueError as exc:
        raise _bad(f"invalid DT value {text!r}: {exc}") from exc
    offset = parse_offset(off) if off else None
    lo = (
        f"{yy}{mo or '01'}{dd or '01'}{hh or '00'}{mi or '00'}{ss or '00'}."
        f"{(frac or '').ljust(6, '0')}"
    )
    last = (dd or f"{_last_day(year, int(mo)):02d}") if mo else "31"
    hi = (
        f"{yy}{mo or '12'}{last}{hh or '23'}{mi or '59'}{ss or '59'}."
        f"{(frac or '').ljust(6, '9')}"
    )
    return lo, hi, offset


def _stored_dt(text: str) -> tuple[str, int | None] | None:
    try:
        lo, _, off = dt_bounds(text.strip())
    except InvalidQueryError:
        return None
    return lo, off


def to_utc(key: str, offset: int | None) -> str:
    """A ``YYYYMMDDHHMMSS.ffffff`` key moved from ``offset`` minutes east of UTC to UTC."""
    if not offset:
        return key
    try:
        moment = _dt.datetime(
            int(key[0:4]), int(key[4:6]), int(key[6:8]), int(key[8:10]), int(key[10:12]),
            min(int(key[12:14]), 59), int(key[15:21]),
        ) - _dt.timedelta(minutes=offset)
    except OverflowError:
        return _DT_MIN if offset > 0 else _DT_MAX
    return moment.strftime("%Y%m%d%H%M%S.%f").zfill(21)


def _strings(values: Sequence[Any] | None) -> Iterable[str]:
    """The non-empty values of a JSON ``Value`` list as strings (PN objects joined ``A=I=P``)."""
    for v in values or ():
        if v is None or v == "":
            continue
        if isinstance(v, Mapping):
            groups = [v.get(g, "") or "" for g in ("Alphabetic", "Ideographic", "Phonetic")]
            text = "=".join(groups).rstrip("=")
            if text:
                yield text
        else:
            yield str(v)


# ---- matchers --------------------------------------------------------------------------------


class Matcher:
    """One query key, compiled. Subclasses implement one matching type of PS3.4 C.2.2.2."""

    #: Whether :meth:`clause` on a column is the exact answer (else only a pre-filter).
    exact: bool = True
    #: Whether this matcher matches every entity (universal matching).
    universal: bool = False

    def clause(self, column: Column) -> Clause | None:
        """A SQL clause over ``column`` holding the stripped stored value (``None``: none)."""
        raise NotImplementedError

    def matches(self, values: Sequence[Any] | None) -> bool:
        """Whether a DICOM JSON ``Value`` list (``None``: empty or absent) matches."""
        raise NotImplementedError


@dataclass(frozen=True)
class Universal(Matcher):
    """Universal matching (PS3.4 C.2.2.2.3): an empty value or ``*`` matches every entity (B-09)."""

    universal = True

    def clause(self, column: Column) -> Clause | None:
        return true()

    def matches(self, values: Sequence[Any] | None) -> bool:
        return True


@dataclass(frozen=True)
class SingleValue(Matcher):
    """Single value matching (PS3.4 C.2.2.2.1): exact and case-sensitive (B-01, B-07)."""

    value: str

    def clause(self, column: Column) -> Clause | None:
        return column == self.value

    def matches(self, values: Sequence[Any] | None) -> bool:
        return any(v == self.value for v in _strings(values))


@dataclass(frozen=True)
class Wildcard(Matcher):
    """Wild card matching (PS3.4 C.2.2.2.4): ``*`` any run, ``?`` one character (B-03..B-07)."""

    pattern: str

    def clause(self, column: Column) -> Clause | None:
        return column.like(like_pattern(self.pattern), escape=_ESC)

    def matches(self, values: Sequence[Any] | None) -> bool:
        regex = wildcard_regex(self.pattern)
        return any(regex.fullmatch(v) for v in _strings(values))


@dataclass(frozen=True)
class UIDList(Matcher):
    """List of UID matching (PS3.4 C.2.2.2.2); a single UID is a list of one (B-11)."""

    uids: tuple[str, ...]

    def clause(self, column: Column) -> Clause | None:
        return column == self.uids[0] if len(self.uids) == 1 else column.in_(self.uids)

    def matches(self, values: Sequence[Any] | None) -> bool:
        return any(v in self.uids for v in _strings(values))


@dataclass(frozen=True)
class NumberMatch(Matcher):
    """Single value matching of a number (IS, DS, US, FD, ...): equal by value."""

    value: float

    def clause(self, column: Column) -> Clause | None:
        return column == self.value

    def matches(self, values: Sequence[Any] | None) -> bool:
        for v in _strings(values):
            try:
                if float(v) == self.value:
                    return True
            except ValueError:
                continue
        return False


@dataclass(frozen=True)
class PersonNameMatch(Matcher):
    """PN matching: single value or wildcard, case-insensitive (PS3.4 C.2.2.2.1.1, B-02).

    A query without ``=`` is compared with the whole name and with each component group
    (alphabetic, ideographic, phonetic) on its own, so ``王^小東`` matches ``=王^小東``. With
    ``fuzzy`` (API.md), the query also matches when it is a case-insensitive prefix of any name
    component (family, given or middle name of any group): fuzzy matching only widens.
    The SQL clause works on the upper-cased ``patient_name_key`` column.
    """

    pattern: str
    fuzzy: bool = False

    @property
    def exact(self) -> bool:  # type: ignore[override]
        return not self.fuzzy and not any(c in self.pattern for c in "*?")

    def clause(self, column: Column) -> Clause | None:
        p = like_pattern(self.pattern.upper())
        if "=" in self.pattern:
            return column.like(p, escape=_ESC)
        forms = [p, p + "=%", "%=" + p, "%=" + p + "=%"]
        if self.fuzzy:
            forms += [p + "%", "%^" + p + "%", "%=" + p + "%"]
        return or_(*(column.like(f, escape=_ESC) for f in forms))

    def matches(self, values: Sequence[Any] | None) -> bool:
        regex = wildcard_regex(self.pattern, ignore_case=True)
        prefix = wildcard_regex(self.pattern + "*", ignore_case=True) if self.fuzzy else None
        for name in _strings(values):
            if regex.fullmatch(name):
                return True
            if "=" in self.pattern:
                continue
            groups = name.split("=")
            if any(regex.fullmatch(g) for g in groups):
                return True
            if prefix is not None:
                for group in groups:
                    if any(prefix.fullmatch(c) for c in group.split("^")[:3] if c):
                        return True
        return False


@dataclass(frozen=True)
class DateTimeRange(Matcher):
    """Range matching of DA, TM or DT by meaning (PS3.4 C.2.2.2.5; B-12..B-18).

    ``lo``/``hi`` are keys of the VR's comparable form (DA ``YYYYMMDD``, TM ``HHMMSS.ffffff``,
    DT ``YYYYMMDDHHMMSS.ffffff``); ``None`` is an open end. A single value is the range of its
    own precision (``StudyTime=2230`` is 22:30:00 to 22:30:59.999999). DT bounds may carry a UTC
    offset (minutes): a stored DT with an offset is then compared by absolute instant (B-21).
    """

    vr: str
    lo: str | None
    hi: str | None
    lo_offset: int | None = None
    hi_offset: int | None = None
    #: How the query gave it: ``single``, ``closed``, ``open-start`` or ``open-end``.
    form: str = "single"

    def clause(self, column: Column) -> Clause | None:
        if self.vr == "DT":
            return None
        parts: list[Clause] = []
        if self.lo is not None:
            parts.append(column >= self.lo)
        if self.hi is not None:
            parts.append(column <= self.hi)
        return and_(*parts) if parts else column.is_not(None)

    def key_in_range(self, key: str, offset: int | None = None) -> bool:
        """Whether a comparable key (with, for DT, its UTC offset) lies in the range."""
        if self.lo is not None:
            lo, k = self.lo, key
            if self.lo_offset is not None and offset is not None:
                lo, k = to_utc(lo, self.lo_offset), to_utc(k, offset)
            if k < lo:
                return False
        if self.hi is not None:
            hi, k = self.hi, key
            if self.hi_offset is not None and offset is not None:
                hi, k = to_utc(hi, self.hi_offset), to_utc(k, offset)
            if k > hi:
                return False
        return True

    def matches(self, values: Sequence[Any] | None, stored_offset: int | None = None) -> bool:
        """As :meth:`Matcher.matches`; ``stored_offset`` is the UTC offset of a stored DT
        without its own (from the entity's TimezoneOffsetFromUTC, B-21)."""
        for v in _strings(values):
            if self.vr == "DA":
                key: str | None = v.strip().replace(".", "")
                if key is not None and not _DA.fullmatch(key):
                    key = None
                off = None
            elif self.vr == "TM":
                key, off = tm_key(v), None
            else:
                parsed = _stored_dt(v)
                key, off = parsed if parsed else (None, None)
                off = stored_offset if off is None else off
            if key is not None and self.key_in_range(key, off):
                return True
        return False


@dataclass(frozen=True)
class CombinedDateTime(Matcher):
    """Combined date-time range matching of a DA + TM pair (PS3.4 C.2.2.2.5.4, B-19).

    ``lo``/``hi`` are ``YYYYMMDDHHMMSS.ffffff`` keys. :meth:`matches` takes the date values and
    :meth:`matches_pair` both; an entity without a time matches when its date is in the range.
    """

    lo: str | None
    hi: str | None

    def clause(self, column: Column) -> Clause | None:
        return None

    def pair_clause(self, date: Column, time_key: Column, datetime_key: Column) -> Clause:
        """SQL over the date column, the time key and the combined ``datetime_key`` column."""
        with_time: list[Clause] = [time_key.is_not(None), datetime_key.is_not(None)]
        without: list[Clause] = [time_key.is_(None), date.is_not(None)]
        if self.lo is not None:
            with_time.append(datetime_key >= self.lo)
            without.append(date >= self.lo[:8])
        if self.hi is not None:
            with_time.append(datetime_key <= self.hi)
            without.append(date <= self.hi[:8])
        return or_(and_(*with_time), and_(*without))

    def matches(self, values: Sequence[Any] | None) -> bool:
        return self.matches_pair(values, None)

    def matches_pair(self, dates: Sequence[Any] | None, times: Sequence[Any] | None) -> bool:
        """Whether a date (and optional time) ``Value`` list pair matches."""
        time = next(iter(_strings(times)), None)
        tkey = tm_key(time) if time is not None else None
        for d in _strings(dates):
            d = d.strip().replace(".", "")
            if not _DA.fullmatch(d):
                continue
            if tkey is None:
                if (self.lo is None or d >= self.lo[:8]) and (self.hi is None or d <= self.hi[:8]):
                    return True
                continue
            key = d + tkey
            if (self.lo is None or key >= self.lo) and (self.hi is None or key <= self.hi):
                return True
        return False


@dataclass(frozen=True)
class AnyOf(Matcher):
    """A list of values: matches when any of them matches (API.md; B-28 choice: OR)."""

    matchers: tuple[Matcher, ...]

    @property
    def exact(self) -> bool:  # type: ignore[override]
        return all(m.exact for m in self.matchers)

    def clause(self, column: Column) -> Clause | None:
        clauses = [m.clause(column) for m in self.matchers]
        if any(c is None for c in clauses):
            return None
        return or_(*(c for c in clauses if c is not None))

    def matches(self, values: Sequence[Any] | None) -> bool:
        return any(m.matches(values) for m in self.matchers)


@dataclass(frozen=True)
class SequenceMatch(Matcher):
    """Sequence matching (PS3.4 C.2.2.2.6, B-23): one item must match every key.

    ``keys`` maps an 8-hex-digit tag inside the item to the matcher of that key.
    """

    keys: tuple[tuple[str, Matcher], ...]

    exact = False

    def clause(self, column: Column) -> Clause | None:
        return None

    def matches(self, values: Sequence[Any] | None) -> bool:
        for item in values or ():
            if not isinstance(item, Mapping):
                continue
            if all(m.matches((item.get(tag) or {}).get("Value")) for tag, m in self.keys):
                return True
        return False


# ---- parsing query values --------------------------------------------------------------------


def _split(vr: str, value: Any) -> list[str]:
    """Query value -> list of strings (list = OR; a comma separates values of comma-free VRs,
    a backslash those of VRs whose values cannot hold one)."""
    if isinstance(value, bool) or value is None:
        raise _bad(f"invalid query value {value!r} (expected a string, number or list)")
    if isinstance(value, (list, tuple)):
        out: list[str] = []
        for v in value:
            if isinstance(v, (list, tuple)):
                raise _bad(f"invalid query value {value!r} (nested list)")
            out.extend(_split(vr, v))
        return out
    if isinstance(value, (int, float)):
        return [repr(value) if isinstance(value, float) else str(value)]
    if not isinstance(value, str):
        raise _bad(f"invalid query value {value!r} (expected a string, number or list)")
    if "\x00" in value:
        raise _bad("a query value must not contain NUL (PS3.18 8.3.1)")
    parts = [value]
    if vr not in _BACKSLASH_TEXT_VRS and "\\" in value:
        parts = value.split("\\")
    if vr in _COMMA_LIST_VRS:
        parts = [p for part in parts for p in part.split(",")]
    return parts


def _unpad(vr: str, text: str) -> str:
    """A query value without the spaces its VR declares insignificant (A-12, PS3.5 6.2).

    Raises
    ------
    InvalidQueryError
        The value is only spaces: neither empty (universal matching) nor a value.
    """
    if vr == "UI" or not text:
        return text
    out = text.lstrip(" ").rstrip(" ") if vr in _LEADING_SPACE_VRS else text.rstrip(" ")
    if not out.strip():
        raise _bad(f"invalid query value {text!r}: only spaces (use '' for universal matching)")
    return out


def _range(vr: str, text: str) -> DateTimeRange:
    if vr == "DT":
        try:
            floor, ceiling, off = dt_bounds(text)  # a DT with a negative offset: not a range
            return DateTimeRange(vr, floor, ceiling, off, off, "single")
        except InvalidQueryError:
            pass
        m = re.fullmatch(r"([^-]*(?:-\d{4})?)?-([^-]*(?:-\d{4})?)?", text)
        parts = [m.group(1), m.group(2)] if m else None
    else:
        parts = text.split("-") if text.count("-") <= 1 else None
    if parts is None:
        raise _bad(f"invalid {vr} value or range {text!r}")
    form = "closed" if all(parts) else "open-end" if parts[0] else "open-start"
    if len(parts) == 1:
        parts, form = [parts[0], parts[0]], "single"
    first, second = (p or None for p in parts)
    if first is None and second is None:
        raise _bad(f"invalid {vr} range {text!r}: both ends are open (B-15)")
    lo: str | None = None
    hi: str | None = None
    lo_off: int | None = None
    hi_off: int | None = None
    if vr == "DA":
        lo = da_key(first) if first else None
        hi = da_key(second) if second else None
    elif vr == "TM":
        lo = tm_bounds(first)[0] if first else None
        hi = tm_bounds(second)[1] if second else None
    else:
        if first:
            lo, _, lo_off = dt_bounds(first)
        if second:
            _, hi, hi_off = dt_bounds(second)
    if lo is not None and hi is not None:
        a = to_utc(lo, lo_off) if lo_off is not None and hi_off is not None else lo
        b = to_utc(hi, hi_off) if lo_off is not None and hi_off is not None else hi
        if a > b:
            raise _bad(f"invalid {vr} range {text!r}: the start is after the end (B-15)")
    return DateTimeRange(vr, lo, hi, lo_off, hi_off, form)


#: The longest value a match key may have: LT's 10,240 characters (PS3.5 6.2). Longer ones
#: are no value of a searchable attribute, and a LIKE pattern of more than 50,000 bytes is
#: refused by SQLite ("LIKE or GLOB pattern too complex").
MAX_VALUE_CHARS = 10_240


def _one(vr: str, text: str, fuzzy: bool) -> Matcher:
    if len(text) > MAX_VALUE_CHARS:
        raise _bad(f"a query value of {len(text)} characters (at most {MAX_VALUE_CHARS})")
    if vr in BINARY_VRS:
        raise _bad(f"attributes of VR {vr} cannot be used as match keys")
    if vr == "SQ":
        raise _bad("a sequence takes no value; match its items with Sequence.Keyword=value")
    if vr == "PN":
        if text.count("=") > 2:
            raise _bad(f"invalid PN value {text!r}: more than three component groups")
        return PersonNameMatch(text, fuzzy)
    if vr in WILDCARD_VRS:
        return Wildcard(text) if any(c in text for c in "*?") else SingleValue(text)
    if vr in DATE_TIME_VRS:
        return _range(vr, text)
    if vr == "UI":
        if len(text) > 64 or not _UID.fullmatch(text):
            raise _bad(
                f"invalid UID {text!r} (digits and dots, no empty component or leading zero, "
                "at most 64 characters; wildcards do not apply to UI, B-08)"
            )
        return UIDList((text,))
    if vr in _INT_VRS:
        low, high = _INT_RANGES.get(vr, _INT_RANGES["SV"])
        if not _IS.fullmatch(text) and not (vr != "IS" and re.fullmatch(r"[+-]?\d+", text)):
            raise _bad(f"invalid {vr} value {text!r} (expected an integer)")
        if not low <= int(text) <= high:
            raise _bad(f"invalid {vr} value {text!r}: out of range [{low}, {high}]")
        return NumberMatch(float(int(text)))
    if vr in _FLOAT_VRS:
        if not _DS.fullmatch(text):
            raise _bad(f"invalid {vr} value {text!r} (expected a decimal number)")
        return NumberMatch(float(text))
    if vr == "AT":
        if not re.fullmatch(r"[0-9A-Fa-f]{8}", text):
            raise _bad(f"invalid AT value {text!r}")
        return SingleValue(text.upper())
    if vr == "AS" and not _AS.fullmatch(text):
        raise _bad(f"invalid AS value {text!r} (expected nnnD, nnnW, nnnM or nnnY)")
    if any(c in text for c in "*?"):
        raise _bad(f"wildcards do not apply to VR {vr} (B-08): {text!r}")
    return SingleValue(text)


def parse_value(vr: str, value: Any, *, fuzzy: bool = False) -> Matcher:
    """The matcher of one query value of an attribute of VR ``vr``.

    Parameters
    ----------
    vr: str
        The attribute's VR.
    value: str, int, float or list of them
        The query value; a list means "any of" (API.md); for VRs without a comma in their
        repertoire (UI, CS, DA, TM, DT, numbers) a comma separates values too (A-11, B-28),
        and a backslash (the DICOM value delimiter) for every VR but LT, ST, UT and UR.
        Insignificant spaces are removed (A-12); an empty value or ``*`` is universal (B-09),
        but an empty value inside a list or a value of only spaces is malformed.
    fuzzy: bool
        ``fuzzymatching`` (PN only).

    Returns
    -------
    Matcher

    Raises
    ------
    InvalidQueryError
        The value is malformed for the VR (A-05, B-08, B-15).

    Examples
    --------
    >>> parse_value("UI", "1.2.3,1.2.4")
    UIDList(uids=('1.2.3', '1.2.4'))
    >>> parse_value("DA", "20200101-").lo
    '20200101'
    """
    texts = [_unpad(vr, t) for t in _split(vr, value)]
    if not texts:
        raise _bad("an empty list is not a query value (use '' for universal matching)")
    if len(texts) == 1 and (texts[0] == "*" or texts[0] == "" or _only_stars(vr, texts[0])):
        return Universal()  # B-09; on wildcard VRs "**" is "*" (PS3.4 C.2.2.2.4)
    if "" in texts:
        raise _bad(f"invalid query value {value!r}: an empty value in a list of values")
    if any(_only_stars(vr, t) for t in texts):
        return Universal()
    matchers = [_one(vr, t, fuzzy) for t in texts]
    if vr == "UI":
        uids = tuple(dict.fromkeys(u for m in matchers if isinstance(m, UIDList) for u in m.uids))
        return UIDList(uids)
    return matchers[0] if len(matchers) == 1 else AnyOf(tuple(matchers))


def _only_stars(vr: str, text: str) -> bool:
    return vr in WILDCARD_VRS and bool(text) and not text.strip("*")


def combine_date_time(date: Matcher, time: Matcher) -> CombinedDateTime | None:
    """Combined matcher when DA and TM keys are ranges of the same form (B-19), else ``None``.

    PS3.4 C.2.2.2.5.4: "both of which specify the same form of Range Matching".
    """
    if not (isinstance(date, DateTimeRange) and isinstance(time, DateTimeRange)):
        return None
    if date.vr != "DA" or time.vr != "TM":
        return None
    if date.form != time.form or date.form == "single":
        return None
    lo = date.lo + time.lo if date.lo is not None and time.lo is not None else None
    hi = date.hi + time.hi if date.hi is not None and time.hi is not None else None
    return CombinedDateTime(lo, hi)


#: Type of a predicate over an entity's DICOM JSON (used by the query layer).
Predicate = Callable[[Mapping[str, Any]], bool]
