"""Plain records that cross the boundary of the index: what the scanner reads, what services get.

These are frozen dataclasses with no SQLAlchemy state, so they can be pickled between processes
and handed to WADO/STOW code without a session.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["InstanceRecord", "Rejection", "StoredInstance", "SyncReport"]


@dataclass(frozen=True)
class Rejection:
    """A file the index could not use.

    Attributes
    ----------
    path: str
        POSIX path relative to the store's root.
    reason: str
        One line; a duplicate SOP Instance UID names the file kept (``"duplicate of a/b.dcm"``).
    """

    path: str
    reason: str


@dataclass(frozen=True)
class InstanceRecord:
    """Everything the index stores about one readable file (made by the scanner).

    ``study``, ``series`` and ``instance`` hold column values of the models of the same name
    (without the ``attributes`` columns); the ``*_attributes`` fields hold their DICOM JSON.
    """

    path: str
    size: int
    mtime_ns: int
    study: dict[str, Any]
    series: dict[str, Any]
    instance: dict[str, Any]
    study_attributes: dict[str, Any] = field(default_factory=dict)
    series_attributes: dict[str, Any] = field(default_factory=dict)
    instance_attributes: dict[str, Any] = field(default_factory=dict)

    @property
    def sop_instance_uid(self) -> str:
        return str(self.instance["sop_instance_uid"])


@dataclass(frozen=True)
class StoredInstance:
    """Where an indexed instance lives and what is known of its pixel data (read side).

    ``path`` is POSIX and relative to the root. ``pixel_data_offset`` is the file offset of the
    first byte of the pixel data value; ``pixel_data_length`` is -1 for encapsulated data, whose
    frames are described by ``frame_fragments``: for each frame the ``(offset, length)`` of the
    values of its fragments (item headers excluded).
    """

    study_instance_uid: str
    series_instance_uid: str
    sop_instance_uid: str
    sop_class_uid: str | None
    path: str
    transfer_syntax_uid: str
    has_file_meta: bool = True
    #: Size and modification time of the file when it was indexed; a file that no longer has
    #: them has changed behind the index's back (its offsets cannot be trusted).
    file_size: int | None = None
    file_mtime_ns: int | None = None
    instance_number: int | None = None
    rows: int | None = None
    columns: int | None = None
    bits_allocated: int | None = None
    samples_per_pixel: int | None = None
    number_of_frames: int | None = None
    pixel_data_tag: int | None = None
    pixel_data_offset: int | None = None
    pixel_data_length: int | None = None
    frame_fragments: tuple[tuple[tuple[int, int], ...], ...] | None = None


@dataclass
class SyncReport:
    """What a :meth:`DICOMfileClient.sync` did."""

    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    rejected: list[Rejection] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"{self.added} added, {self.updated} updated, {self.removed} removed, "
            f"{self.unchanged} unchanged, {len(self.rejected)} rejected"
        )
