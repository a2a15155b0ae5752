"""Create and upgrade the index schema with Alembic (the only way the schema is ever made).

The Alembic environment ships inside the package as ``dicomfs.migrations``; the configuration is
built here, so no ``alembic.ini`` is needed at run time.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, Table, select, text
from sqlalchemy.exc import SQLAlchemyError

from dicomfs.errors import DicomfsError
from dicomfs.index.engine import write_transaction
from dicomfs.index.models import StoreInfo

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic is imported only when a migration must run: opening an up-to-date index (the common
# case, and every CLI call) then costs one SELECT instead of ~0.3 s of imports.
#: The newest revision in dicomfs/migrations/versions (a test checks it against Alembic's head).
HEAD_REVISION = "0002"

__all__ = ["MigrationError", "alembic_config", "current_revision", "head_revision", "upgrade"]


class MigrationError(DicomfsError):
    """The index could not be created or upgraded (or was made by a newer dicomfs)."""


def _script_location() -> str:
    spec = importlib.util.find_spec("dicomfs.migrations")
    if spec is None or spec.origin is None:  # pragma: no cover - broken installation
        raise MigrationError("the package dicomfs.migrations is missing")
    return str(Path(spec.origin).parent)


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration for the packaged migrations.

    Parameters
    ----------
    connection: sqlalchemy.Connection, optional
        Handed to ``env.py`` (``config.attributes["connection"]``).
    """
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", _script_location())
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@functools.cache
def head_revision() -> str:
    """The newest revision this dicomfs knows (read from the migration scripts)."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always has revisions
        raise MigrationError("no migrations found")
    return str(head)


def current_revision(engine: Engine) -> str | None:
    """The revision the index is at (``None`` for an empty database)."""
    with engine.connect() as conn:
        if "alembic_version" not in _table_names(conn):
            return None
        rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return str(rows[0]) if len(rows) == 1 else None


def _table_names(conn: Connection) -> set[str]:
    from sqlalchemy import inspect

    return set(inspect(conn).get_table_names())


def upgrade(engine: Engine, *, version: str | None = None) -> str:
    """Bring the index to the head revision (creating it when empty) and return that revision.

    Parameters
    ----------
    engine: sqlalchemy.Engine
        The index.
    version: str, optional
        Recorded as ``dicomfs_version`` in ``store_info`` (and ``created_with`` for a new index).

    Raises
    ------
    MigrationError
        The index is at a revision this dicomfs does not know (made by a newer version), or a
        migration failed.
    """
    head = HEAD_REVISION
    current = current_revision(engine)
    if current == head and version is not None and _recorded_version(engine) == version:
        return head
    if current is not None and current != head:
        from alembic.script import ScriptDirectory
        from alembic.script.revision import RevisionError
        from alembic.util import CommandError

        try:
            ScriptDirectory.from_config(alembic_config()).get_revision(current)
        except (CommandError, RevisionError) as exc:
            raise MigrationError(
                f"the index is at revision {current!r}, unknown to this dicomfs (newer?)"
            ) from exc

    def work(conn: Connection) -> None:
        from alembic import command
        from alembic.runtime.migration import MigrationContext

        if MigrationContext.configure(conn).get_current_revision() != head:
            command.upgrade(alembic_config(conn), "head")
        if version is None:
            return
        table = StoreInfo.__table__
        assert isinstance(table, Table)
        existing = {row.key: row.value for row in conn.execute(select(StoreInfo))}
        if "created_with" not in existing:
            created = version if current is None else "unknown (made before revision 0002)"
            conn.execute(table.insert(), {"key": "created_with", "value": created})
        if existing.get("dicomfs_version") != version:
            conn.execute(table.delete().where(table.c.key == "dicomfs_version"))
            conn.execute(table.insert(), {"key": "dicomfs_version", "value": version})

    if current == head and version is None:
        return head
    try:
        write_transaction(engine, work)
    except SQLAlchemyError as exc:
        raise MigrationError(f"cannot migrate the index: {exc}") from exc
    return head


def _recorded_version(engine: Engine) -> str | None:
    """The dicomfs version recorded in ``store_info`` (None when absent)."""
    table = StoreInfo.__table__
    assert isinstance(table, Table)
    with engine.connect() as conn:
        row = conn.execute(select(table.c.value).where(table.c.key == "dicomfs_version")).first()
    return None if row is None else str(row[0])
