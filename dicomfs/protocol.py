"""The DICOMweb client protocol: every method signature, and the only copy of each docstring.

Both :class:`dicomfs.DICOMfileClient` and :class:`dicomfs.DICOMwebClient` subclass
:class:`DICOMClient`, so a missing method fails at construction.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Sequence
from typing import Any

import pydicom.datadict
import pydicom.tag
from pydicom.dataset import Dataset

from dicomfs._types import DicomJSON, MediaTypes, RenderParams, SearchFilters

__all__ = ["METHODS", "DICOMClient"]


class DICOMClient(abc.ABC):
    """A DICOMweb client: the interface of ``dicomweb_client.protocol.DICOMClient``."""

    base_url: str

    @abc.abstractmethod
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
        """Search for studies (QIDO-RS ``/studies``).

        Parameters
        ----------
        fuzzymatching: bool, optional
            Fuzzy matching of person names (PN only): the query matches when it is a
            case-insensitive prefix of any name component.
        limit: int, optional
            Maximum number of results (``0`` returns ``[]``).
        offset: int, optional
            Number of results to skip.
        fields: Sequence[str], optional
            Keywords or tags of additional attributes to return (``"all"`` for every one).
        search_filters: dict, optional
            Match keys: keyword or 8-digit hex tag -> value (string, number or list).
        get_remaining: bool, optional
            Keep requesting pages until the result is complete.

        Returns
        -------
        list[dict]
            One DICOM JSON object per matching study, ``[]`` when nothing matches.

        Raises
        ------
        InvalidQueryError
            Unknown keyword or tag, malformed value, reversed range, negative limit.
        """

    @abc.abstractmethod
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
        """Search for series (QIDO-RS ``/series`` or ``/studies/{study}/series``).

        Parameters are those of :meth:`search_for_studies`, plus ``study_instance_uid`` to search
        within one study (an unknown study gives ``[]``).

        Returns
        -------
        list[dict]
            One DICOM JSON object per matching series.
        """

    @abc.abstractmethod
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
        """Search for instances (QIDO-RS ``/instances``, ``/studies/{s}/instances`` or
        ``/studies/{s}/series/{se}/instances``).

        Parameters are those of :meth:`search_for_studies`, plus the optional scope.

        Returns
        -------
        list[dict]
            One DICOM JSON object per matching instance.
        """

    @abc.abstractmethod
    def retrieve_study(
        self,
        study_instance_uid: str,
        media_types: MediaTypes | None = None,
        additional_params: dict[str, Any] | None = None,
    ) -> list[Dataset]:
        """Retrieve every instance of a study (WADO-RS ``/studies/{study}``).

        Parameters
        ----------
        study_instance_uid: str
            Study Instance UID.
        media_types: tuple, optional
            Acceptable media types, e.g. ``("application/dicom", "*")`` for the stored transfer
            syntax. By default instances come in Explicit VR Little Endian.

        Returns
        -------
        list[pydicom.Dataset]
            The instances.

        Raises
        ------
        NotFoundError
            The study does not exist.
        NotAcceptableError
            No acceptable transfer syntax can be produced.
        """

    @abc.abstractmethod
    def iter_study(
        self,
        study_instance_uid: str,
        media_types: MediaTypes | None = None,
        additional_params: dict[str, Any] | None = None,
    ) -> Iterator[Dataset]:
        """Iterate over the instances of a study, one at a time (see :meth:`retrieve_study`)."""

    @abc.abstractmethod
    def retrieve_study_metadata(
        self, study_instance_uid: str, additional_params: dict[str, Any] | None = None
    ) -> list[DicomJSON]:
        """Retrieve the metadata of every instance of a study as DICOM JSON (bulk: BulkDataURI)."""

    @abc.abstractmethod
    def delete_study(
        self, study_instance_uid: str, additional_params: dict[str, Any] | None = None
    ) -> None:
        """Delete a study and all its instances.

        Raises
        ------
        NotFoundError
            The study does not exist.
        ReadOnlyError
            The store is read-only.
        """

    @abc.abstractmethod
    def retrieve_series(
        self,
        study_instance_uid: str,
        series_instance_uid: str,
        media_types: MediaTypes | None = None,
        additional_params: dict[str, Any] | None = None,
    ) -> list[Dataset]:
        """Retrieve every instance of a series (see :meth:`retrieve_study`)."""

    @abc.abstractmethod
    def iter_series(
        self,
        study_instance_uid: str,
        series_instance_uid: str,
        media_types: MediaTypes | None = None,
        additional_params: dict[str, Any] | None = None,
    ) -> Iterator[Dataset]:
        """Iterate over the instances of a series, one at a time (see :meth:`retrieve_study`)."""

    @abc.abstractmethod
    def retrieve_series_metadata(
        self,
        study_instance_uid: str,
        series_instance_uid: str,
        additional_params: dict[str, Any] | None = None,
    ) -> list[DicomJSON]:
        """Retrieve the metadata of every instance of a series as DICOM JSON."""

    @abc.abstractmethod
    def retrieve_series_rendered(
        self,
        study_instance_uid: str,
        series_instance_uid: str,
        media_types: MediaTypes | None = None,
        params: RenderParams | None = None,
        additional_params: dict[str, Any] | None = None,
    ) -> bytes:
        """Render a series: with ``image/gif`` an animated GIF with one frame per instance (in
        InstanceNumber order); with ``image/jpeg`` (default) or ``image/png`` the first instance.
        """

    @abc.abstractmethod
    def delete_series(
        self,
        study_instance_uid: str,
        series_instance_uid: str,
        additional_params: dict[str, Any] | None = None,
    ) -> None:
        """Delete a series and all its instances (see :meth:`delete_study`)."""

    @abc.abstractmethod
    def retrieve_instance(
        self,
        study_instance_uid: str,
        series_instance_uid: str,
        sop_instance_uid: str,
        media_types: MediaTypes | None = None,
        additional_params: dict[str, Any] | None = None,
    ) -> Dataset:
        """Retrieve one instance (see :meth:`retrieve_study` for ``media_types``)."""

    @abc.abstractmethod
    def store_instances(
        self,
        datasets: Sequence[Dataset],
        study_instance_uid: str | None = None,
        additional_params: dict[str, Any] | None = None,
    ) -> Dataset:
        """Store instances (STOW-RS).

        Parameters
        ----------
        datasets: Sequence[pydicom.Dataset]
            The instances to store.
        study_instance_uid: str, optional
            When given, instances of another study fail (FailureReason 43265).

        Returns
        -------
        pydicom.Dataset
            The Store Instances Response: RetrieveURL, ReferencedSOPSequence and, when something
            failed, FailedSOPSequence.

        Raises
        ------
        ConflictError
            Nothing could be stored (``.dataset`` holds the response).
        ReadOnlyError
            The store is read-only.
        """

    @abc.abstractmethod
    def delete_instance(
        self,
        study_instance_uid: str,
        series_instance_uid: str,
        sop_instance_uid: str,
        additional_params: dict[str, Any] | None = None,
    ) -> None:
        """Delete one instance (see :meth:`delete_study`)."""

    @abc.abstractmethod
    def retrieve_instance_metadata(
        self,
        study_instance_uid: str,
        series_instance_uid: str,
        sop_instance_uid: str,
        additional_params: dict[str, Any] | None = None,
    ) -> DicomJSON:
        """Retrieve the metadata of one instance as a DICOM JSON object."""

    @abc.abstractmethod
    def retrieve_instance_rendered(
        self,
        study_instance_uid: str,
        series_instance_uid: str,
        sop_instance_uid: str,
        media_types: MediaTypes | None = None,
        params: RenderParams | None = None,
        additional_params: dict[str, Any] | None = None,
    ) -> bytes:
        """Render an instance (its first frame) as ``image/jpeg`` (default), PNG or GIF.

        ``params`` may hold ``window`` (``"center,width,function"``), ``viewport`` (``"vw,vh"``) and
        ``quality`` (1-100, JPEG only).
        """

    @abc.abstractmethod
    def retrieve_instance_frames(
        self,
        study_instance_uid: str,
        series_instance_uid: str,
        sop_instance_uid: str,
        frame_numbers: Sequence[int],
        media_types: MediaTypes | None = None,
        additional_params: dict[str, Any] | None = None,
    ) -> list[bytes]:
        """Retrieve frames of an instance, in the requested order.

        Parameters
        ----------
        frame_numbers: Sequence[int]
            One-based frame numbers.
        media_types: tuple, optional
            ``application/octet-stream`` (default: native pixel bytes) or the stored codestream's
            own media type (``image/jpeg``, ``image/jls``, ``image/jp2``, ``image/dicom-rle``, ...).

        Raises
        ------
        InvalidQueryError
            A frame number that is not a positive integer.
        NotFoundError
            A frame number past the end.
        """

    @abc.abstractmethod
    def iter_instance_frames(
        self,
        study_instance_uid: str,
        series_instance_uid: str,
        sop_instance_uid: str,
        frame_numbers: Sequence[int],
        media_types: MediaTypes | None = None,
        additional_params: dict[str, Any] | None = None,
    ) -> Iterator[bytes]:
        """Iterate over frames of an instance (see :meth:`retrieve_instance_frames`)."""

    @abc.abstractmethod
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
        """Render frames of an instance (see :meth:`retrieve_instance_rendered`)."""

    @abc.abstractmethod
    def retrieve_bulkdata(
        self,
        url: str,
        media_types: MediaTypes | None = None,
        byte_range: tuple[int, int] | None = None,
        additional_params: dict[str, Any] | None = None,
    ) -> list[bytes]:
        """Retrieve the bulk data at a BulkDataURI, byte-exact.

        Parameters
        ----------
        url: str
            A BulkDataURI from metadata.
        byte_range: tuple[int, int], optional
            Inclusive ``(first, last)`` byte range, as in HTTP.
        """

    @abc.abstractmethod
    def iter_bulkdata(
        self,
        url: str,
        media_types: MediaTypes | None = None,
        byte_range: tuple[int, int] | None = None,
        additional_params: dict[str, Any] | None = None,
    ) -> Iterator[bytes]:
        """Iterate over the bulk data items at a BulkDataURI (see :meth:`retrieve_bulkdata`)."""

    @staticmethod
    def lookup_keyword(tag: str | int | tuple[int, int] | pydicom.tag.BaseTag) -> str:
        """Return the keyword of a tag, e.g. ``"00080018"`` -> ``"SOPInstanceUID"``.

        Raises
        ------
        KeyError
            The tag has no keyword, or is no tag at all (``"PatientName"``, ``None``, -1).
        """
        try:
            number = int(tag, 16) if isinstance(tag, str) else tag
            if not isinstance(number, (int, tuple)):  # a float would be truncated to a tag
                raise TypeError(type(number).__name__)
            keyword = pydicom.datadict.keyword_for_tag(number)
        except (ValueError, TypeError, OverflowError) as exc:
            raise KeyError(f"Could not find a keyword for tag {tag!r}: not a tag.") from exc
        if not keyword:
            raise KeyError(f"Could not find a keyword for tag {tag}.")
        return str(keyword)

    @staticmethod
    def lookup_tag(keyword: str) -> str:
        """Return the 8-digit upper-case hex tag of a keyword (``SOPInstanceUID`` -> ``00080018``).

        Raises
        ------
        KeyError
            The keyword is unknown.
        """
        tag = pydicom.datadict.tag_for_keyword(keyword)
        if tag is None:
            raise KeyError(f'Could not find a tag for "{keyword}".')
        return f"{int(tag):08X}"


#: The names of the 22 protocol methods, in declaration order.
METHODS: tuple[str, ...] = tuple(
    name
    for name, value in vars(DICOMClient).items()
    if getattr(value, "__isabstractmethod__", False)
)
