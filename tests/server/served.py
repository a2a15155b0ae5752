"""A dicomfs DICOMweb server over a file store, in a thread on 127.0.0.1 (tests only).

>>> store = start_served(folder)            # doctest: +SKIP
>>> store.client().search_for_studies()    # doctest: +SKIP
>>> store.stop()                            # doctest: +SKIP
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dicomfs
from dicomfs.server import DICOMwebServer, make_server

__all__ = ["ServedStore", "start_served"]


@dataclass
class ServedStore:
    """A running server and the file client behind it."""

    server: DICOMwebServer
    file_client: dicomfs.DICOMfileClient

    @property
    def url(self) -> str:
        return self.server.url

    def client(self) -> dicomfs.DICOMwebClient:
        """Our web client pointed at the server."""
        return dicomfs.DICOMwebClient(self.url)

    def clear(self) -> None:
        """Delete every study of the store (for a fresh writable store per test)."""
        for study in self.file_client.search_for_studies(limit=None):
            self.file_client.delete_study(study["0020000D"]["Value"][0])

    def stop(self) -> None:
        self.server.stop()
        self.file_client.close()


def start_served(
    root: Path, *, db_dir: str | os.PathLike[str] | None = None, readonly: bool = False,
    **options: Any,
) -> ServedStore:
    """Open ``root`` as a file store and serve it on 127.0.0.1 (an ephemeral port)."""
    file_client = dicomfs.DICOMfileClient(root, db_dir=db_dir, readonly=readonly)
    try:
        server = make_server(file_client, "127.0.0.1", 0, **options)
    except BaseException:
        file_client.close()
        raise
    server.start()
    return ServedStore(server, file_client)
