"""QIDO query keys: attribute ids (keyword, tag or dotted path) and their compiled filters.

:func:`resolve_key` turns ``PatientID``, ``00100020``, ``00100020`` in lower case or
``RequestAttributesSequence.ScheduledProcedureStepID`` into tags (CONFORMANCE A-01, A-09);
:func:`compile_filters` turns ``search_filters`` into :class:`Filter` objects, one per match key,
grouping sequence keys item by item (B-23) and DA+TM range pairs into combined date-time
matching (B-19). Nothing is ever dropped: an unknown key or a malformed value raises
:class:`InvalidQueryError` (A-04 IMPL choice, A-05).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydicom.datadict import dictionary_VR, keyword_for_tag, tag_for_keyword

from dicomfs.errors import InvalidQueryError
from dicomfs.index.attributes import ALL_LEVELS, COMPUTED, COMPUTED_VR, GENERATED, Level, level_of
from dicomfs.index.matching import (
    BINARY_VRS,
    CombinedDateTime,
    Matcher,
    SequenceMatch,
    Universal,
    combine_date_time,
    parse_offset,
    parse_value,
)

__all__ = ["Filter", "Key", "LEVEL_RANK", "compile_filters", "resolve_key", "resolve_tag"]

LEVEL_RANK: dict[Level, int] = {"study": 0, "series": 1, "instance": 2}
_HEX8 = re.compile(r"[0-9A-Fa-f]{8}")
SPECIFIC_CHARACTER_SET = "00080005"
TIMEZONE_OFFSET = "00080201"
QUERY_RETRIEVE_LEVEL = "00080052"
_RESERVED = {"limit", "offset", "fuzzymatching", "includefield", "emptyvaluematching",
             "multiplevaluematching"}


@dataclass(frozen=True)
class Key:
    """A resolved attribute id: its tag path, the VR and keyword of its last element."""

    path: tuple[str, ...]
    vr: str
    keyword: str
    #: Query level of the top-level attribute (PS3.4 C.6.1.1).
    level: Level
    #: Whether the top-level attribute belongs to every level (TimezoneOffsetFromUTC, ...).
    any_level: bool = False

    @property
    def top(self) -> str:
        """The top-level tag."""
        return self.path[0]

    @property
    def private(self) -> bool:
        """Whether the top-level attribute is private (odd group): stored with the instance,
        and at the study and series levels matched over the entity's instances (A-10)."""
        return bool(int(self.path[0][:4], 16) % 2)


def _tag_vr(tag: str) -> str:
    if int(tag[:4], 16) % 2:
        return "LO"  # private creator or private element: matched as text
    return str(dictionary_VR(int(tag, 16))).split(" or ")[0]


def resolve_tag(part: str) -> str:
    """8-digit upper-case hex tag of a keyword (case-sensitive) or tag (case-insensitive, A-01).

    >>> resolve_tag("PatientID"), resolve_tag("0020000d")
    ('00100020', '0020000D')

    Raises
    ------
    InvalidQueryError
        Not a DICOM keyword (``patientid``), an unknown public tag or a group length.
    """
    if _HEX8.fullmatch(part):
        tag = part.upper()
        group, element = int(tag[:4], 16), int(tag[4:], 16)
        if element == 0 or group in (0x0000, 0x0002) or (group % 2 and group <= 0x0007):
            raise InvalidQueryError(f"{part!r} cannot be a query key (group length or meta)")
        if group % 2 == 0:
            try:
                dictionary_VR(int(tag, 16))
            except KeyError as exc:
                raise InvalidQueryError(f"unknown DICOM tag {part!r}") from exc
        return tag
    number = tag_for_keyword(part)
    if number is None:
        raise InvalidQueryError(
            f"unknown attribute {part!r}: not a DICOM keyword (keywords are case-sensitive) "
            "nor an 8-digit hex tag"
        )
    return f"{int(number):08X}"


def resolve_key(name: str) -> Key:
    """The :class:`Key` of an attribute id; a dotted path selects a sequence item key (A-09)."""
    if not isinstance(name, str) or not name:
        raise InvalidQueryError(f"invalid attribute id {name!r}")
    if name in _RESERVED:
        raise InvalidQueryError(
            f"{name!r} is a query parameter, not an attribute: pass it as an argument"
        )
    if any(not part for part in name.split(".")):
        raise InvalidQueryError(f"invalid attribute id {name!r}: an empty element in the path")
    path = tuple(resolve_tag(p) for p in name.split("."))
    if path[0] == QUERY_RETRIEVE_LEVEL:
        raise InvalidQueryError(
            "QueryRetrieveLevel is not a QIDO-RS key: the level is the resource searched"
        )
    for tag in path[:-1]:
        if _tag_vr(tag) != "SQ":
            raise InvalidQueryError(f"{name!r}: {tag} is not a sequence")
    keywords = [keyword_for_tag(int(t, 16)) or t for t in path]
    top = keywords[0]
    if top in COMPUTED:
        level: Level = COMPUTED[top]
    elif int(path[0][:4], 16) % 2:
        level = "instance"
    else:
        level = level_of(top)
    vr = COMPUTED_VR.get(keywords[-1]) or GENERATED.get(keywords[-1]) or _tag_vr(path[-1])
    any_level = top in ALL_LEVELS or top in GENERATED
    return Key(path, vr, keywords[-1], level, any_level)


@dataclass
class Filter:
    """One compiled match key (or a combined DA+TM pair) of a query."""

    #: Top-level tags it reads (two for a combined date-time pair: date then time).
    tags: tuple[str, ...]
    level: Level
    matcher: Matcher
    keyword: str
    vr: str

    @property
    def universal(self) -> bool:
        """Whether it matches everything (then it only asks for the attribute back, B-09)."""
        return self.matcher.universal

    def test(self, doc: Mapping[str, Any]) -> bool:
        """Python predicate over the DICOM JSON of the entity of :attr:`level`."""
        if isinstance(self.matcher, CombinedDateTime):
            dates = (doc.get(self.tags[0]) or {}).get("Value")
            return self.matcher.matches_pair(dates, (doc.get(self.tags[1]) or {}).get("Value"))
        return self.matcher.matches((doc.get(self.tags[0]) or {}).get("Value"))


@dataclass
class CompiledFilters:
    """The match keys of a query, compiled."""

    filters: list[Filter] = field(default_factory=list)
    #: Top-level tags to echo in every result (C-10), with the level each belongs to.
    echo: dict[str, Level] = field(default_factory=dict)
    #: TimezoneOffsetFromUTC of the query in minutes (B-21), if given.
    timezone: int | None = None


def _sequence_matcher(node: Mapping[str, Any]) -> Matcher:
    keys: list[tuple[str, Matcher]] = []
    for tag, sub in node.items():
        matcher = sub if isinstance(sub, Matcher) else _sequence_matcher(sub)
        if not matcher.universal:
            keys.append((tag, matcher))
    return SequenceMatch(tuple(keys)) if keys else Universal()


def compile_filters(
    level: Level, search_filters: Mapping[str, Any] | None, fuzzy: bool
) -> CompiledFilters:
    """Compile ``search_filters`` for a query at ``level``.

    Raises
    ------
    InvalidQueryError
        Unknown key, repeated attribute (A-11), malformed value, or a key of a level below the
        query level (a series-level key on a study search).
    """
    out = CompiledFilters()
    if search_filters is None:
        return out
    if not isinstance(search_filters, Mapping):
        raise InvalidQueryError("search_filters must be a mapping of attribute id to value")
    seen: set[tuple[str, ...]] = set()
    singles: dict[str, tuple[Key, Matcher]] = {}
    trees: dict[str, dict[str, Any]] = {}
    tree_keys: dict[str, Key] = {}
    for name, value in search_filters.items():
        key = resolve_key(name)
        if key.path in seen:
            raise InvalidQueryError(f"attribute {name!r} given twice (A-11)")
        seen.add(key.path)
        if not key.any_level and not key.private and LEVEL_RANK[key.level] > LEVEL_RANK[level]:
            raise InvalidQueryError(
                f"{name!r} is a {key.level}-level attribute and cannot be a key of a "
                f"{level} search"
            )
        if key.vr in BINARY_VRS:
            raise InvalidQueryError(f"{name!r} (VR {key.vr}) cannot be a match key")
        if key.path == (SPECIFIC_CHARACTER_SET,):
            parse_value("CS", value)  # validated, never a match key (B-25)
            continue
        if key.path == (TIMEZONE_OFFSET,):
            if not isinstance(value, str):
                raise InvalidQueryError("TimezoneOffsetFromUTC must be a string like '+0100'")
            if not parse_value("SH", value).universal:  # B-09: '' and '*' qualify nothing
                out.timezone = parse_offset(value.strip(" "))
            out.echo[TIMEZONE_OFFSET] = level
            continue
        entity_level = level if key.any_level else key.level
        out.echo[key.top] = entity_level
        matcher = parse_value(key.vr, value, fuzzy=fuzzy)
        if len(key.path) == 1:
            singles[key.top] = (key, matcher)
            continue
        node = trees.setdefault(key.top, {})
        for tag in key.path[1:-1]:
            node = node.setdefault(tag, {})
            if isinstance(node, Matcher):
                raise InvalidQueryError(f"{name!r} conflicts with another key")
        node[key.path[-1]] = matcher
        tree_keys[key.top] = key
    for top, tree in trees.items():
        if top in singles:
            if not singles[top][1].universal:
                raise InvalidQueryError(f"sequence {top} takes no value of its own")
            del singles[top]
        key = tree_keys[top]
        out.filters.append(Filter((top,), key.level, _sequence_matcher(tree), key.keyword, "SQ"))
    _combine_pairs(singles, out)
    for key, matcher in singles.values():
        lvl = level if key.any_level else key.level
        out.filters.append(Filter((key.top,), lvl, matcher, key.keyword, key.vr))
    return out


def _combine_pairs(singles: dict[str, tuple[Key, Matcher]], out: CompiledFilters) -> None:
    """Replace DA+TM range pairs of the same form by one combined filter (B-19)."""
    for tag in list(singles):
        if tag not in singles:
            continue
        key, matcher = singles[tag]
        if key.vr != "DA" or not key.keyword.endswith("Date"):
            continue
        partner = tag_for_keyword(key.keyword[:-4] + "Time")
        if partner is None or f"{int(partner):08X}" not in singles:
            continue
        time_tag = f"{int(partner):08X}"
        time_matcher = singles[time_tag][1]
        combined = combine_date_time(matcher, time_matcher)
        if combined is None:
            continue
        del singles[tag], singles[time_tag]
        out.filters.append(
            Filter((tag, time_tag), key.level, combined, key.keyword[:-4] + "DateTime", "DT")
        )

