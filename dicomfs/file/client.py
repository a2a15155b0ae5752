"""DICOMfileClient: wiring only. Each protocol method delegates to one service module."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from pydicom.dataset import Dataset

from dicomfs._types import DicomJSON, MediaTypes, RenderParams, SearchFilters
from dicomfs.file.context import StoreContext
from dicomfs.protocol import DICOMClient

__all__ = ["DICOMfileClient"]


class DICOMfileClient(DICOMClient):
    """A folder of DICOM Part10 files that behaves like a DICOMweb server.

    See ``API.md`` / ``docs/guide.md`` for the constructor options.
    """

    ctx: StoreContext

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
            self.ctx, study_instance_uid, series_instance_uid, None, media_types
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

        return wado.metadata(self.ctx, study_instance_uid, series_instance_uid, None)

    def retrieve_instance_metadata(
        self,
        study_instance_uid: str,
        series_instance_uid: str,
        sop_instance_uid: str,
        additional_params: dict[str, Any] | None = None,
    ) -> DicomJSON:
        from dicomfs.file import wado

        return wado.metadata(
            self.ctx, study_instance_uid, series_instance_uid, sop_instance_uid
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

        return wado.rendered(
            self.ctx,
            study_instance_uid,
            series_instance_uid,
            sop_instance_uid,
            frame_numbers,
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

        delete.delete(self.ctx, study_instance_uid, series_instance_uid, None)

    def delete_instance(
        self,
        study_instance_uid: str,
        series_instance_uid: str,
        sop_instance_uid: str,
        additional_params: dict[str, Any] | None = None,
    ) -> None:
        from dicomfs.file import delete

        delete.delete(
            self.ctx, study_instance_uid, series_instance_uid, sop_instance_uid
        )
