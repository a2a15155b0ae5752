"""QIDO-RS for the file store: validate the arguments, search the index, build DICOM JSON.

What each result holds (PS3.18 §10.6.3.3; docs/conformance.md "QIDO-RS"):

* the required attributes of its level, present and empty (``{"vr": "SH"}``) when unknown (C-02,
  C-04, C-07, C-08), and the Type C ones when known (SpecificCharacterSet as stored, J-10 2025e;
  TimezoneOffsetFromUTC; InstanceAvailability ``ONLINE``; AvailableTransferSyntaxUID);
* for ``/series``, the study attributes too, and for ``/instances`` study and series ones (C-09);
  a scoped search (``/studies/{s}/series``, ``/studies/{s}/instances``) returns the levels
  below its scope plus the scope's UIDs;
* every match key (C-10), present and empty when the entity has no value (B-09);
* every ``fields`` (includefield) attribute of the query level or above, present and empty when
  unknown; lower-level ones are not returned (C-11); ``all`` returns every stored non-bulk
  attribute of the query level and the levels above (C-12);
* RetrieveURL (VR UR) to the entity's WADO-RS resource (C-13); computed counts as JSON numbers
  (VR IS) and ModalitiesInStudy / SOPClassesInStudy, distinct and sorted (C-05, C-06).

Keys of every object are sorted (PS3.18 F.2 2025a).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from dicomfs._types import DicomJSON, SearchFilters
from dicomfs.errors import InvalidQueryError
from dicomfs.index.attributes import (
    ALL_LEVELS,
    COMPUTED,
    COMPUTED_VR,
    DEFAULT_RETURN,
    GENERATED,
    REQUIRED,
    Level,
    tag_of,
    vr_of,
)
from dicomfs.index.matching import BINARY_VRS, UIDList, parse_value
from dicomfs.index.models import Study
from dicomfs.index.query import InstanceRow, SearchResult
from dicomfs.index.query import search as run_search
from dicomfs.index.query_keys import LEVEL_RANK, compile_filters, resolve_key

if TYPE_CHECKING:
    from dicomfs.file.context import StoreContext

__all__ = ["search"]

_LEVELS: tuple[Level, ...] = ("study", "series", "instance")
_TAG_LEVEL: dict[str, Level] = {tag_of(k): lvl for k, lvl in COMPUTED.items()}
_COMPUTED_TAG_VR = {tag_of(k): vr for k, vr in COMPUTED_VR.items()}
_ALL_LEVEL_TAGS = frozenset(tag_of(k) for k in ALL_LEVELS)
_RETRIEVE_URL = tag_of("RetrieveURL")
_AVAILABILITY = tag_of("InstanceAvailability")
_AVAILABLE_TS = tag_of("AvailableTransferSyntaxUID")
_GENERATED_TAGS = frozenset(tag_of(k) for k in GENERATED)
_STUDY_UID, _SERIES_UID = tag_of("StudyInstanceUID"), tag_of("SeriesInstanceUID")
#: Transfer syntaxes DICOMweb never sends (E-06): served as Explicit VR Little Endian.
_NATIVE_ONLY = {
    "1.2.840.10008.1.2": "1.2.840.10008.1.2.1",
    "1.2.840.10008.1.2.2": "1.2.840.10008.1.2.1",
}
#: Instance attributes the index has columns for (tag, VR, InstanceRow field): results need no
#: JSON parsing for them.
_INSTANCE_COLUMNS = (
    ("00080016", "UI", "sop_class_uid"), ("00080018", "UI", "sop_instance_uid"),
    ("00200013", "IS", "instance_number"), ("00280010", "US", "rows"),
    ("00280011", "US", "columns"), ("00280100", "US", "bits_allocated"),
    ("00280008", "IS", "number_of_frames"),
)
_INSTANCE_COLUMN_TAGS = frozenset(tag for tag, _, _ in _INSTANCE_COLUMNS)
_ONLINE = {"Value": ["ONLINE"], "vr": "CS"}
#: Larger than any index (and than SQL's 64-bit LIMIT/OFFSET): bigger limits and offsets are
#: clamped to it (a huge limit is "no limit", a huge offset is past the end: D-05, D-07).
_BEYOND = 2**62


@dataclass
class _Plan:
    """Which tags each level contributes to a result."""

    #: Tags returned present-or-empty, per level.
    always: dict[Level, dict[str, None]] = field(default_factory=dict)
    #: Tags returned only when known, per level.
    known: dict[Level, dict[str, None]] = field(default_factory=dict)
    #: Levels whose every stored attribute is returned (includefield=all).
    everything: set[Level] = field(default_factory=set)
    #: Study or series search: private tags returned from the entity's instances (A-10).
    private: dict[str, None] = field(default_factory=dict)


def _check_int(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidQueryError(f"{name} must be a non-negative integer, not {value!r} (A-05)")
    if value < 0:
        raise InvalidQueryError(f"{name} must be a non-negative integer, not {value} (A-05)")
    return min(value, _BEYOND)


def _check_uid(name: str, value: str | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidQueryError(f"{name} must be a UID string, not {value!r}")
    if parse_value("UI", value if value not in ("", "*") else "?") != UIDList((value,)):
        raise InvalidQueryError(f"{name} must be one UID, not {value!r}")  # B-08, A-11
    return value


def _field_names(fields: Sequence[str] | str | None) -> list[str]:
    if fields is None:
        return []
    if isinstance(fields, str):
        names: list[Any] = [fields]
    elif isinstance(fields, (list, tuple)):
        names = list(fields)
    else:
        raise InvalidQueryError(f"fields must be a list of keywords or tags, not {fields!r}")
    out: list[str] = []
    for name in names:
        if not isinstance(name, str):
            raise InvalidQueryError(f"invalid includefield {name!r}")
        parts = [part.strip() for part in name.split(",")]
        if not all(parts):
            raise InvalidQueryError(f"invalid includefield {name!r}: an empty name")
        out.extend(parts)
    return out


def _plan(
    level: Level, scope: Level | None, echo: Mapping[str, Level], fields: Sequence[str]
) -> _Plan:
    plan = _Plan()
    rank = LEVEL_RANK[level]
    shown = [lvl for lvl in _LEVELS if LEVEL_RANK[lvl] <= rank
             and (scope is None or LEVEL_RANK[lvl] > LEVEL_RANK[scope])]
    for lvl in _LEVELS:
        plan.always[lvl] = {}
        plan.known[lvl] = {}
    for lvl in shown:
        plan.always[lvl].update((tag_of(k), None) for k in REQUIRED[lvl])
        plan.known[lvl].update(
            (tag_of(k), None) for k in DEFAULT_RETURN[lvl] if k not in ALL_LEVELS
        )
    plan.known[level].update((t, None) for t in _ALL_LEVEL_TAGS)
    if scope is not None:
        plan.always["study"][_STUDY_UID] = None
        if scope == "series":
            plan.always["series"][_SERIES_UID] = None
    for tag, lvl in echo.items():
        if LEVEL_RANK[lvl] > rank:  # a private key of a study or series search
            plan.private[tag] = None
        else:
            plan.always[lvl][tag] = None
    for name in fields:
        if name == "all":  # a mixture of "all" and names is "all"
            plan.everything.update(lvl for lvl in _LEVELS if LEVEL_RANK[lvl] <= rank)
            continue
        key = resolve_key(name)
        lvl = level if key.any_level else key.level
        if key.private and LEVEL_RANK[lvl] > rank:  # from the entity's instances
            plan.private[key.top] = None
            continue
        if LEVEL_RANK[lvl] > rank:  # C-11: lower-level includefields are not returned
            continue
        if len(key.path) == 1 and key.vr in BINARY_VRS:
            # Long binary values (Pixel Data...) are not in the index: return what it has,
            # never claim that an attribute the file holds is empty.
            plan.known[lvl][key.top] = None
        else:
            plan.always[lvl][key.top] = None
    return plan


def search(
    ctx: StoreContext,
    level: Level,
    *,
    study_instance_uid: str | None = None,
    series_instance_uid: str | None = None,
    fuzzymatching: bool | None = None,
    limit: int | None = None,
    offset: int | None = None,
    fields: Sequence[str] | None = None,
    search_filters: SearchFilters | None = None,
    get_remaining: bool = False,
) -> list[DicomJSON]:
    """Search the store's index (QIDO-RS ``/studies``, ``/series``, ``/instances``).

    Parameters
    ----------
    ctx: StoreContext
        The store.
    level: {"study", "series", "instance"}
        The query level.
    study_instance_uid, series_instance_uid: str, optional
        The scope; an unknown scope gives ``[]`` (D-10).
    fuzzymatching: bool, optional
        PN only: also match a case-insensitive prefix of any name component (API.md).
    limit, offset: int, optional
        Paging over a stable order (C-14); ``limit=0`` gives ``[]`` (D-08).
    fields: sequence of str, optional
        includefield: keywords or tags, or ``"all"``.
    search_filters: dict, optional
        Match keys: keyword, tag or dotted sequence path -> value (str, number or list).
    get_remaining: bool
        Return every result from ``offset`` on: ``limit`` is then only the page size a web
        client would use (dicomweb-client's behaviour, D-06). Without it the file store has
        no page cap either: every match is returned unless ``limit`` is given.

    Returns
    -------
    list[dict]
        DICOM JSON objects, ``[]`` when nothing matches.

    Raises
    ------
    InvalidQueryError
        A malformed argument, unknown key, malformed value or a key below the query level.
    """
    if level not in _LEVELS:
        raise InvalidQueryError(f"invalid query level {level!r}")
    if fuzzymatching is not None and not isinstance(fuzzymatching, bool):
        raise InvalidQueryError(
            f"fuzzymatching must be True, False or None, not {fuzzymatching!r}"
        )
    if not isinstance(get_remaining, bool):
        raise InvalidQueryError(f"get_remaining must be a bool, not {get_remaining!r}")
    max_results = _check_int("limit", limit)
    skip = _check_int("offset", offset) or 0
    study_uid = _check_uid("study_instance_uid", study_instance_uid)
    series_uid = _check_uid("series_instance_uid", series_instance_uid)
    if series_uid is not None and study_uid is None:
        raise InvalidQueryError("series_instance_uid requires study_instance_uid")
    if level == "study" and study_uid is not None:
        raise InvalidQueryError("a study search takes no study_instance_uid")
    if level == "series" and series_uid is not None:
        raise InvalidQueryError("a series search takes no series_instance_uid")
    compiled = compile_filters(level, search_filters, bool(fuzzymatching))
    names = _field_names(fields)
    scope: Level | None = "series" if series_uid else "study" if study_uid else None
    plan = _plan(level, scope, compiled.echo, names)
    if max_results == 0 or skip >= _BEYOND:
        return []
    if get_remaining or max_results == _BEYOND:
        # D-06: dicomweb-client pages with offset += len(page) until an empty page, so with
        # get_remaining ``limit`` is only a page size and everything from ``offset`` comes back.
        max_results = None
    instance_json = level == "instance" and (
        "instance" in plan.everything
        or any(t not in _INSTANCE_COLUMN_TAGS and t not in _GENERATED_TAGS
               for t in plan.always["instance"])
        or any(t not in _INSTANCE_COLUMN_TAGS and t not in _ALL_LEVEL_TAGS
               for t in plan.known["instance"])
    )
    sop_classes = "00080062" in plan.always["study"] or "study" in plan.everything
    with _gc_paused(), ctx.repo.engine.connect() as conn:
        found = run_search(
            conn, level, compiled, study_uid=study_uid, series_uid=series_uid,
            limit=max_results, offset=skip, instance_json=instance_json, sop_classes=sop_classes,
            private_fields=bool(plan.private),
        )
        patients = (
            _patient_counts(conn, found)
            if "00201200" in plan.always["study"] or "study" in plan.everything else {}
        )
        return _Builder(ctx.base_url, level, plan, found, patients).results()


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector during a search.

    A search allocates many small dicts and lists (about 700,000 for 20,000 instance results),
    none of them cyclic; without the pause CPython runs full collections over every live object
    of the process again and again, which triples the time of a large search. The collector is
    re-enabled (if it was enabled) when the search returns or raises.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _patient_counts(conn: Any, found: SearchResult) -> dict[str, int]:
    ids = {
        str(v[0]) for s in found.studies.values()
        if (v := (s.attributes.get("00100020") or {}).get("Value"))
    }
    if not ids:
        return {}
    stmt = select(Study.patient_id, func.count()).where(Study.patient_id.in_(sorted(ids)))
    return {row[0]: row[1] for row in conn.execute(stmt.group_by(Study.patient_id))}


class _Builder:
    """Builds the result objects, caching the study and series parts per query."""

    def __init__(
        self, base_url: str, level: Level, plan: _Plan, found: SearchResult,
        patients: Mapping[str, int],
    ) -> None:
        self.base = base_url
        self.level = level
        self.plan = plan
        self.found = found
        self.patients = patients
        self._study_parts: dict[str, dict[str, Any]] = {}
        self._series_parts: dict[str, dict[str, Any]] = {}
        self._instance_bases: dict[str, dict[str, Any]] = {}
        self._orders: dict[tuple[str, tuple[str, ...]], list[str]] = {}
        self._syntaxes: dict[str, dict[str, Any]] = {}
        wanted = {**dict.fromkeys(plan.known["instance"], False),
                  **dict.fromkeys(plan.always["instance"], True)}
        self._column_plan = [
            (tag, vr, name, wanted[tag]) for tag, vr, name in _INSTANCE_COLUMNS if tag in wanted
        ]

    # ---- per-level parts ----
    def _part(
        self, lvl: Level, doc: Mapping[str, Any], computed: Mapping[str, Any],
        parents: Sequence[Mapping[str, Any]] = (),
    ) -> dict[str, Any]:
        part: dict[str, Any] = {}
        if lvl in self.plan.everything:
            part.update(doc)
            part.update(computed)
        for tag in self.plan.known[lvl]:
            element = doc.get(tag) or computed.get(tag)
            if element is None and tag in _ALL_LEVEL_TAGS:
                element = next((p[tag] for p in parents if tag in p), None)
            if element is not None:
                part[tag] = element
        for tag in self.plan.always[lvl]:
            element = doc.get(tag) or computed.get(tag)
            if element is None and tag in _ALL_LEVEL_TAGS:
                element = next((p[tag] for p in parents if tag in p), None)
            if element is None and tag not in _GENERATED_TAGS:
                element = {"vr": _COMPUTED_TAG_VR.get(tag) or vr_of(tag)}
            if element is not None:
                part[tag] = element
            if int(tag[:4], 16) % 2 and int(tag[4:], 16) > 0xFF:  # private: add its creator
                creator = f"{tag[:4]}00{tag[4:6]}"
                if creator in doc:
                    part[creator] = doc[creator]
        return part

    def _study(self, uid: str) -> dict[str, Any]:
        part = self._study_parts.get(uid)
        if part is None:
            info = self.found.studies[uid]
            computed: dict[str, Any] = {
                "00201206": {"Value": [info.series], "vr": "IS"},
                "00201208": {"Value": [info.instances], "vr": "IS"},
                "00080061": {"Value": info.modalities, "vr": "CS"} if info.modalities
                else {"vr": "CS"},
            }
            if info.sop_classes is not None:
                computed["00080062"] = (
                    {"Value": info.sop_classes, "vr": "UI"} if info.sop_classes else {"vr": "UI"}
                )
            pid = (info.attributes.get("00100020") or {}).get("Value")
            if pid and str(pid[0]) in self.patients:
                computed["00201200"] = {"Value": [self.patients[str(pid[0])]], "vr": "IS"}
            part = self._part("study", info.attributes, computed)
            if self.level == "study":
                self._add_private(part, uid)
            self._study_parts[uid] = part
        return part

    def _series(self, uid: str) -> dict[str, Any]:
        part = self._series_parts.get(uid)
        if part is None:
            info = self.found.series[uid]
            computed = {"00201209": {"Value": [info.instances], "vr": "IS"}}
            study = self.found.studies[info.study_uid].attributes
            part = {**self._study(info.study_uid),
                    **self._part("series", info.attributes, computed, (study,))}
            if self.level == "series":
                self._add_private(part, uid)
            self._series_parts[uid] = part
        return part

    def _add_private(self, part: dict[str, Any], uid: str) -> None:
        """Private attributes of a study or series result, from its instances (A-10)."""
        found = self.found.private.get(uid, {})
        for tag in self.plan.private:
            part[tag] = found.get(tag) or {"vr": vr_of(tag)}
            creator = f"{tag[:4]}00{tag[4:6]}"
            if int(tag[4:], 16) > 0xFF and creator in found:
                part[creator] = found[creator]

    # ---- results ----
    def results(self) -> list[DicomJSON]:
        if self.level == "study":
            return [self._finish(self._study(uid), f"/studies/{uid}")
                    for uid in self.found.entities]
        if self.level == "series":
            out = []
            for uid in self.found.entities:
                study_uid = self.found.series[uid].study_uid
                out.append(self._finish(self._series(uid),
                                        f"/studies/{study_uid}/series/{uid}"))
            return out
        return [self._instance(row) for row in self.found.entities]

    def _instance(self, row: InstanceRow) -> DicomJSON:
        if row.attributes is None:
            return self._instance_from_columns(row)
        parent = self._series(row.series_uid)
        ts = _NATIVE_ONLY.get(row.transfer_syntax_uid, row.transfer_syntax_uid)
        computed = {_AVAILABLE_TS: {"Value": [ts], "vr": "UI"}}
        study = self.found.studies[row.study_uid].attributes
        series = self.found.series[row.series_uid].attributes
        part = self._part("instance", row.attributes, computed, (series, study))
        part[_AVAILABLE_TS] = computed[_AVAILABLE_TS]
        return self._finish(
            {**parent, **part},
            f"/studies/{row.study_uid}/series/{row.series_uid}/instances/{row.sop_instance_uid}",
        )

    def _instance_from_columns(self, row: InstanceRow) -> DicomJSON:
        """Fast path: every returned instance attribute has a column (no JSON parsing)."""
        base = self._instance_bases.get(row.series_uid)
        if base is None:
            study = self.found.studies[row.study_uid].attributes
            series = self.found.series[row.series_uid].attributes
            base = dict(self._series(row.series_uid))
            for tag in self.plan.known["instance"]:
                if tag in _ALL_LEVEL_TAGS:
                    element = series.get(tag) or study.get(tag)
                    if element is not None:
                        base[tag] = element
            base[_AVAILABILITY] = _ONLINE
            self._instance_bases[row.series_uid] = base
        inst: dict[str, Any] = {}
        for tag, vr, name, required in self._column_plan:
            value = getattr(row, name)
            if value is not None:
                inst[tag] = {"Value": [value], "vr": vr}
            elif required:
                inst[tag] = {"vr": vr}
        ts = row.transfer_syntax_uid
        element = self._syntaxes.get(ts)
        if element is None:
            element = {"Value": [_NATIVE_ONLY.get(ts, ts)], "vr": "UI"}
            self._syntaxes[ts] = element
        inst[_AVAILABLE_TS] = element
        inst[_RETRIEVE_URL] = {"Value": [
            f"{self.base}/studies/{row.study_uid}/series/{row.series_uid}/instances/"
            f"{row.sop_instance_uid}"], "vr": "UR"}
        key = (row.series_uid, tuple(inst))
        order = self._orders.get(key)
        if order is None:
            order = sorted({*base, *inst})
            self._orders[key] = order
        return {tag: inst[tag] if tag in inst else base[tag] for tag in order}

    def _finish(self, merged: dict[str, Any], path: str) -> DicomJSON:
        merged = dict(merged)
        merged[_RETRIEVE_URL] = {"Value": [self.base + path], "vr": "UR"}
        merged[_AVAILABILITY] = _ONLINE
        return {tag: merged[tag] for tag in sorted(merged)}
