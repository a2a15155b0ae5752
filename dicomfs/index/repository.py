"""The index repository: the only code that writes the index, and the read side WADO needs.

Rules kept here
---------------
* **Idempotent upserts.** :meth:`Repository.upsert` inserts or updates the files, studies, series
  and instances of its records; upserting the same records again changes nothing.
* **One instance per SOP Instance UID.** When two files hold the same SOP Instance UID, the file
  with the lexicographically smallest relative path is indexed and the other is rejected with the
  reason ``"duplicate of <kept path>"``; the rule holds across incremental syncs (a smaller path
  that appears later takes over, and the file it replaces becomes the duplicate).
* **Study and series attributes: the latest file wins (CONFORMANCE C-15).** When instances of a
  study (or series) disagree on a study-level value, the study row and its ``attributes`` come
  from the instance whose file has the greatest ``(mtime_ns, path)``: the most recently written
  file, ties broken by the greater path. The rule depends only on what is indexed, never on the
  order files were read, and it is re-applied whenever instances are added, updated or removed.
* **Empty studies and series are dropped** when their last instance goes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import (
    Connection,
    Engine,
    Table,
    and_,
    bindparam,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.orm import Session

from dicomfs.errors import BadRequestError, NotFoundError
from dicomfs.index.columns import series_columns, split_levels, study_columns
from dicomfs.index.engine import write_transaction
from dicomfs.index.fastread import InstanceReader
from dicomfs.index.models import File, Instance, Series, Study
from dicomfs.index.records import InstanceRecord, Rejection, StoredInstance

__all__ = [
    "DUPLICATE_PREFIX",
    "INSTANCE_COLUMNS",
    "SERIES_COLUMNS",
    "STUDY_COLUMNS",
    "PreparedInstance",
    "Repository",
    "prepare",
]

#: Reason of a file rejected because another file holds the same SOP Instance UID.
DUPLICATE_PREFIX = "duplicate of "

FILES: Table = File.__table__  # type: ignore[assignment]
STUDIES: Table = Study.__table__  # type: ignore[assignment]
SERIES: Table = Series.__table__  # type: ignore[assignment]
INSTANCES: Table = Instance.__table__  # type: ignore[assignment]

#: Bound parameters per ``IN (...)`` clause (SQLite's limit is 32766 on recent versions).
_CHUNK = 900

_STUDY_COLS = [c.name for c in STUDIES.columns if c.name != "attributes"]
_SERIES_COLS = [c.name for c in SERIES.columns if c.name != "attributes"]
_INSTANCE_COLS = [c.name for c in INSTANCES.columns if c.name not in ("attributes", "file_id")]

T = TypeVar("T")


def _chunks(items: Sequence[T], size: int = _CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _dumps(attributes: dict[str, Any]) -> str:
    return json.dumps(attributes, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class PreparedInstance(NamedTuple):
    """An instance ready for the index: the compact form the scanner's workers send back.

    ``values`` holds the ``instances`` columns in :data:`INSTANCE_COLUMNS` order and
    ``attributes`` the instance's DICOM JSON as stored (text). ``study`` and ``series`` hold the
    row the instance gives its study and series when it wins their "latest file" rule: the
    columns in :data:`STUDY_COLUMNS` / :data:`SERIES_COLUMNS` order, then the attributes text.
    """

    path: str
    size: int
    mtime_ns: int
    values: tuple[Any, ...]
    attributes: str
    study: tuple[Any, ...]
    series: tuple[Any, ...]

    @property
    def sop_instance_uid(self) -> str:
        return str(self.values[_SOP])


#: The ``instances`` columns of :attr:`PreparedInstance.values` (not file_id, not attributes).
INSTANCE_COLUMNS = tuple(_INSTANCE_COLS)
#: The ``studies`` and ``series`` columns of :class:`PreparedInstance` (then ``attributes``).
STUDY_COLUMNS = tuple(_STUDY_COLS)
SERIES_COLUMNS = tuple(_SERIES_COLS)
_SOP = INSTANCE_COLUMNS.index("sop_instance_uid")
_STUDY = INSTANCE_COLUMNS.index("study_instance_uid")
_SERIES = INSTANCE_COLUMNS.index("series_instance_uid")
_FRAGMENTS = INSTANCE_COLUMNS.index("frame_fragments")
_HAS_META = INSTANCE_COLUMNS.index("has_file_meta")


def prepare(
    path: str,
    size: int,
    mtime_ns: int,
    instance: dict[str, Any],
    attributes: dict[str, Any],
    texts: tuple[str, str, str] | None = None,
) -> PreparedInstance:
    """The :class:`PreparedInstance` of a file from its instance columns and DICOM JSON.

    ``texts``, when given, are the stored forms (``json.dumps`` with sorted keys, compact
    separators and ``ensure_ascii=False``) of ``attributes`` and of its study and series parts
    (:func:`~dicomfs.index.columns.split_levels`), made by the caller.
    """
    row = [instance.get(name) for name in INSTANCE_COLUMNS]
    fragments = row[_FRAGMENTS]
    if fragments is not None and not isinstance(fragments, str):
        row[_FRAGMENTS] = json.dumps(fragments, separators=(",", ":"))
    if row[_HAS_META] is None:
        row[_HAS_META] = True
    if texts is None:
        study_json, series_json = split_levels(attributes)
        texts = (_dumps(attributes), _dumps(study_json), _dumps(series_json))
    study = study_columns(attributes)
    series = series_columns(attributes)
    return PreparedInstance(
        path,
        size,
        mtime_ns,
        tuple(row),
        texts[0],
        (*[study[name] for name in STUDY_COLUMNS], texts[1]),
        (*[series[name] for name in SERIES_COLUMNS], texts[2]),
    )


def _prepared(record: InstanceRecord | PreparedInstance) -> PreparedInstance:
    if isinstance(record, PreparedInstance):
        return record
    if not isinstance(record, InstanceRecord):
        raise BadRequestError(f"not an InstanceRecord: {record!r}")
    return prepare(
        record.path, record.size, record.mtime_ns, record.instance, record.instance_attributes
    )


class Repository:
    """The index of one store.

    Parameters
    ----------
    engine: sqlalchemy.Engine
        Made by :func:`dicomfs.index.engine.create_index_engine`, already migrated
        (:func:`dicomfs.index.migrate.upgrade`).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._reader = InstanceReader(engine, _INSTANCE_COLS)

    def close(self) -> None:
        """Release every connection of this thread and the engine's pool."""
        self._reader.close()
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"Repository({self.engine.url.render_as_string(hide_password=True)!r})"

    # ---- helpers -----------------------------------------------------------------------------
    @contextmanager
    def session(self) -> Iterator[Session]:
        """A read session (for QIDO's queries); do not write through it."""
        with Session(self.engine) as session:
            yield session

    def _write(self, work: Callable[[Connection], T]) -> T:
        return write_transaction(self.engine, work)

    def _placeholder(self) -> str:
        return "?" if self.engine.dialect.paramstyle == "qmark" else "%s"

    def _upsert_files(self, conn: Connection, rows: list[tuple[Any, ...]]) -> None:
        """Insert or update ``(path, size, mtime_ns, rejected_reason, sop_instance_uid)`` rows."""
        if not rows:
            return
        p = self._placeholder()
        conn.exec_driver_sql(
            "INSERT INTO files (path, size, mtime_ns, rejected_reason, sop_instance_uid) "
            f"VALUES ({p}, {p}, {p}, {p}, {p}) ON CONFLICT (path) DO UPDATE SET "
            "size = excluded.size, mtime_ns = excluded.mtime_ns, "
            "rejected_reason = excluded.rejected_reason, "
            "sop_instance_uid = excluded.sop_instance_uid",
            rows,
        )

    # ---- writes ------------------------------------------------------------------------------
    def upsert(
        self, records: Sequence[InstanceRecord | PreparedInstance]
    ) -> list[Rejection]:
        """Insert or update the index rows of readable files, in one transaction.

        Parameters
        ----------
        records: sequence of InstanceRecord or PreparedInstance
            Made by :func:`dicomfs.storage.scan.read_file` (or the scanner's workers).

        Returns
        -------
        list of Rejection
            Files rejected as duplicates of another file with the same SOP Instance UID: records
            of this call, or files indexed before and displaced by a smaller path.
        """
        return self.write_batch(records, [])

    def write_batch(
        self,
        records: Sequence[InstanceRecord | PreparedInstance],
        rejections: Sequence[tuple[Rejection, int, int, str | None]],
    ) -> list[Rejection]:
        """:meth:`upsert` the records and :meth:`reject_many` the rejections, in one transaction.

        Returns
        -------
        list of Rejection
            The duplicates found among the records (as :meth:`upsert`).
        """
        prepared = [_prepared(record) for record in records]
        _check_rejections(rejections)
        if not prepared and not rejections:
            return []

        def work(conn: Connection) -> list[Rejection]:
            duplicates = self._upsert(conn, prepared) if prepared else []
            if rejections:
                self._reject(conn, rejections)
            return duplicates

        return self._write(work)

    def _upsert(self, conn: Connection, records: Sequence[PreparedInstance]) -> list[Rejection]:
        by_path = {r.path: r for r in records}  # a path given twice: the last record counts
        keep: dict[str, PreparedInstance] = {}
        rejected: list[Rejection] = []
        dup_rows: list[tuple[Any, ...]] = []
        for path in sorted(by_path):
            record = by_path[path]
            sop = record.values[_SOP]
            if sop in keep:
                reason = DUPLICATE_PREFIX + keep[sop].path
                rejected.append(Rejection(path, reason))
                dup_rows.append((path, record.size, record.mtime_ns, reason, sop))
            else:
                keep[sop] = record
        touched_studies: set[str] = set()
        touched_series: set[str] = set()
        # Instances that hold these SOP Instance UIDs already (under this path or another).
        holders: dict[str, str] = {}
        for sop, held, study, series in self._select_in(
            conn,
            "SELECT i.sop_instance_uid, f.path, i.study_instance_uid, i.series_instance_uid "
            "FROM instances i JOIN files f ON f.id = i.file_id WHERE i.sop_instance_uid IN",
            list(keep),
        ):
            holders[sop] = held
            touched_studies.add(study)
            touched_series.add(series)
        for sop, held in holders.items():
            record = keep[sop]
            if held == record.path:
                continue
            if held < record.path:
                del keep[sop]
                reason = DUPLICATE_PREFIX + held
                rejected.append(Rejection(record.path, reason))
                dup_rows.append((record.path, record.size, record.mtime_ns, reason, sop))
            else:
                reason = DUPLICATE_PREFIX + record.path
                rejected.append(Rejection(held, reason))
                conn.execute(
                    update(FILES).where(FILES.c.path == held).values(rejected_reason=reason)
                )
        kept = list(keep.values())
        # Instances that these files held before, and those holding the kept SOPs, go first.
        paths = [r.path for r in kept] + [row[0] for row in dup_rows]
        studies, series = self._drop_instances_of_paths(conn, paths)
        touched_studies |= studies
        touched_series |= series
        sops = [sop for sop, held in holders.items() if sop in keep]
        for chunk in _chunks(sops):
            conn.execute(delete(INSTANCES).where(INSTANCES.c.sop_instance_uid.in_(chunk)))
        self._upsert_files(
            conn, [(r.path, r.size, r.mtime_ns, None, r.values[_SOP]) for r in kept] + dup_rows
        )
        if not kept:
            self._refresh(conn, touched_studies, touched_series, {})
            return rejected
        touched_studies.update(r.values[_STUDY] for r in kept)
        touched_series.update(r.values[_SERIES] for r in kept)
        # Parents first (placeholders, filled in by _refresh), then the instances.
        p = self._placeholder()
        conn.exec_driver_sql(
            f"INSERT INTO studies (study_instance_uid, attributes) VALUES ({p}, '{{}}') "
            "ON CONFLICT (study_instance_uid) DO NOTHING",
            [(uid,) for uid in sorted({r.values[_STUDY] for r in kept})],
        )
        conn.exec_driver_sql(
            "INSERT INTO series (series_instance_uid, study_instance_uid, attributes) "
            f"VALUES ({p}, {p}, '{{}}') ON CONFLICT (series_instance_uid) DO NOTHING",
            sorted({r.values[_SERIES]: r.values[_STUDY] for r in kept}.items()),
        )
        names = ", ".join((*INSTANCE_COLUMNS, "attributes", "file_id"))
        marks = ", ".join([p] * (len(INSTANCE_COLUMNS) + 1))
        conn.exec_driver_sql(
            f"INSERT INTO instances ({names}) "
            f"VALUES ({marks}, (SELECT id FROM files WHERE path = {p}))",
            [(*r.values, r.attributes, r.path) for r in kept],
        )
        self._refresh(conn, touched_studies, touched_series, {r.path: r for r in kept})
        return rejected

    def _select_in(
        self, conn: Connection, sql: str, keys: Sequence[Any], suffix: str = ""
    ) -> Iterator[tuple[Any, ...]]:
        """Rows of ``sql ... IN (keys) suffix``, in chunks of bound parameters."""
        p = self._placeholder()
        for chunk in _chunks(keys):
            marks = ", ".join([p] * len(chunk))
            yield from conn.exec_driver_sql(f"{sql} ({marks}){suffix}", tuple(chunk)).tuples()

    def _refresh(
        self,
        conn: Connection,
        studies: Iterable[str],
        series: Iterable[str],
        batch: dict[str, PreparedInstance],
    ) -> None:
        """Re-apply "latest file wins" to these studies and series; drop the empty ones."""
        for level, uids in (("study", sorted(studies)), ("series", sorted(series))):
            table = STUDIES if level == "study" else SERIES
            column = "study_instance_uid" if level == "study" else "series_instance_uid"
            names = STUDY_COLUMNS if level == "study" else SERIES_COLUMNS
            ranked = (
                f"SELECT uid, path FROM (SELECT i.{column} AS uid, f.path AS path, "
                f"row_number() OVER (PARTITION BY i.{column} "
                "ORDER BY f.mtime_ns DESC, f.path DESC) AS rn "
                f"FROM instances i JOIN files f ON f.id = i.file_id WHERE i.{column} IN"
            )
            winners: dict[str, str] = {
                uid: path
                for uid, path in self._select_in(conn, ranked, uids, ") ranked WHERE rn = 1")
            }
            empty = [uid for uid in uids if uid not in winners]
            pk = table.primary_key.columns.values()[0]
            for chunk in _chunks(empty):
                conn.execute(delete(table).where(pk.in_(chunk)))
            stored = self._attributes_of_paths(
                conn, [path for path in winners.values() if path not in batch]
            )
            updates: list[dict[str, Any]] = []
            for uid, path in winners.items():
                record = batch.get(path)
                if record is not None:
                    own = record.study if level == "study" else record.series
                    row = dict(zip((*names, "attributes"), own, strict=True))
                else:
                    attributes = stored[path]
                    study_json, series_json = split_levels(attributes)
                    if level == "study":
                        row = {**study_columns(attributes), "attributes": _dumps(study_json)}
                    else:
                        row = {**series_columns(attributes), "attributes": _dumps(series_json)}
                row["b_uid"] = uid
                updates.append(row)
            if updates:
                values: dict[str, Any] = {
                    c: bindparam(c) for c in updates[0] if c not in ("b_uid", pk.name)
                }
                conn.execute(update(table).where(pk == bindparam("b_uid")).values(values), updates)

    def _attributes_of_paths(self, conn: Connection, paths: Sequence[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for chunk in _chunks(list(paths)):
            query = (
                select(FILES.c.path, INSTANCES.c.attributes)
                .join(FILES, FILES.c.id == INSTANCES.c.file_id)
                .where(FILES.c.path.in_(chunk))
            )
            out.update({row.path: json.loads(row.attributes) for row in conn.execute(query)})
        return out

    def reject(
        self,
        path: str,
        size: int,
        mtime_ns: int,
        reason: str,
        sop_instance_uid: str | None = None,
    ) -> None:
        """Record a file the index cannot use (replacing what was indexed from that path)."""
        self.reject_many([(Rejection(path, reason), size, mtime_ns, sop_instance_uid)])

    def reject_many(
        self, rejections: Sequence[tuple[Rejection, int, int, str | None]]
    ) -> None:
        """Record many rejected files at once: ``(rejection, size, mtime_ns, sop_uid)`` each."""
        self.write_batch([], rejections)

    def _reject(
        self, conn: Connection, rejections: Sequence[tuple[Rejection, int, int, str | None]]
    ) -> None:
        paths = [r.path for r, *_ in rejections]
        studies, series = self._drop_instances_of_paths(conn, paths)
        self._upsert_files(
            conn, [(r.path, size, mtime, r.reason, sop) for r, size, mtime, sop in rejections]
        )
        self._refresh(conn, studies, series, {})

    def _drop_instances_of_paths(
        self, conn: Connection, paths: Sequence[str]
    ) -> tuple[set[str], set[str]]:
        studies: set[str] = set()
        series: set[str] = set()
        rows = list(
            self._select_in(
                conn,
                "SELECT i.study_instance_uid, i.series_instance_uid, i.file_id "
                "FROM instances i JOIN files f ON f.id = i.file_id WHERE f.path IN",
                paths,
            )
        )
        studies.update(row[0] for row in rows)
        series.update(row[1] for row in rows)
        for chunk in _chunks([row[2] for row in rows]):
            conn.execute(delete(INSTANCES).where(INSTANCES.c.file_id.in_(chunk)))
        return studies, series

    def remove_paths(self, paths: Iterable[str]) -> None:
        """Forget files (indexed or rejected), their instances, and studies/series left empty."""
        paths = list(paths)
        if not paths:
            return

        def work(conn: Connection) -> None:
            studies, series = self._drop_instances_of_paths(conn, paths)
            for chunk in _chunks(paths):
                conn.execute(delete(FILES).where(FILES.c.path.in_(chunk)))
            self._refresh(conn, studies, series, {})

        self._write(work)

    def delete(
        self, study: str, series: str | None = None, sop: str | None = None
    ) -> list[str]:
        """Remove a study, series or instance from the index.

        Returns
        -------
        list of str
            Relative paths of the files that held the removed instances (the caller removes
            them from the tree), sorted.

        Raises
        ------
        NotFoundError
            Nothing matches (the hierarchy is checked).
        """

        def work(conn: Connection) -> list[str]:
            query = _instances_query(study, series, sop).with_only_columns(
                FILES.c.path, FILES.c.id, INSTANCES.c.series_instance_uid
            )
            rows = conn.execute(query).all()
            if not rows:
                raise NotFoundError(_not_found(study, series, sop))
            ids = [row.id for row in rows]
            for chunk in _chunks(ids):
                conn.execute(delete(INSTANCES).where(INSTANCES.c.file_id.in_(chunk)))
                conn.execute(delete(FILES).where(FILES.c.id.in_(chunk)))
            self._refresh(conn, {study}, {row.series_instance_uid for row in rows}, {})
            return sorted(row.path for row in rows)

        return self._write(work)

    # ---- reads -------------------------------------------------------------------------------
    def file_states(self) -> dict[str, tuple[int, int, bool]]:
        """``path -> (size, mtime_ns, rejected)`` of every file the index has seen."""
        query = select(FILES.c.path, FILES.c.size, FILES.c.mtime_ns, FILES.c.rejected_reason)
        with self.engine.connect() as conn:
            return {
                path: (size, mtime, reason is not None)
                for path, size, mtime, reason in conn.execute(query)
            }

    def rejections(self) -> list[Rejection]:
        """Every rejected file, sorted by path."""
        query = (
            select(FILES.c.path, FILES.c.rejected_reason)
            .where(FILES.c.rejected_reason.is_not(None))
            .order_by(FILES.c.path)
        )
        with self.engine.connect() as conn:
            return [Rejection(path, reason) for path, reason in conn.execute(query)]

    def orphaned_duplicates(self) -> list[str]:
        """Paths rejected as duplicates whose SOP Instance UID is no longer indexed (re-read)."""
        indexed = select(INSTANCES.c.sop_instance_uid).where(
            INSTANCES.c.sop_instance_uid == FILES.c.sop_instance_uid
        )
        query = (
            select(FILES.c.path)
            .where(
                and_(
                    FILES.c.rejected_reason.like(DUPLICATE_PREFIX + "%"),
                    ~indexed.exists(),
                )
            )
            .order_by(FILES.c.path)
        )
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def path_of_sop(self, sop_instance_uid: str) -> str | None:
        """Relative path of the file holding an instance, or ``None``."""
        query = (
            select(FILES.c.path)
            .join(INSTANCES, FILES.c.id == INSTANCES.c.file_id)
            .where(INSTANCES.c.sop_instance_uid == sop_instance_uid)
        )
        with self.engine.connect() as conn:
            return conn.execute(query).scalar_one_or_none()

    def paths_of_sops(self, sop_instance_uids: Sequence[str]) -> dict[str, str]:
        """``SOP Instance UID -> relative path`` of the files holding these instances.

        UIDs not indexed are left out. A file SQLite index answers on this thread's plain
        read-only connection (:mod:`dicomfs.index.fastread`), which sees every committed write.
        """
        sops = list(dict.fromkeys(sop_instance_uids))
        if not sops:
            return {}
        if self._reader.available:
            return self._reader.paths_of_sops(sops)
        out: dict[str, str] = {}
        with self.engine.connect() as conn:
            sql = (
                "SELECT i.sop_instance_uid, f.path FROM instances i "
                "JOIN files f ON f.id = i.file_id WHERE i.sop_instance_uid IN"
            )
            out.update(self._select_in(conn, sql, sops))
        return out

    def instances(
        self, study: str, series: str | None = None, sop: str | None = None
    ) -> list[StoredInstance]:
        """The instances of a study, series or one instance (hierarchy checked; ``[]`` if none).

        Ordered by SeriesNumber, SeriesInstanceUID, InstanceNumber, SOPInstanceUID (absent
        numbers last).
        """
        if sop is not None and series is None:
            raise BadRequestError("an instance is addressed by its study and series")
        query = _instances_query(study, series, sop).order_by(
            SERIES.c.series_number.is_(None),
            SERIES.c.series_number,
            SERIES.c.series_instance_uid,
            INSTANCES.c.instance_number.is_(None),
            INSTANCES.c.instance_number,
            INSTANCES.c.sop_instance_uid,
        )
        with self.engine.connect() as conn:
            return [_stored(row) for row in conn.execute(query)]

    def instance(self, study: str, series: str, sop: str) -> StoredInstance:
        """One instance; raises :class:`~dicomfs.errors.NotFoundError` when unknown.

        This is the hot path of every frame request: on a file SQLite index it runs one prepared
        SELECT on a per-thread sqlite3 connection (:mod:`dicomfs.index.fastread`).
        """
        if self._reader.available:
            row = self._reader.find(study, series, sop)
        else:
            with self.engine.connect() as conn:
                params = {"study": study, "series": series, "sop": sop}
                row = conn.execute(_ONE_INSTANCE, params).first()
        if row is None:
            raise NotFoundError(_not_found(study, series, sop))
        return _stored(row)

    def instance_attributes(self, study: str, series: str, sop: str) -> dict[str, Any]:
        """The stored DICOM JSON of one instance (all levels, no bulk data)."""
        query = _instances_query(study, series, sop).with_only_columns(INSTANCES.c.attributes)
        with self.engine.connect() as conn:
            text = conn.execute(query).scalar_one_or_none()
        if text is None:
            raise NotFoundError(_not_found(study, series, sop))
        loaded: dict[str, Any] = json.loads(text)
        return loaded

    def counts(self) -> dict[str, int]:
        """Numbers of studies, series, instances and rejected files."""
        with self.engine.connect() as conn:
            return {
                "studies": conn.execute(select(func.count()).select_from(STUDIES)).scalar_one(),
                "series": conn.execute(select(func.count()).select_from(SERIES)).scalar_one(),
                "instances": conn.execute(
                    select(func.count()).select_from(INSTANCES)
                ).scalar_one(),
                "rejected": conn.execute(
                    select(func.count())
                    .select_from(FILES)
                    .where(FILES.c.rejected_reason.is_not(None))
                ).scalar_one(),
            }


def _instances_query(study: str, series: str | None, sop: str | None) -> Any:
    conditions = [INSTANCES.c.study_instance_uid == study]
    if series is not None:
        conditions.append(INSTANCES.c.series_instance_uid == series)
    if sop is not None:
        conditions.append(INSTANCES.c.sop_instance_uid == sop)
    return (
        _STORED_SELECT.join(
            SERIES, SERIES.c.series_instance_uid == INSTANCES.c.series_instance_uid
        ).where(*conditions)
    )


#: What a StoredInstance is made of: the instance row and its file's path, size and mtime.
_STORED_SELECT = select(
    *[INSTANCES.c[name] for name in _INSTANCE_COLS],
    FILES.c.path,
    FILES.c.size.label("file_size"),
    FILES.c.mtime_ns.label("file_mtime_ns"),
).join(FILES, FILES.c.id == INSTANCES.c.file_id)

_ONE_INSTANCE = (
    _STORED_SELECT
    .where(
        INSTANCES.c.sop_instance_uid == bindparam("sop"),
        INSTANCES.c.series_instance_uid == bindparam("series"),
        INSTANCES.c.study_instance_uid == bindparam("study"),
    )
)


def _not_found(study: str, series: str | None, sop: str | None) -> str:
    if sop is not None:
        return f"instance {sop} of series {series} of study {study} not found"
    if series is not None:
        return f"series {series} of study {study} not found"
    return f"study {study} not found"


def _stored(row: Any) -> StoredInstance:
    fragments = None
    if row.frame_fragments:
        fragments = tuple(
            tuple((int(offset), int(length)) for offset, length in frame)
            for frame in json.loads(row.frame_fragments)
        )
    return StoredInstance(
        study_instance_uid=row.study_instance_uid,
        series_instance_uid=row.series_instance_uid,
        sop_instance_uid=row.sop_instance_uid,
        sop_class_uid=row.sop_class_uid,
        path=row.path,
        file_size=row.file_size,
        file_mtime_ns=row.file_mtime_ns,
        transfer_syntax_uid=row.transfer_syntax_uid,
        has_file_meta=bool(row.has_file_meta),
        instance_number=row.instance_number,
        rows=row.rows,
        columns=row.columns,
        bits_allocated=row.bits_allocated,
        samples_per_pixel=row.samples_per_pixel,
        number_of_frames=row.number_of_frames,
        pixel_data_tag=row.pixel_data_tag,
        pixel_data_offset=row.pixel_data_offset,
        pixel_data_length=row.pixel_data_length,
        frame_fragments=fragments,
    )


def _check_rejections(rejections: Sequence[tuple[Rejection, int, int, str | None]]) -> None:
    for rejection, _size, _mtime, _sop in rejections:
        if not rejection.reason or "\n" in rejection.reason:
            raise BadRequestError(f"a rejection reason is one non-empty line: {rejection!r}")
