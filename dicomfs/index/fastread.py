"""The hot read path of WADO: one instance's location by its three UIDs, in a few microseconds.

Every frame request looks an instance up. Through SQLAlchemy that costs a BEGIN, the SELECT and a
ROLLBACK plus statement construction (~300 µs); for a file SQLite index this module keeps one
plain ``sqlite3`` connection per thread (and per process, so forks never share one) in autocommit,
read-only mode, and runs a single prepared SELECT, which SQLite executes atomically on a WAL
snapshot. Other databases (PostgreSQL, in-memory SQLite) return ``None`` and the caller uses the
SQLAlchemy path.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections import namedtuple
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from dicomfs.index.engine import BUSY_TIMEOUT_S, is_memory

__all__ = ["InstanceReader"]

_CHUNK = 900  # bound parameters per statement (SQLite allows 999 in old builds)


class InstanceReader:
    """Looks one instance row up by (study, series, sop) on a per-thread sqlite3 connection."""

    def __init__(self, engine: Engine, columns: list[str]) -> None:
        self._path: str | None = None
        if engine.url.get_backend_name() == "sqlite" and not is_memory(engine):
            self._path = str(engine.url.database)
        self._row = namedtuple(  # type: ignore[misc]
            "_Row", [*columns, "path", "file_size", "file_mtime_ns"]
        )
        selected = ", ".join(f"i.{name}" for name in columns)
        self._sql = (
            f"SELECT {selected}, f.path, f.size, f.mtime_ns "
            "FROM instances AS i JOIN files AS f ON f.id = i.file_id "
            "WHERE i.sop_instance_uid = ? AND i.series_instance_uid = ? "
            "AND i.study_instance_uid = ?"
        )
        self._local = threading.local()

    @property
    def available(self) -> bool:
        return self._path is not None

    def _connection(self) -> sqlite3.Connection:
        local = self._local
        conn: sqlite3.Connection | None = getattr(local, "conn", None)
        if conn is None or getattr(local, "pid", None) != os.getpid():
            conn = sqlite3.connect(
                Path(str(self._path)).resolve().as_uri() + "?mode=ro",
                uri=True,
                isolation_level=None,
                check_same_thread=True,
            )
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            row = self._row
            conn.row_factory = lambda _cursor, values: row(*values)
            local.conn, local.pid = conn, os.getpid()
        return conn

    def find(self, study: str, series: str, sop: str) -> Any | None:
        """The row (attribute access like a SQLAlchemy row), or ``None`` when not indexed."""
        return self._connection().execute(self._sql, (sop, series, study)).fetchone()

    def paths_of_sops(self, sops: list[str]) -> dict[str, str]:
        """``SOP Instance UID -> relative path`` of the files holding these instances."""
        conn = self._connection()
        out: dict[str, str] = {}
        for start in range(0, len(sops), _CHUNK):
            chunk = sops[start : start + _CHUNK]
            sql = (
                "SELECT i.sop_instance_uid, f.path FROM instances AS i JOIN files AS f "
                f"ON f.id = i.file_id WHERE i.sop_instance_uid IN ({', '.join('?' * len(chunk))})"
            )
            cursor = conn.cursor()
            cursor.row_factory = None
            out.update(cursor.execute(sql, chunk).fetchall())
        return out

    def close(self) -> None:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None and getattr(self._local, "pid", None) == os.getpid():
            conn.close()
        self._local = threading.local()
