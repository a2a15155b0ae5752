"""SQLAlchemy engines for the index: SQLite pragmas, one writer at a time, readers apart.

* SQLite files run in WAL mode (readers are never blocked by the writer), with
  ``busy_timeout`` 30 s, ``synchronous=NORMAL``, ``foreign_keys=ON`` and
  ``case_sensitive_like=ON`` (``LIKE`` must be case-sensitive for QIDO wildcard matching,
  CONFORMANCE B-06).
* In-memory SQLite (``sqlite://``) uses one connection shared by the engine (``StaticPool``).
* PostgreSQL (``postgresql+psycopg://...``) works too.

Writes go through :func:`write_transaction`: an in-process lock per engine serialises the
threads of one process; across processes SQLite's own lock is taken up front with
``BEGIN IMMEDIATE`` (PostgreSQL: a transaction-level advisory lock), and a transaction that fails
with "database is locked" is retried.

>>> engine = create_index_engine("sqlite://")
>>> engine.dialect.name
'sqlite'
>>> engine.dispose()
"""

from __future__ import annotations

import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.pool import StaticPool

from dicomfs.errors import BadRequestError, DicomfsError

__all__ = [
    "BUSY_TIMEOUT_S",
    "IndexLockedError",
    "create_index_engine",
    "is_memory",
    "write_transaction",
]

#: How long a SQLite connection waits for another writer before "database is locked".
BUSY_TIMEOUT_S = 30.0
#: Whole-transaction retries after "database is locked" (on top of the busy timeout).
_RETRIES = 5
#: Key of the PostgreSQL advisory lock that serialises writers (ASCII "dicomfs!").
_PG_LOCK_KEY = 0x6469636F6D667321

_IMMEDIATE = "dicomfs_immediate"
_locks: weakref.WeakKeyDictionary[Engine, threading.RLock] = weakref.WeakKeyDictionary()
_locks_guard = threading.Lock()

T = TypeVar("T")


class IndexLockedError(DicomfsError):
    """Another process held the index's write lock for too long."""


def is_memory(engine: Engine) -> bool:
    """Whether the engine is an in-memory SQLite database."""
    url = engine.url
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def create_index_engine(url: str | URL) -> Engine:
    """Make an engine for the index at a SQLAlchemy URL.

    Parameters
    ----------
    url: str or sqlalchemy.URL
        ``sqlite:///abs/path.sqlite``, ``sqlite://`` (in memory) or
        ``postgresql+psycopg://user@host:port/db``; a ``URL`` object for a SQLite file whose
        path holds ``?`` (a string would end the path there).

    Returns
    -------
    sqlalchemy.Engine
        With the pragmas and locking of this module's docstring.

    Raises
    ------
    BadRequestError
        The URL cannot be parsed or names no installed driver.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise BadRequestError(f"invalid database URL {url!r}: {exc}") from exc
    try:
        if parsed.get_backend_name() == "sqlite":
            return _sqlite_engine(url)
        return create_engine(url, pool_pre_ping=True)
    except (ArgumentError, ImportError) as exc:
        raise BadRequestError(f"cannot use database URL {url!r}: {exc}") from exc


def _sqlite_engine(url: str | URL) -> Engine:
    parsed = make_url(url)
    memory = parsed.database in (None, "", ":memory:")
    kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
    if memory:
        kwargs["poolclass"] = StaticPool
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        # The driver must not open transactions itself: SQLAlchemy's "begin" event does.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            if not memory:
                cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute("PRAGMA case_sensitive_like = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(_IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _lock_of(engine: Engine) -> threading.RLock:
    with _locks_guard:
        lock = _locks.get(engine)
        if lock is None:
            lock = _locks[engine] = threading.RLock()
        return lock


def _is_locked_error(exc: OperationalError) -> bool:
    message = str(exc.orig).lower()
    return "database is locked" in message or "database table is locked" in message


@contextmanager
def _connection_for_write(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as conn:
        conn = conn.execution_options(**{_IMMEDIATE: True})
        with conn.begin():
            if engine.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
            yield conn


def write_transaction(engine: Engine, work: Callable[[Connection], T]) -> T:
    """Run ``work(connection)`` in one write transaction, serialised with every other writer.

    The transaction is committed when ``work`` returns and rolled back when it raises; it is
    retried (``work`` is called again) when SQLite reports "database is locked".

    Parameters
    ----------
    engine: sqlalchemy.Engine
        An engine made by :func:`create_index_engine`.
    work: callable
        Does the writes; must be safe to call again after a rollback.

    Raises
    ------
    IndexLockedError
        The lock could not be had after the retries.
    """
    with _lock_of(engine):
        for attempt in range(_RETRIES):
            try:
                with _connection_for_write(engine) as conn:
                    return work(conn)
            except OperationalError as exc:
                if not _is_locked_error(exc):
                    raise
                if attempt == _RETRIES - 1:
                    raise IndexLockedError(f"the index stayed locked: {exc.orig}") from exc
                time.sleep(0.05 * (2**attempt))
    raise AssertionError("unreachable")  # pragma: no cover
