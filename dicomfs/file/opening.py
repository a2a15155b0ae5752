"""Opening a file store: its root folder, where its index lives, and opening (or making) it.

Index location rules (API.md): ``db_url`` if given; else in-memory SQLite if ``in_memory``; else
``<db_dir>/index.sqlite`` if ``db_dir``; else ``<root>/.dicomfs/index.sqlite``. A read-only store
writes nothing under its root, so a read-only store whose index would live under the root is a
``BadRequestError`` (even when that index exists: SQLite writes its ``-wal``/``-shm`` files next to
the database, and the index may need migrating).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from sqlalchemy import Connection, Engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from dicomfs.errors import BadRequestError
from dicomfs.index import migrate
from dicomfs.index.engine import create_index_engine, write_transaction
from dicomfs.index.repository import Repository

__all__ = ["INDEX_DIR", "INDEX_NAME", "IndexLocation", "locate_index", "open_index", "root_of_url"]

INDEX_DIR = ".dicomfs"
INDEX_NAME = "index.sqlite"


@dataclass(frozen=True)
class IndexLocation:
    """Where a store's index lives.

    Attributes
    ----------
    url: str or sqlalchemy.URL
        SQLAlchemy URL (a ``URL`` object for an index file dicomfs places itself, so a folder
        name with ``?`` in it is not read as the start of URL parameters).
    file: Path or None
        The SQLite file, when the index is one.
    display: str
        For ``repr`` (passwords hidden).
    """

    url: str | URL
    file: Path | None
    display: str

    @property
    def memory(self) -> bool:
        return self.file is None and make_url(self.url).get_backend_name() == "sqlite"


def root_of_url(url: str | os.PathLike[str], *, create: bool) -> Path:
    """The absolute, resolved root folder named by ``url`` (``file:///...`` or a path).

    Raises
    ------
    BadRequestError
        Not a file URL or path, not a folder, or missing when it may not be created.
    """
    if isinstance(url, os.PathLike):
        path = Path(os.fspath(url))
    elif isinstance(url, str):
        if url.startswith("file:"):
            parsed = urlparse(url)
            if parsed.netloc not in ("", "localhost"):
                raise BadRequestError(f"file URL of another host: {url!r}")
            text = unquote(parsed.path)
            if not text:  # Path("") would be the current folder
                raise BadRequestError(f"file URL without a path: {url!r}")
            path = Path(text)
        elif "://" in url:
            raise BadRequestError(f"not a file URL or a path: {url!r}")
        elif not url:
            raise BadRequestError("empty store path")
        else:
            path = Path(url)
    else:
        raise BadRequestError(f"url must be a str or os.PathLike, not {type(url).__name__}")
    if not str(path):
        raise BadRequestError("empty store path")
    if "\x00" in str(path):
        raise BadRequestError(f"store path contains a NUL character: {str(path)[:200]!r}")
    path = path.expanduser().absolute()
    try:
        exists = path.exists()
    except OSError as exc:  # e.g. ENAMETOOLONG
        raise BadRequestError(f"store root {str(path)[:200]!r}: {exc.strerror or exc}") from exc
    if not exists:
        if not create:
            raise BadRequestError(f"store root {str(path)!r} does not exist")
        try:
            path.mkdir(parents=True)
        except (OSError, ValueError) as exc:  # ValueError: a name the file system cannot encode
            raise BadRequestError(f"cannot create store root {str(path)!r}: {exc}") from exc
    if not path.is_dir():
        raise BadRequestError(f"store root {str(path)!r} is not a folder")
    return path.resolve()


def _under(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root)
    except ValueError:
        return False
    return True


def locate_index(
    root: Path,
    in_memory: bool,
    db_dir: str | os.PathLike[str] | None,
    readonly: bool,
    db_url: str | None,
) -> IndexLocation:
    """Apply the location rules of the module docstring."""
    if db_url is not None:
        if not isinstance(db_url, str) or not db_url:
            raise BadRequestError(f"db_url must be a non-empty SQLAlchemy URL, got {db_url!r}")
        try:
            parsed = make_url(db_url)
        except ArgumentError as exc:
            raise BadRequestError(f"invalid db_url {db_url!r}: {exc}") from exc
        file = None
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            file = Path(str(parsed.database)).absolute()
        location = IndexLocation(db_url, file, parsed.render_as_string(hide_password=True))
    elif in_memory:
        location = IndexLocation("sqlite://", None, "memory")
    else:
        if db_dir is not None and not isinstance(db_dir, (str, os.PathLike)):
            raise BadRequestError(f"db_dir must be a path, not {type(db_dir).__name__}")
        if db_dir is not None and "\x00" in os.fspath(db_dir):
            raise BadRequestError("db_dir contains a NUL character")
        folder = Path(os.fspath(db_dir)).expanduser().absolute() if db_dir else root / INDEX_DIR
        file = folder / INDEX_NAME
        location = IndexLocation(URL.create("sqlite", database=str(file)), file, str(file))
    if readonly and location.file is not None and _under(location.file.parent, root):
        raise BadRequestError(
            f"a read-only store writes nothing under its root, but its index would be "
            f"{location.file}: give db_dir (outside the root), db_url or in_memory=True"
        )
    return location


def _remove_sqlite(file: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        candidate = file.with_name(file.name + suffix)
        try:
            candidate.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise BadRequestError(f"cannot remove the old index {candidate}: {exc}") from exc


def open_index(location: IndexLocation, *, recreate: bool) -> tuple[Repository, bool]:
    """Open (creating or rebuilding) the index and migrate it to the head revision.

    Returns
    -------
    repository, build: Repository, bool
        ``build`` is true when the index is new (or was recreated) and must be filled by a
        full sync.
    """
    if location.file is not None:
        if recreate:
            _remove_sqlite(location.file)
        try:
            location.file.parent.mkdir(parents=True, exist_ok=True)
        except (OSError, ValueError) as exc:
            raise BadRequestError(f"cannot create the index folder: {exc}") from exc
    engine = create_index_engine(location.url)
    try:
        current = migrate.current_revision(engine)
        if recreate and current is not None and location.file is None:
            _downgrade_to_base(engine)
            current = None
        from dicomfs import __version__

        migrate.upgrade(engine, version=__version__)
    except (SQLAlchemyError, OSError) as exc:
        engine.dispose()
        reason = (str(exc).splitlines() or [type(exc).__name__])[0]  # one line (no SA help URL)
        raise BadRequestError(f"cannot open the index at {location.display}: {reason}") from exc
    except BaseException:
        engine.dispose()
        raise
    return Repository(engine), current is None


def _downgrade_to_base(engine: Engine) -> None:
    def work(conn: Connection) -> None:
        from alembic import command

        command.downgrade(migrate.alembic_config(conn), "base")

    write_transaction(engine, work)
