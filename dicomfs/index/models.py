"""SQLAlchemy 2.0 models of the index: files, studies, series and instances.

The schema is created and upgraded only by the Alembic migrations in ``dicomfs/migrations``.

Conventions
-----------
* String attributes are stored as they are in the file, with DICOM padding stripped (trailing
  spaces for text VRs, trailing NUL for UI). An absent or empty attribute is ``NULL``.
* ``*_key`` columns hold a normalised form used for matching:
  PN -> upper case (case-insensitive matching, CONFORMANCE B-02);
  TM -> ``HHMMSS.ffffff`` (13 characters, so string comparison is comparison by meaning);
  DA+TM -> ``YYYYMMDDHHMMSS.ffffff`` for combined date-time matching (B-19).
* ``attributes`` columns hold DICOM JSON (PS3.18 Annex F, keys sorted) of every top-level non-bulk
  attribute of the entity's level (for ``instances``: of the whole instance, all levels), so any
  attribute can be searched and returned even without a dedicated column.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = ["Base", "File", "Instance", "Series", "StoreInfo", "Study"]

UID = String(64)


class Base(DeclarativeBase):
    """Declarative base of the index models."""


class File(Base):
    """One file under the root that the scanner has seen (indexed or rejected)."""

    __tablename__ = "files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: POSIX path relative to the root.
    path: Mapped[str] = mapped_column(Text, unique=True)
    size: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    #: ``None`` when the file is indexed; otherwise the one-line reason it was rejected.
    rejected_reason: Mapped[str | None] = mapped_column(Text, default=None)
    #: SOP Instance UID read from the file (set for indexed files and for duplicates).
    sop_instance_uid: Mapped[str | None] = mapped_column(UID, default=None, index=True)


class Study(Base):
    """A study, with its patient-level attributes (Patient Root and Study Root are flattened)."""

    __tablename__ = "studies"

    study_instance_uid: Mapped[str] = mapped_column(UID, primary_key=True)
    patient_id: Mapped[str | None] = mapped_column(String(64), index=True)
    patient_name: Mapped[str | None] = mapped_column(Text)
    patient_name_key: Mapped[str | None] = mapped_column(Text, index=True)
    patient_birth_date: Mapped[str | None] = mapped_column(String(16))
    patient_sex: Mapped[str | None] = mapped_column(String(16))
    study_date: Mapped[str | None] = mapped_column(String(8), index=True)
    study_time: Mapped[str | None] = mapped_column(String(16))
    study_time_key: Mapped[str | None] = mapped_column(String(13))
    study_datetime_key: Mapped[str | None] = mapped_column(String(21), index=True)
    accession_number: Mapped[str | None] = mapped_column(String(64), index=True)
    study_id: Mapped[str | None] = mapped_column(String(16))
    referring_physician_name: Mapped[str | None] = mapped_column(Text)
    study_description: Mapped[str | None] = mapped_column(Text)
    #: DICOM JSON of the study- and patient-level attributes (from the most recently indexed
    #: instance of the study: "latest wins", CONFORMANCE C-15).
    attributes: Mapped[str] = mapped_column(Text, default="{}")


class Series(Base):
    """A series of a study."""

    __tablename__ = "series"

    series_instance_uid: Mapped[str] = mapped_column(UID, primary_key=True)
    study_instance_uid: Mapped[str] = mapped_column(
        UID, ForeignKey("studies.study_instance_uid", ondelete="CASCADE"), index=True
    )
    modality: Mapped[str | None] = mapped_column(String(16), index=True)
    series_number: Mapped[int | None] = mapped_column(Integer)
    series_description: Mapped[str | None] = mapped_column(Text)
    series_date: Mapped[str | None] = mapped_column(String(8))
    series_time: Mapped[str | None] = mapped_column(String(16))
    body_part_examined: Mapped[str | None] = mapped_column(String(16))
    #: DICOM JSON of the series-level attributes ("latest wins").
    attributes: Mapped[str] = mapped_column(Text, default="{}")


class Instance(Base):
    """A SOP instance, the file that holds it, and what WADO needs to serve it without parsing."""

    __tablename__ = "instances"
    __table_args__ = (
        Index("ix_instances_series_number", "series_instance_uid", "instance_number"),
    )

    sop_instance_uid: Mapped[str] = mapped_column(UID, primary_key=True)
    series_instance_uid: Mapped[str] = mapped_column(
        UID, ForeignKey("series.series_instance_uid", ondelete="CASCADE"), index=True
    )
    study_instance_uid: Mapped[str] = mapped_column(UID, index=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("files.id", ondelete="CASCADE"), unique=True)
    sop_class_uid: Mapped[str | None] = mapped_column(UID, index=True)
    instance_number: Mapped[int | None] = mapped_column(Integer)
    rows: Mapped[int | None] = mapped_column(Integer)
    columns: Mapped[int | None] = mapped_column(Integer)
    bits_allocated: Mapped[int | None] = mapped_column(Integer)
    samples_per_pixel: Mapped[int | None] = mapped_column(Integer)
    number_of_frames: Mapped[int | None] = mapped_column(Integer)
    #: Transfer syntax of the file (from File Meta, or deduced when the file has none).
    transfer_syntax_uid: Mapped[str] = mapped_column(UID)
    has_file_meta: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Tag of the pixel data element (7FE00010, 7FE00008 or 7FE00009), if any.
    pixel_data_tag: Mapped[int | None] = mapped_column(Integer)
    #: File offset of the first byte of the pixel data element's value.
    pixel_data_offset: Mapped[int | None] = mapped_column(BigInteger)
    #: Value length of the pixel data element; -1 for undefined length (encapsulated).
    pixel_data_length: Mapped[int | None] = mapped_column(BigInteger)
    #: Encapsulated pixel data only: JSON ``[[[offset, length], ...], ...]``: for each frame, the
    #: file offsets and lengths of the values of the fragments that make it up (item headers
    #: excluded). ``NULL`` for native pixel data, whose frames are computed from the geometry.
    frame_fragments: Mapped[str | None] = mapped_column(Text)
    #: DICOM JSON of every top-level non-bulk attribute of the instance (all levels), without
    #: group 0002 and without bulk data.
    attributes: Mapped[str] = mapped_column(Text, default="{}")


class StoreInfo(Base):
    """Key/value facts about the index itself (added by migration 0002).

    Keys written by dicomfs: ``dicomfs_version`` (the version that last opened the index for
    writing) and ``created_with`` (the version that created it).
    """

    __tablename__ = "store_info"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
