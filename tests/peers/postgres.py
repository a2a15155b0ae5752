"""A private PostgreSQL cluster for tests, on 127.0.0.1 only (see /work/shared/PEERS.md).

``initdb`` refuses to run as root, so as root the cluster belongs to a system user
``dicomfs-test`` (created with ``useradd`` when missing) and commands run through ``runuser``.

>>> server = start_postgres()        # doctest: +SKIP
>>> server.url                       # doctest: +SKIP
'postgresql+psycopg://postgres@127.0.0.1:54321/dicomfs'
>>> server.stop()                    # doctest: +SKIP
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PostgresServer", "PostgresUnavailable", "postgres_available", "start_postgres"]

TEST_USER = "dicomfs-test"


class PostgresUnavailable(RuntimeError):
    """PostgreSQL is not installed, or the cluster did not start."""


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def postgres_available() -> str | None:
    """Why a cluster cannot be started here, or ``None`` when it can."""
    if _bin_dir() is None:
        return "PostgreSQL not installed (/usr/lib/postgresql/*/bin/initdb; Debian postgresql)"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser"
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _as_user(args: list[str]) -> list[str]:
    return ["runuser", "-u", TEST_USER, "--", *args] if os.geteuid() == 0 else args


def _run(args: list[str]) -> None:
    result = subprocess.run(_as_user(args), capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise PostgresUnavailable(f"{Path(args[0]).name} failed: {result.stderr.strip()[-500:]}")


@dataclass
class PostgresServer:
    """A running cluster made by :func:`start_postgres`; stop it with :meth:`stop`."""

    folder: Path
    port: int
    bin_dir: Path

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/dicomfs"

    def create_database(self, name: str) -> str:
        """Create another database; return its SQLAlchemy URL."""
        _run([str(self.bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
              "-U", "postgres", name])
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        subprocess.run(
            _as_user([str(self.bin_dir / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "fast",
                      "-w", "stop"]),
            capture_output=True, check=False,
        )
        shutil.rmtree(self.folder, ignore_errors=True)


def start_postgres() -> PostgresServer:
    """Start a private cluster listening on 127.0.0.1 and a free port, with a database dicomfs.

    Raises
    ------
    PostgresUnavailable
        With the reason.
    """
    reason = postgres_available()
    if reason is not None:
        raise PostgresUnavailable(reason)
    bin_dir = _bin_dir()
    assert bin_dir is not None
    if os.geteuid() == 0:
        exists = subprocess.run(["id", "-u", TEST_USER], capture_output=True, check=False)
        if exists.returncode != 0:
            made = subprocess.run(
                ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                 TEST_USER], capture_output=True, text=True, check=False,
            )
            if made.returncode != 0:
                raise PostgresUnavailable(f"useradd failed: {made.stderr.strip()}")
    folder = Path(tempfile.mkdtemp(prefix="dicomfs-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, user=TEST_USER)
    port = _free_port()
    server = PostgresServer(folder, port, bin_dir)
    try:
        _run([str(bin_dir / "initdb"), "-D", str(folder / "data"), "-U", "postgres", "-A", "trust",
              "--no-sync", "-E", "UTF8", "--locale=C"])
        _run([str(bin_dir / "pg_ctl"), "-D", str(folder / "data"), "-w", "-t", "60",
              "-l", str(folder / "log"), "-o",
              f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c fsync=off", "start"])
        _run([str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres",
              "dicomfs"])
    except PostgresUnavailable:
        server.stop()
        raise
    return server
