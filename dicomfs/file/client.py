"""DICOMfileClient: wiring only. Each protocol method delegates to one service module."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from types import TracebackType
from typing import Any

from pydicom.dataset import Dataset

from dicomfs._types import DicomJSON, MediaTypes, RenderParams, SearchFilters
from dicomfs.file.context import StoreContext
from dicomfs.file.opening import IndexLocation, locate_index, open_index, root_of_url
from dicomfs.index.records import Rejection, SyncReport
from dicomfs.protocol import DICOMClient

__all__ = ["DICOMfileClient"]


class DICOMfileClient(DICOMClient):
    """A folder of DICOM Part10 files that behaves like a DICOMweb server.

    See ``API.md`` / ``docs/guide.md`` for the constructor options.

    Parameters
    ----------
    url: str or os.PathLike
        ``"file:///abs/path"`` or a path: the store's root folder. A missing root is created
        unless ``readonly``.
    update_db: bool
        Bring an existing index up to date (incrementally) on open.
    recreate_db: bool
        Rebuild the index from scratch on open.
    in_memory: bool
        Keep the index in memory (built on open).
    db_dir: str or os.PathLike, optional
        Folder of the index file ``index.sqlite`` (default ``<root>/.dicomfs``).
    readonly: bool
        Store and delete raise ReadOnlyError; nothing under the root is written, so the index
        must live elsewhere (``db_dir`` outside the root, ``db_url`` or ``in_memory``); an index
        location under the root raises BadRequestError.
    db_url: str, optional
        Any SQLAlchemy URL (``sqlite:///...``, ``postgresql+psycopg://...``); wins over
        ``in_memory`` and ``db_dir``.
    workers: int, optional
        Reader processes for index builds (default: the number of CPUs).
    progress: bool
        Show progress bars while indexing.

    Notes
    -----
    A client can be pickled (e.g. for DataLoader workers): the copy re-opens the same index from
    the constructor arguments, without walking the tree (``update_db`` and ``recreate_db`` are
    not repeated). An in-memory index cannot be shared, so the copy of an ``in_memory`` client
    builds its own.
    """

    ctx: StoreContext

    def __init__(
        self,
        url: str | os.PathLike[str],
        update_db: bool = False,
        recreate_db: bool = False,
        in_memory: bool = False,
        db_dir: str | os.PathLike[str] | None = None,
        readonly: bool = False,
        *,
        db_url: str | None = None,
        workers: int | None = None,
        progress: bool = False,
    ) -> None:
        self._args: dict[str, Any] = dict(
            url=url, update_db=update_db, recreate_db=recreate_db, in_memory=in_memory,
            db_dir=db_dir, readonly=readonly, db_url=db_url, workers=workers, progress=progress,
        )
        root = root_of_url(url, create=not readonly)
        location: IndexLocation = locate_index(root, in_memory, db_dir, readonly, db_url)
        self._workers = workers
        self._progress = progress
        self.location = location
        repo, build = open_index(location, recreate=recreate_db)
        self.base_url = root.as_uri()  # percent-encoded: a valid UR whatever the folder names
        self.ctx = StoreContext(root=root, repo=repo, base_url=self.base_url, readonly=readonly)
        self._closed = False
        #: The report of the sync the constructor ran (new index, ``update_db``, ``recreate_db``),
        #: or ``None`` when it opened an existing index without walking the tree.
        self.last_sync: SyncReport | None = None
        if build or update_db:
            try:
                self.last_sync = self.sync()
            except BaseException:
                self.close()
                raise

    # ---- beyond the protocol -----------------------------------------------------------------
    def sync(self) -> SyncReport:
        """Bring the index up to date with the tree (only new, changed or removed files).

        Returns
        -------
        SyncReport
            Counts of added, updated, removed and unchanged files, and every rejected file.
        """
        from dicomfs.storage import atomic, scan

        if not self.ctx.readonly:  # files left by a crashed store/delete (docs/stow.md)
            atomic.cleanup_temporaries(self.ctx.root)
        return scan.sync(
            self.ctx.root, self.ctx.repo, workers=self._workers, progress=self._progress
        )

    def rejected(self) -> list[Rejection]:
        """The files the index could not use (path relative to the root, one-line reason)."""
        return self.ctx.repo.rejections()

    def close(self) -> None:
        """Release the index (the client cannot be used afterwards)."""
        if not getattr(self, "_closed", True):
            self._closed = True
            self.ctx.repo.close()

    def __enter__(self) -> DICOMfileClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __getstate__(self) -> dict[str, Any]:
        return {**self._args, "update_db": False, "recreate_db": False, "progress": False}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)  # type: ignore[misc]

    def __repr__(self) -> str:
        flags = ", readonly=True" if self.ctx.readonly else ""
        return f"DICOMfileClient({self.base_url!r}, index={self.location.display!r}{flags})"

    # ---- QIDO -------------------------------------------------------------------------------
    def search_for_studies(
        self,
        fuzzymatching: bool | None = None,
        limit: int | None = None,
        offset: int | None = None,
        fields: Sequence[str] | None = None,
        search_filters: SearchFilters | None = None,
        get_remaining: bool = False,
        additional_params: dict[str, Any] | None = None,
    ) -> list[DicomJSON]:
        from dicomfs.file import qido

        return qido.search(
            self.ctx,
            "study",
            fuzzymatching=fuzzymatching,
            limit=limit,
            offset=offset,
            fields=fields,
            search_filters=search_filters,
            get_remaining=get_remaining,
        )

    def search_for_series(
        self,
        study_instance_uid: str | None = None,
        fuzzymatching: bool | None = None,
        limit: int | None = None,
        offset: int | None = None,
        fields: Sequence[str] | None = None,
        search_filters: SearchFilters | None = None,
        get_remaining: bool = False,
        additional_params: dict[str, Any] | None = None,
    ) -> list[DicomJSON]:
        from dicomfs.file import qido

        return qido.search(
            self.ctx,
            "series",
            study_instance_uid=study_instance_uid,
            fuzzymatching=fuzzymatching,
            limit=limit,
            offset=offset,
            fields=fields,
            search_filters=search_filters,
            get_remaining=get_remaining,
        )

    def search_for_instances(
        self,
        study_instance_uid: str | None = None,
        series_instance_uid: str | None = None,
        fuzzymatching: bool | None = None,
        limit: int | None = None,
        offset: int | None = None,
        fields: Sequence[str] | None = None,
        search_filters: SearchFilters | None = None,
        get_remaining: bool = False,
        additional_params: dict[str, Any] | None = None,
    ) -> list[DicomJSON]:
        from dicomfs.file import qido

        return qido.search(
            self.ctx,
            "instance",
            study_instance_uid=study_instance_uid,
            series_instance_uid=series_instance_uid,
            fuzzymatching=fuzzymatching,
            limit=limit,
            offset=offset,
            fields=fields,
            search_filters=search_filters,
            get_remaining=get_remaining,
        )

    # ---- WADO: instances --------------------------------------------------------------------
    def retrieve_study(
        self,
        study_instance_uid: str,
        media_types: MediaTypes | None = None,
        additional_params: dict[str, Any] | None = None,
    ) -> list[Dataset]:
        return list(self.iter_study(study_instance_uid, media_types))

    def iter_study(
        self,
        study_instance_uid: str,
        media_types: MediaTypes | None = None,
        additional_params: dict[str, Any] | None = None,
    ) -> Iterator[Dataset]:
        from dicomfs.file import wado

        return wado.iter_instances(
            self.ctx, study_instance_uid, None, None, media_types
        )

    def retrieve_series(
        self,
        study_instance_uid: str,
        series_instance_uid: str,
        media_types: MediaTypes | None = None,
        additional_params: dict[str, Any] | None = None,
    ) -> list[Dataset]:
        return list(
            self.iter_series(study_instance_uid, series_instance_uid, media_types)
        )

    def iter_series(
        self,
        study_instance_uid: str,
        series_instance_uid: str,
        media_types: MediaTypes | None = None,
        additional_params: dict[str, Any] | None = None,
    ) -> Iterator[Dataset]:
        from dicomfs.file import wado

        return wado.iter_instances(
            self.ctx, study_instance_uid, series_instance_uid, None, media_types, level="series"
        )

    def retrieve_instance(
        self,
        study_instance_uid: str,
        series_instance_uid: str,
        sop_instance_uid: str,
        media_types: MediaTypes | None = None,
        additional_params: dict[str, Any] | None = None,
    ) -> Dataset:
        from dicomfs.file import wado

        return next(
            wado.iter_instances(
                self.ctx,
                study_instance_uid,
                series_instance_uid,
                sop_instance_uid,
                media_types,
                level="instance",
            )
        )

    # ---- WADO: metadata ---------------------------------------------------------------------
    def retrieve_study_metadata(
        self, study_instance_uid: str, additional_params: dict[str, Any] | None = None
    ) -> list[DicomJSON]:
        from dicomfs.file import wado

        return wado.metadata(self.ctx, study_instance_uid, None, None)

    def retrieve_series_metadata(
        self,
        study_instance_uid: str,
        series_instance_uid: str,
        additional_params: dict[str, Any] | None = None,
    ) -> list[DicomJSON]:
        from dicomfs.file import wado

        return wado.metadata(
            self.ctx, study_instance_uid, series_instance_uid, None, level="series"
        )

    def retrieve_instance_metadata(
        self,
        study_instance_uid: str,
        series_instance_uid: str,
        sop_instance_uid: str,
        additional_params: dict[str, Any] | None = None,
    ) -> DicomJSON:
        from dicomfs.file import wado

        return wado.metadata(
            self.ctx, study_instance_uid, series_instance_uid, sop_instance_uid, level="instance"
        )[0]

    # ---- WADO: frames, bulk data, rendered ---------------------------------------------------
    def retrieve_instance_frames(
        self,
        study_instance_uid: str,
        series_instance_uid: str,
        sop_instance_uid: str,
        frame_numbers: Sequence[int],
        media_types: MediaTypes | None = None,
        additional_params: dict[str, Any] | None = None,
    ) -> list[bytes]:
        return list(
            self.iter_instance_frames(
                study_instance_uid,
                series_instance_uid,
                sop_instance_uid,
                frame_numbers,
                media_types,
            )
        )

    def iter_instance_frames(
        self,
        study_instance_uid: str,
        series_instance_uid: str,
        sop_instance_uid: str,
        frame_numbers: Sequence[int],
        media_types: MediaTypes | None = None,
        additional_params: dict[str, Any] | None = None,
    ) -> Iterator[bytes]:
        from dicomfs.file import wado

        return wado.iter_frames(
            self.ctx,
            study_instance_uid,
            series_instance_uid,
            sop_instance_uid,
            frame_numbers,
            media_types,
        )

    def retrieve_bulkdata(
        self,
        url: str,
        media_types: MediaTypes | None = None,
        byte_range: tuple[int, int] | None = None,
        additional_params: dict[str, Any] | None = None,
    ) -> list[bytes]:
        return list(self.iter_bulkdata(url, media_types, byte_range))

    def iter_bulkdata(
        self,
        url: str,
        media_types: MediaTypes | None = None,
        byte_range: tuple[int, int] | None = None,
        additional_params: dict[str, Any] | None = None,
    ) -> Iterator[bytes]:
        from dicomfs.file import wado

        return wado.iter_bulkdata(self.ctx, url, media_types, byte_range)

    def retrieve_instance_rendered(
        self,
        study_instance_uid: str,
        series_instance_uid: str,
        sop_instance_uid: str,
        media_types: MediaTypes | None = None,
        params: RenderParams | None = None,
        additional_params: dict[str, Any] | None = None,
    ) -> bytes:
        from dicomfs.file import wado

        return wado.rendered(
            self.ctx,
            study_instance_uid,
            series_instance_uid,
            sop_instance_uid,
            None,
            media_types,
            params,
        )

    def retrieve_instance_frames_rendered(
        self,
        study_instance_uid: str,
        series_instance_uid: str,
        sop_instance_uid: str,
        frame_numbers: Sequence[int],
        media_types: MediaTypes | None = None,
        params: RenderParams | None = None,
        additional_params: dict[str, Any] | None = None,
    ) -> bytes:
        from dicomfs.file import wado
        from dicomfs.pixels.frames import check_frame_numbers

        # None would render the instance (its first frame): this method needs frame numbers.
        numbers = check_frame_numbers(frame_numbers)
        return wado.rendered(
            self.ctx,
            study_instance_uid,
            series_instance_uid,
            sop_instance_uid,
            numbers,
            media_types,
            params,
        )

    def retrieve_series_rendered(
        self,
        study_instance_uid: str,
        series_instance_uid: str,
        media_types: MediaTypes | None = None,
        params: RenderParams | None = None,
        additional_params: dict[str, Any] | None = None,
    ) -> bytes:
        from dicomfs.file import wado

        return wado.series_rendered(
            self.ctx, study_instance_uid, series_instance_uid, media_types, params
        )

    # ---- STOW and delete ---------------------------------------------------------------------
    def store_instances(
        self,
        datasets: Sequence[Dataset],
        study_instance_uid: str | None = None,
        additional_params: dict[str, Any] | None = None,
    ) -> Dataset:
        from dicomfs.file import stow

        return stow.store(self.ctx, datasets, study_instance_uid)

    def delete_study(
        self, study_instance_uid: str, additional_params: dict[str, Any] | None = None
    ) -> None:
        from dicomfs.file import delete

        delete.delete(self.ctx, study_instance_uid, None, None)

    def delete_series(
        self,
        study_instance_uid: str,
        series_instance_uid: str,
        additional_params: dict[str, Any] | None = None,
    ) -> None:
        from dicomfs.file import delete

        delete.delete(self.ctx, study_instance_uid, series_instance_uid, None, level="series")

    def delete_instance(
        self,
        study_instance_uid: str,
        series_instance_uid: str,
        sop_instance_uid: str,
        additional_params: dict[str, Any] | None = None,
    ) -> None:
        from dicomfs.file import delete

        delete.delete(
            self.ctx, study_instance_uid, series_instance_uid, sop_instance_uid, level="instance"
        )
