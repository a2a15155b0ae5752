"""The state a file-store service needs: root, index repository, base URL, read-only flag."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dicomfs.index.repository import Repository

__all__ = ["StoreContext"]


@dataclass
class StoreContext:
    """Handed by :class:`DICOMfileClient` to each service module (qido, wado, stow, delete).

    Attributes
    ----------
    root: Path
        Absolute, resolved path of the store's root folder.
    repo: Repository
        The index: the only code that queries or writes it.
    base_url: str
        ``file:///abs/root`` (no trailing slash): prefix of RetrieveURL and BulkDataURI values.
    readonly: bool
        Store and delete raise ReadOnlyError; nothing under the root is written.
    """

    root: Path
    repo: Repository
    base_url: str
    readonly: bool = False
