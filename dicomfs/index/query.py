"""The query side of the index: SQL for QIDO-RS searches, then Python filtering, then paging.

A search runs in at most four kinds of statements, whatever the number of results:

1. the entities of the query level, filtered in SQL by every key that has a column (exactly, or
   as a pre-filter the Python predicate confirms), in a stable total order (C-14: StudyDate,
   StudyTime, StudyInstanceUID, then SeriesNumber, SeriesInstanceUID, then InstanceNumber,
   SOPInstanceUID; NULLs first), paged in SQL when no key needs Python;
2. the studies and 3. the series those entities belong to, each with its aggregates
   (NumberOfStudyRelated*, ModalitiesInStudy, SOPClassesInStudy, NumberOfSeriesRelatedInstances)
   from GROUP BY subqueries joined in one statement per chunk of 500 UIDs (C-05, C-06);
4. then keys without a column are matched in Python over the ``attributes`` JSON, and the
   result is paged (D-01, D-05, D-08).

Works on SQLite (with ``case_sensitive_like=ON``) and PostgreSQL: LIKE with ESCAPE, no GLOB, no
JSON functions in SQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydicom.datadict import tag_for_keyword
from sqlalchemy import (
    Connection,
    ScalarSelect,
    Select,
    and_,
    exists,
    false,
    func,
    select,
)
from sqlalchemy.orm import InstrumentedAttribute, aliased

from dicomfs.errors import InvalidQueryError
from dicomfs.index.attributes import Level
from dicomfs.index.matching import (
    AnyOf,
    CombinedDateTime,
    DateTimeRange,
    Matcher,
    NumberMatch,
    PersonNameMatch,
    SingleValue,
    UIDList,
    Wildcard,
    parse_offset,
    tm_key,
    to_utc,
)
from dicomfs.index.models import Instance, Series, Study
from dicomfs.index.query_keys import TIMEZONE_OFFSET, CompiledFilters, Filter

__all__ = ["InstanceRow", "SearchResult", "SeriesInfo", "StudyInfo", "search"]

_CHUNK = 500
_SEP = "\\"

#: Index columns by tag: (column, kind). Kinds: ``str`` stripped value, ``pn`` upper-case PN key,
#: ``tm`` ``HHMMSS.ffffff`` key, ``int`` integer.
COLUMNS: dict[str, tuple[InstrumentedAttribute[Any], str]] = {
    "0020000D": (Study.study_instance_uid, "str"),
    "00100020": (Study.patient_id, "str"),
    "00100010": (Study.patient_name_key, "pn"),
    "00100030": (Study.patient_birth_date, "str"),
    "00100040": (Study.patient_sex, "str"),
    "00080020": (Study.study_date, "str"),
    "00080030": (Study.study_time_key, "tm"),
    "00080050": (Study.accession_number, "str"),
    "00200010": (Study.study_id, "str"),
    "00081030": (Study.study_description, "str"),
    "0020000E": (Series.series_instance_uid, "str"),
    "00080060": (Series.modality, "str"),
    "00200011": (Series.series_number, "int"),
    "0008103E": (Series.series_description, "str"),
    "00080021": (Series.series_date, "str"),
    "00180015": (Series.body_part_examined, "str"),
    "00080018": (Instance.sop_instance_uid, "str"),
    "00080016": (Instance.sop_class_uid, "str"),
    "00200013": (Instance.instance_number, "int"),
    "00280010": (Instance.rows, "int"),
    "00280011": (Instance.columns, "int"),
    "00280100": (Instance.bits_allocated, "int"),
    "00280002": (Instance.samples_per_pixel, "int"),
    "00280008": (Instance.number_of_frames, "int"),
}


@dataclass
class StudyInfo:
    """A study of the result (or parent of a result) with its aggregates."""

    attributes: dict[str, Any]
    series: int
    instances: int
    modalities: list[str]
    sop_classes: list[str] | None = None


@dataclass
class SeriesInfo:
    """A series of the result (or parent of a result) with its instance count."""

    study_uid: str
    attributes: dict[str, Any]
    instances: int


@dataclass
class InstanceRow:
    """An instance of the result: its columns, and its parsed JSON when it was needed."""

    sop_instance_uid: str
    series_uid: str
    study_uid: str
    sop_class_uid: str | None
    instance_number: int | None
    rows: int | None
    columns: int | None
    bits_allocated: int | None
    number_of_frames: int | None
    transfer_syntax_uid: str
    attributes: dict[str, Any] | None = None


@dataclass
class SearchResult:
    """The matching entities in result order, and their parents."""

    #: StudyInstanceUID, SeriesInstanceUID or InstanceRow per result, in order.
    entities: list[Any] = field(default_factory=list)
    studies: dict[str, StudyInfo] = field(default_factory=dict)
    series: dict[str, SeriesInfo] = field(default_factory=dict)
    #: Study or series searches with private keys or includefields (A-10): the private
    #: elements of the entity's first instance that matches every private key, by UID.
    private: dict[str, dict[str, Any]] = field(default_factory=dict)


# ---- SQL of the filters ----------------------------------------------------------------------


def _compatible(kind: str, m: Matcher) -> bool:
    if isinstance(m, AnyOf):
        return all(_compatible(kind, x) for x in m.matchers)
    if kind == "str":
        return isinstance(m, (SingleValue, Wildcard, UIDList)) or (
            isinstance(m, DateTimeRange) and m.vr == "DA"
        )
    if kind == "pn":
        return isinstance(m, PersonNameMatch)
    if kind == "tm":
        return isinstance(m, DateTimeRange) and m.vr == "TM"
    return kind == "int" and isinstance(m, NumberMatch)


def _computed(keyword: str, matcher: Matcher) -> Any:
    """SQL of a match key on a computed attribute (always exact)."""
    if keyword in ("ModalitiesInStudy", "SOPClassesInStudy"):
        if keyword == "ModalitiesInStudy":
            se = aliased(Series)
            inner = matcher.clause(se.modality)
            where = [se.study_instance_uid == Study.study_instance_uid]
        else:
            inst = aliased(Instance)
            inner = matcher.clause(inst.sop_class_uid)
            where = [inst.study_instance_uid == Study.study_instance_uid]
        if inner is None:
            raise InvalidQueryError(f"{keyword} cannot be matched with this value")
        return exists(select(1).where(*where, inner).correlate(Study))
    count = _count_expression(keyword)
    clause = matcher.clause(count)
    if clause is None:
        raise InvalidQueryError(f"{keyword} cannot be matched with this value")
    return clause


def _count_expression(keyword: str) -> ScalarSelect[Any]:
    if keyword == "NumberOfStudyRelatedSeries":
        return (
            select(func.count()).select_from(Series)
            .where(Series.study_instance_uid == Study.study_instance_uid)
            .correlate(Study).scalar_subquery()
        )
    if keyword == "NumberOfStudyRelatedInstances":
        return (
            select(func.count()).select_from(Instance)
            .where(Instance.study_instance_uid == Study.study_instance_uid)
            .correlate(Study).scalar_subquery()
        )
    if keyword == "NumberOfSeriesRelatedInstances":
        return (
            select(func.count()).select_from(Instance)
            .where(Instance.series_instance_uid == Series.series_instance_uid)
            .correlate(Series).scalar_subquery()
        )
    if keyword == "NumberOfPatientRelatedStudies":
        other = aliased(Study)
        return (
            select(func.count()).select_from(other)
            .where(other.patient_id == Study.patient_id)
            .correlate(Study).scalar_subquery()
        )
    raise InvalidQueryError(f"{keyword} cannot be a match key")


_COMPUTED_KEYWORDS = {
    "NumberOfStudyRelatedSeries", "NumberOfStudyRelatedInstances", "ModalitiesInStudy",
    "SOPClassesInStudy", "NumberOfSeriesRelatedInstances", "NumberOfPatientRelatedStudies",
}


def _filter_sql(f: Filter, timezone: int | None) -> tuple[Any, bool]:
    """(SQL clause or None, whether it is exact) of one filter."""
    m = f.matcher
    if f.keyword in _COMPUTED_KEYWORDS:
        return _computed(f.keyword, m), True
    if f.keyword == "InstanceAvailability":
        return (None if m.matches(["ONLINE"]) else false()), True
    if f.keyword in ("RetrieveURL", "AvailableTransferSyntaxUID"):
        raise InvalidQueryError(f"{f.keyword} cannot be a match key (only returned)")
    if timezone is not None and _is_date_time(f.matcher):
        return None, False
    if isinstance(m, CombinedDateTime):
        if f.tags == ("00080020", "00080030"):
            return m.pair_clause(Study.study_date, Study.study_time_key,
                                 Study.study_datetime_key), True
        return None, False
    column = COLUMNS.get(f.tags[0])
    if column is None or not _compatible(column[1], m):
        return None, False
    return m.clause(column[0]), m.exact


def _is_date_time(m: Matcher) -> bool:
    if isinstance(m, AnyOf):
        return any(_is_date_time(x) for x in m.matchers)
    return isinstance(m, (DateTimeRange, CombinedDateTime))


# ---- the statements --------------------------------------------------------------------------


def _strings_of(column: Any, where: Any) -> ScalarSelect[Any]:
    """Correlated ``aggregate_strings`` (group_concat / string_agg) of a column's values."""
    return (
        select(func.aggregate_strings(column, _SEP)).where(where, column.is_not(None))
        .scalar_subquery()
    )


def _study_columns(sop_classes: bool) -> list[Any]:
    """A study's UID, JSON and aggregates as correlated subqueries (index-backed, C-05/C-06)."""
    cols: list[Any] = [
        Study.study_instance_uid, Study.attributes,
        _count_expression("NumberOfStudyRelatedSeries"),
        _count_expression("NumberOfStudyRelatedInstances"),
        _strings_of(Series.modality, Series.study_instance_uid == Study.study_instance_uid)
        .correlate(Study),
    ]
    if sop_classes:
        cols.append(
            _strings_of(Instance.sop_class_uid,
                        Instance.study_instance_uid == Study.study_instance_uid).correlate(Study)
        )
    return cols


def _series_columns() -> list[Any]:
    return [Series.series_instance_uid, Series.study_instance_uid, Series.attributes,
            _count_expression("NumberOfSeriesRelatedInstances")]


def _study_info(row: Sequence[Any], sop_classes: bool) -> StudyInfo:
    return StudyInfo(
        json.loads(row[1] or "{}"), row[2] or 0, row[3] or 0,
        sorted(set(row[4].split(_SEP))) if row[4] else [],
        (sorted(set(row[5].split(_SEP))) if row[5] else []) if sop_classes else None,
    )


_STUDY_ORDER = (Study.study_date.asc().nulls_first(), Study.study_time_key.asc().nulls_first(),
                Study.study_instance_uid)
_SERIES_ORDER = (Series.series_number.asc().nulls_first(), Series.series_instance_uid)
_INSTANCE_ORDER = (Instance.instance_number.asc().nulls_first(), Instance.sop_instance_uid)


def _entity_select(level: Level, with_json: bool, sop_classes: bool) -> Select[Any]:
    """The statement of the query level's entities, in the stable order of C-14."""
    if level == "study":
        return select(*_study_columns(sop_classes)).order_by(*_STUDY_ORDER)
    if level == "series":
        stmt = select(*_series_columns())
    else:
        cols: list[Any] = [
            Instance.sop_instance_uid, Instance.series_instance_uid, Instance.study_instance_uid,
            Instance.sop_class_uid, Instance.instance_number, Instance.rows, Instance.columns,
            Instance.bits_allocated, Instance.number_of_frames, Instance.transfer_syntax_uid,
        ]
        if with_json:
            cols.append(Instance.attributes)
        stmt = select(*cols).join(
            Series, Series.series_instance_uid == Instance.series_instance_uid
        )
    stmt = stmt.join(Study, Study.study_instance_uid == Series.study_instance_uid)
    stmt = stmt.order_by(*_STUDY_ORDER, *_SERIES_ORDER)
    return stmt.order_by(*_INSTANCE_ORDER) if level == "instance" else stmt


def _chunks(items: Sequence[str]) -> Iterator[list[str]]:
    for i in range(0, len(items), _CHUNK):
        yield list(items[i : i + _CHUNK])


def load_studies(
    conn: Connection, uids: Sequence[str], sop_classes: bool
) -> dict[str, StudyInfo]:
    """Studies by UID with their aggregates, one statement per chunk of UIDs."""
    out: dict[str, StudyInfo] = {}
    for chunk in _chunks(uids):
        stmt = select(*_study_columns(sop_classes)).where(Study.study_instance_uid.in_(chunk))
        for row in conn.execute(stmt):
            out[row[0]] = _study_info(row, sop_classes)
    return out


def load_series(conn: Connection, uids: Sequence[str]) -> dict[str, SeriesInfo]:
    """Series by UID with NumberOfSeriesRelatedInstances, one statement per chunk of UIDs."""
    out: dict[str, SeriesInfo] = {}
    for chunk in _chunks(uids):
        stmt = select(*_series_columns()).where(Series.series_instance_uid.in_(chunk))
        for row in conn.execute(stmt):
            out[row[0]] = SeriesInfo(row[1], json.loads(row[2] or "{}"), row[3] or 0)
    return out


# ---- timezone (B-21) -------------------------------------------------------------------------


def _entity_offset(doc: Mapping[str, Any], study: Mapping[str, Any]) -> int | None:
    for source in (doc, study):
        values = (source.get(TIMEZONE_OFFSET) or {}).get("Value")
        if values:
            try:
                return parse_offset(str(values[0]))
            except InvalidQueryError:
                return None
    return None


def _partner(keyword: str, suffix_from: str, suffix_to: str) -> str | None:
    if not keyword.endswith(suffix_from):
        return None
    tag = tag_for_keyword(keyword[: -len(suffix_from)] + suffix_to)
    return f"{int(tag):08X}" if tag is not None else None


def _first(doc: Mapping[str, Any], tag: str | None) -> str | None:
    if tag is None:
        return None
    values = (doc.get(tag) or {}).get("Value") or []
    return str(values[0]).strip() if values and values[0] not in (None, "") else None


def _tz_match(m: Matcher, f: Filter, doc: Mapping[str, Any], e: int | None, q: int) -> bool:
    """B-21: the query's dates and times are in UTC offset ``q``; the entity's in ``e``."""
    if isinstance(m, AnyOf):
        return any(_tz_match(x, f, doc, e, q) for x in m.matchers)
    values = (doc.get(f.tags[0]) or {}).get("Value")
    if isinstance(m, CombinedDateTime):
        date, time = _first(doc, f.tags[0]), _first(doc, f.tags[1])
        tkey = tm_key(time) if time else None
        if date is None or tkey is None or e is None:
            return m.matches_pair(values, (doc.get(f.tags[1]) or {}).get("Value"))
        key = to_utc(date + tkey, e - q)
        return (m.lo is None or key >= m.lo) and (m.hi is None or key <= m.hi)
    if not isinstance(m, DateTimeRange):
        return m.matches(values)
    if m.vr == "DT":
        lo_off = q if m.lo_offset is None else m.lo_offset
        hi_off = q if m.hi_offset is None else m.hi_offset
        shifted = DateTimeRange("DT", m.lo, m.hi, lo_off, hi_off, m.form)
        return shifted.matches(values, e if e is not None else q)
    if e is None or e == q:
        return m.matches(values)
    if m.vr == "DA":
        date, time = _first(doc, f.tags[0]), _first(doc, _partner(f.keyword, "Date", "Time"))
        tkey = tm_key(time) if time else None
        if date is None or tkey is None:
            return m.matches(values)
        return m.key_in_range(to_utc(date + tkey, e - q)[:8])
    date, time = _first(doc, _partner(f.keyword, "Time", "Date")), _first(doc, f.tags[0])
    tkey = tm_key(time) if time else None
    if tkey is None:
        return m.matches(values)
    return m.key_in_range(to_utc((date or "20000101") + tkey, e - q)[8:])


# ---- the search ------------------------------------------------------------------------------


def search(
    conn: Connection,
    level: Level,
    compiled: CompiledFilters,
    *,
    study_uid: str | None = None,
    series_uid: str | None = None,
    limit: int | None = None,
    offset: int = 0,
    instance_json: bool = False,
    sop_classes: bool = False,
    private_fields: bool = False,
) -> SearchResult:
    """Run a QIDO search on the index.

    Parameters
    ----------
    conn: sqlalchemy.Connection
        A connection to the index.
    level: {"study", "series", "instance"}
        The query level.
    compiled: CompiledFilters
        The match keys (:func:`dicomfs.index.query_keys.compile_filters`).
    study_uid, series_uid: str, optional
        The scope (``/studies/{study}/series``, ``/studies/{study}/series/{series}/instances``).
    limit, offset: int
        Paging, validated by the caller (``limit=None``: no limit).
    instance_json: bool
        Parse the instances' ``attributes`` JSON (for returned instance-level attributes).
    sop_classes: bool
        Compute SOPClassesInStudy.
    private_fields: bool
        Study or series search: fill :attr:`SearchResult.private` for returned private
        attributes even without a private key.

    Returns
    -------
    SearchResult
    """
    filters = [f for f in compiled.filters if not f.universal]
    deep = [f for f in filters if level != "instance" and f.level == "instance"]
    filters = [f for f in filters if f not in deep]
    python: list[Filter] = list(deep)
    where: list[Any] = []
    for f in filters:
        clause, exact = _filter_sql(f, compiled.timezone)
        if clause is not None:
            where.append(clause)
        if not exact:
            python.append(f)
    if study_uid is not None:
        owner = {"study": Study.study_instance_uid, "series": Series.study_instance_uid,
                 "instance": Instance.study_instance_uid}[level]
        where.append(owner == study_uid)
    if series_uid is not None:
        where.append(Instance.series_instance_uid == series_uid)
    need_json = level == "instance" and (
        instance_json or any(f.level == "instance" for f in python))
    stmt = _entity_select(level, need_json, sop_classes)
    if where:
        stmt = stmt.where(and_(*where))
    if not python:
        if limit is not None:
            stmt = stmt.limit(limit)
        if offset:
            stmt = stmt.offset(offset)
    rows = conn.execute(stmt).all()
    result = SearchResult()
    if level == "instance":
        entities: list[Any] = [
            InstanceRow(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8],
                        row[9], json.loads(row[10] or "{}") if need_json else None)
            for row in rows
        ]
        result.series = load_series(conn, list(dict.fromkeys(r.series_uid for r in entities)))
        study_uids = list(dict.fromkeys(r.study_uid for r in entities))
        result.studies = load_studies(conn, study_uids, sop_classes)
    elif level == "series":
        entities = [row[0] for row in rows]
        result.series = {row[0]: SeriesInfo(row[1], json.loads(row[2] or "{}"), row[3] or 0)
                         for row in rows}
        study_uids = list(dict.fromkeys(row[1] for row in rows))
        result.studies = load_studies(conn, study_uids, sop_classes)
    else:
        entities = [row[0] for row in rows]
        result.studies = {row[0]: _study_info(row, sop_classes) for row in rows}
    shallow = [f for f in python if f not in deep]
    if shallow:
        entities = [e for e in entities if _passes(e, level, shallow, result, compiled.timezone)]
    if deep or (private_fields and level != "instance"):
        result.private = _private_parts(conn, level, entities, deep)
        if deep:
            entities = [e for e in entities if e in result.private]
    if python:
        end = None if limit is None else offset + limit
        entities = entities[offset:end]
    result.entities = entities
    return result


def _private_parts(
    conn: Connection, level: Level, uids: Sequence[str], deep: Sequence[Filter]
) -> dict[str, dict[str, Any]]:
    """Private elements of each study's or series' first instance that matches ``deep`` (A-10).

    Private attributes are stored with the instance; a study or series matches private keys
    when one of its instances matches all of them, and its private elements are that
    instance's. Without keys, each private element comes from the first instance holding it.
    Entities without a matching instance are left out.
    """
    owner = Instance.study_instance_uid if level == "study" else Instance.series_instance_uid
    out: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(list(uids)):
        stmt = select(owner, Instance.attributes).where(owner.in_(chunk)).order_by(
            owner, Instance.series_instance_uid, *_INSTANCE_ORDER)
        for uid, text in conn.execute(stmt):
            if deep and uid in out:
                continue
            doc = json.loads(text or "{}")
            if deep and not all(f.test(doc) for f in deep):
                continue
            part = out.setdefault(uid, {})
            for tag, element in doc.items():  # without keys: the first instance holding each
                if int(tag[:4], 16) % 2 and tag not in part:
                    part[tag] = element
    return out


def _passes(
    entity: Any, level: Level, filters: Sequence[Filter], result: SearchResult,
    timezone: int | None,
) -> bool:
    if level == "instance":
        row: InstanceRow = entity
        docs: dict[str, Mapping[str, Any]] = {
            "study": result.studies[row.study_uid].attributes,
            "series": result.series[row.series_uid].attributes,
            "instance": row.attributes or {},
        }
    elif level == "series":
        info = result.series[entity]
        docs = {"study": result.studies[info.study_uid].attributes, "series": info.attributes}
    else:
        docs = {"study": result.studies[entity].attributes}
    for f in filters:
        doc = docs[f.level]
        if timezone is not None and _is_date_time(f.matcher):
            ok = _tz_match(f.matcher, f, doc, _entity_offset(doc, docs["study"]), timezone)
        else:
            ok = f.test(doc)
        if not ok:
            return False
    return True
