"""DICOMwebClient: the protocol over HTTP(S), compatible with dicomweb-client's constructor.

Wiring only: URLs and queries come from :mod:`~dicomfs.web.urls`, Accept headers from
:mod:`~dicomfs.web.media` (over :mod:`dicomfs.media`, shared with the file client), HTTP
(retries, error mapping) from :mod:`~dicomfs.web.transport`, multipart parsing from
:mod:`~dicomfs.web.multipart` and STOW from :mod:`~dicomfs.web.stow`.
The docstrings of the protocol methods live in :mod:`dicomfs.protocol`.
"""

from __future__ import annotations

import io
import json
import logging
import struct
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from urllib.parse import urljoin, urlsplit

import pydicom
import requests
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from dicomfs._types import DicomJSON, MediaTypes, RenderParams, SearchFilters
from dicomfs.errors import (
    BadRequestError,
    InvalidQueryError,
    NotFoundError,
    ServerError,
)
from dicomfs.protocol import DICOMClient
from dicomfs.transfer import check_complete
from dicomfs.web import media, stow
from dicomfs.web.multipart import MultipartError, Part, iter_parts, new_boundary, parse_media_type
from dicomfs.web.transport import RetryPolicy, Transport, TransportError
from dicomfs.web.urls import ServiceURL, encode_query, extra_params, search_params

__all__ = ["DICOMwebClient"]

logger = logging.getLogger("dicomfs.web")

AddParams = dict[str, Any] | None


class DICOMwebClient(DICOMClient):
    """A client of any DICOMweb server over HTTP(S).

    Parameters
    ----------
    url: str
        The DICOMweb service root, e.g. ``"https://host/dicom-web"``.
    session: requests.Session, optional
        The session to use (see :mod:`dicomfs.session_utils`); it is modified (headers,
        proxies, hooks), as dicomweb-client does.
    qido_url_prefix, wado_url_prefix, stow_url_prefix, delete_url_prefix: str, optional
        Path prefixes of the services under ``url``.
    proxies: dict, optional
        Proxies for ``requests``.
    headers: dict, optional
        Headers sent with every request (e.g. ``{"Authorization": "Bearer TOKEN"}``).
    callback: callable, optional
        A ``requests`` response hook.
    chunk_size: int
        Bytes per chunk when streaming responses and chunked uploads (default 1 MB).
    permissive_uid: bool
        Accept UIDs that are not digits and dots (still never ``/``, ``@``, ``?``, ``#``).
    timeout: float or (float, float)
        Seconds (connect, read) for every request.

    Examples
    --------
    >>> client = DICOMwebClient("http://127.0.0.1:8042/dicom-web")
    >>> client.base_url, client.port
    ('http://127.0.0.1:8042/dicom-web', 8042)
    """

    def __init__(
        self,
        url: str,
        session: requests.Session | None = None,
        qido_url_prefix: str | None = None,
        wado_url_prefix: str | None = None,
        stow_url_prefix: str | None = None,
        delete_url_prefix: str | None = None,
        proxies: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        callback: Callable[..., Any] | None = None,
        chunk_size: int = 10**6,
        permissive_uid: bool = False,
        timeout: float | tuple[float, float] = 20,
    ) -> None:
        prefixes = {
            "qido": qido_url_prefix,
            "wado": wado_url_prefix,
            "stow": stow_url_prefix,
            "delete": delete_url_prefix,
        }
        self._urls = ServiceURL(url, prefixes, permissive_uid)
        if session is not None and not isinstance(session, requests.Session):
            raise BadRequestError("session must be a requests.Session")
        self._owns_session = session is None
        session = session if session is not None else requests.Session()
        if headers is not None:
            session.headers.update(headers)
        if proxies is not None:
            session.proxies = proxies
        if callback is not None:
            session.hooks = {"response": [callback]}
        self._transport = Transport(session, timeout, 1)
        self.set_chunk_size(chunk_size)
        self._permissive_uid = permissive_uid
        # The attributes of dicomweb-client's client.
        self.base_url = self._urls.base_url
        self.scheme = self.protocol = self._urls.scheme
        self.host = self._urls.host
        self.port = self._urls.port
        self.url_prefix = self._urls.url_prefix
        self.qido_url_prefix = qido_url_prefix
        self.wado_url_prefix = wado_url_prefix
        self.stow_url_prefix = stow_url_prefix
        self.delete_url_prefix = delete_url_prefix

    @property
    def session(self) -> requests.Session:
        """The ``requests`` session every request goes through."""
        return self._transport.session

    def __repr__(self) -> str:
        return f"DICOMwebClient({self.base_url!r})"

    def close(self) -> None:
        """Close the session if this client created it."""
        if self._owns_session:
            self._transport.session.close()

    def __enter__(self) -> DICOMwebClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def set_chunk_size(self, chunk_size: int) -> None:
        """Set the number of bytes per chunk for streamed downloads and chunked uploads."""
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
            raise BadRequestError(f"chunk_size must be a positive integer, not {chunk_size!r}")
        self._chunk_size = chunk_size
        self._transport.chunk_size = chunk_size

    def set_http_retry_params(
        self,
        retry: bool = True,
        max_attempts: int = 5,
        wait_exponential_multiplier: float = 1000,
        retriable_error_codes: tuple[int, ...] = (429, 408, 503, 504),
    ) -> None:
        """Set the retry policy: retry ``retriable_error_codes`` up to ``max_attempts`` times in
        all, waiting ``wait_exponential_multiplier * 2**attempt`` ms, or ``Retry-After`` when the
        server sends it. ``retry=False`` sends each request once.
        """
        if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
            raise BadRequestError("max_attempts must be a positive integer")
        if wait_exponential_multiplier < 0:
            raise BadRequestError("wait_exponential_multiplier must not be negative")
        self._transport.retry = RetryPolicy(
            retry=retry,
            max_attempts=max_attempts if retry else 1,
            wait_exponential_multiplier=float(wait_exponential_multiplier),
            retriable_error_codes=tuple(int(code) for code in retriable_error_codes),
        )

    # ---- plumbing -----------------------------------------------------------------------------
    def _resource(self, service: str, *uids: str | None) -> str:
        """The URL of a study/series/instance resource; every UID given is required."""
        names = ("study_instance_uid", "series_instance_uid", "sop_instance_uid")
        for name, uid in zip(names, uids, strict=False):
            if uid is None:
                raise InvalidQueryError(f"{name} is required")
        return self._urls.resource(service, *uids)

    def _get(
        self,
        url: str,
        accept: str,
        params: Sequence[tuple[str, str]] = (),
        *,
        stream: bool = False,
        extra_headers: dict[str, str] | None = None,
        bad_request: type[BadRequestError] = BadRequestError,
    ) -> requests.Response:
        headers = {"Accept": accept, **(extra_headers or {})}
        return self._transport.request(
            "GET", url, query=encode_query(params), headers=headers, stream=stream,
            bad_request=bad_request,
        )

    def _get_json(
        self,
        url: str,
        params: Sequence[tuple[str, str]] = (),
        bad_request: type[BadRequestError] = BadRequestError,
    ) -> list[DicomJSON]:
        response = self._get(url, media.accept(None, "metadata"), params, bad_request=bad_request)
        if response.status_code == 204 or not response.content.strip():
            return []
        try:
            body = json.loads(response.content)
        except (ValueError, RecursionError) as exc:  # RecursionError: "[[[[...]]]]"
            raise ServerError(f"invalid JSON from {url}: {exc}", response=response) from exc
        if isinstance(body, dict):  # some servers send one object instead of an array
            return [body]
        if not isinstance(body, list) or not all(isinstance(x, dict) for x in body):
            raise ServerError(f"expected a JSON array of objects from {url}", response=response)
        return body

    def _search(
        self, url: str, params: list[tuple[str, str]], get_remaining: bool
    ) -> list[DicomJSON]:
        if not get_remaining:
            return self._get_json(url, params, InvalidQueryError)
        # CONFORMANCE D-06: request pages (offset += page size) until an empty page.
        offset = next((int(v) for k, v in params if k == "offset"), 0)
        base = [(k, v) for k, v in params if k != "offset"]
        results: list[DicomJSON] = []
        seen: set[str] = set()
        while page := self._get_json(url, [*base, ("offset", str(offset))], InvalidQueryError):
            keys = {json.dumps(item, sort_keys=True) for item in page}
            if keys <= seen:  # nothing new: the server ignores offset or never ends (D-06)
                raise ServerError(
                    f"{url} ignores offset: a page of results already returned came back"
                )
            seen |= keys
            results.extend(page)
            offset += len(page)
        return results

    def _parts(self, response: requests.Response) -> Iterator[Part]:
        """The parts of a (streamed) response; a non-multipart body counts as one part."""
        with response:
            if response.status_code == 204:
                return
            content_type = response.headers.get("Content-Type", "")
            media_type, params = parse_media_type(content_type)
            try:
                if media_type == "multipart/related" and params.get("boundary"):
                    yield from iter_parts(
                        response.iter_content(self._chunk_size), params["boundary"]
                    )
                    return
                logger.warning(
                    "%s: expected multipart/related, got %r: read as one part",
                    response.url, content_type,
                )
                yield Part(response.content, {"content-type": content_type})
            except MultipartError as exc:
                raise ServerError(
                    f"malformed multipart response from {response.url}: {exc}", response=response
                ) from exc
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
                raise TransportError(f"reading {response.url}: {exc}") from exc
            except requests.RequestException as exc:  # e.g. a body not in its declared encoding
                raise ServerError(
                    f"reading {response.url}: {' '.join(str(exc).split())}", response=response
                ) from exc

    def _datasets(self, response: requests.Response) -> Iterator[Dataset]:
        for number, part in enumerate(self._parts(response), start=1):
            try:
                ds = pydicom.dcmread(io.BytesIO(part.content))
                if not len(ds):
                    raise EOFError("no data set element after the File Meta")
                check_complete(ds, len(part.content))  # pydicom stops at a cut without a word
            except (InvalidDicomError, EOFError, ValueError, struct.error) as exc:
                raise ServerError(
                    f"part {number} of {response.url} is not a whole DICOM file: {exc}",
                    response=response,
                ) from exc
            yield ds

    def _retrieve_instances(
        self, url: str, media_types: MediaTypes | None, additional_params: AddParams
    ) -> Iterator[Dataset]:
        accept = media.accept(media_types, "instance")
        response = self._get(url, accept, extra_params(additional_params), stream=True)
        return self._datasets(response)

    def _rendered(
        self,
        url: str,
        media_types: MediaTypes | None,
        params: RenderParams | None,
        additional_params: AddParams,
    ) -> bytes:
        accept = media.accept(media_types, "rendered")
        if params is not None and not isinstance(params, dict):
            raise InvalidQueryError("params must be a dict (window, viewport, quality, ...)")
        query = extra_params(params) + extra_params(additional_params)
        # A 400 here is about the rendering parameters (window, viewport, quality...): the
        # media types were checked above. InvalidQueryError, as the file client raises (H-06..H-08).
        return self._get(url + "/rendered", accept, query, bad_request=InvalidQueryError).content

    def _frames_url(
        self, study: str, series: str, instance: str, frame_numbers: Sequence[int]
    ) -> str:
        if isinstance(frame_numbers, (str, bytes)) or not isinstance(frame_numbers, Sequence):
            raise InvalidQueryError("frame_numbers must be a sequence of integers")
        if not frame_numbers:
            raise InvalidQueryError("frame_numbers is empty")
        for number in frame_numbers:
            if isinstance(number, bool) or not isinstance(number, int) or number < 1:
                raise InvalidQueryError(f"frame numbers are positive integers, not {number!r}")
        frames = ",".join(str(n) for n in frame_numbers)
        return f"{self._resource('wado', study, series, instance)}/frames/{frames}"

    def _bulk(
        self,
        url: str,
        media_types: MediaTypes | None,
        byte_range: tuple[int, int] | None,
        additional_params: AddParams,
    ) -> Iterator[bytes]:
        if not isinstance(url, str) or not url.strip():
            raise BadRequestError("the BulkDataURI must be a non-empty string")
        url = urljoin(self.base_url + "/", url)
        if urlsplit(url).scheme not in ("http", "https"):
            raise BadRequestError(f"not an http(s) BulkDataURI: {url!r}")
        headers = {}
        if byte_range is not None:
            if (
                not isinstance(byte_range, (tuple, list))
                or len(byte_range) != 2
                or not all(isinstance(x, int) and not isinstance(x, bool) for x in byte_range)
                or not 0 <= byte_range[0] <= byte_range[1]
            ):
                raise InvalidQueryError("byte_range must be (first, last) with 0 <= first <= last")
            headers["Range"] = f"bytes={byte_range[0]}-{byte_range[1]}"
        accept = media.accept(media_types, "bulkdata")
        response = self._get(
            url, accept, extra_params(additional_params), stream=True, extra_headers=headers
        )
        ignored_range = byte_range is not None and response.status_code != 206
        return self._bulk_parts(response, byte_range if ignored_range else None)

    def _bulk_parts(
        self, response: requests.Response, cut: tuple[int, int] | None
    ) -> Iterator[bytes]:
        for part in self._parts(response):
            if cut is not None:  # the server ignored the Range and sent everything (Orthanc)
                yield part.content[cut[0] : cut[1] + 1]
            else:
                yield part.content

    def _delete(self, url: str, additional_params: AddParams) -> None:
        self._transport.request(
            "DELETE", url, query=encode_query(extra_params(additional_params))
        ).close()

    # ---- QIDO-RS ------------------------------------------------------------------------------
    def search_for_studies(
        self,
        fuzzymatching: bool | None = None,
        limit: int | None = None,
        offset: int | None = None,
        fields: Sequence[str] | None = None,
        search_filters: SearchFilters | None = None,
        get_remaining: bool = False,
        additional_params: AddParams = None,
    ) -> list[DicomJSON]:
        params = search_params(
            fuzzymatching, limit, offset, fields, search_filters, additional_params
        )
        return self._search(self._urls.resource("qido", level="studies"), params, get_remaining)

    def search_for_series(
        self,
        study_instance_uid: str | None = None,
        fuzzymatching: bool | None = None,
        limit: int | None = None,
        offset: int | None = None,
        fields: Sequence[str] | None = None,
        search_filters: SearchFilters | None = None,
        get_remaining: bool = False,
        additional_params: AddParams = None,
    ) -> list[DicomJSON]:
        params = search_params(
            fuzzymatching, limit, offset, fields, search_filters, additional_params
        )
        url = self._urls.resource("qido", study_instance_uid, level="series")
        return self._search(url, params, get_remaining)

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
        additional_params: AddParams = None,
    ) -> list[DicomJSON]:
        params = search_params(
            fuzzymatching, limit, offset, fields, search_filters, additional_params
        )
        url = self._urls.resource(
            "qido", study_instance_uid, series_instance_uid, level="instances"
        )
        return self._search(url, params, get_remaining)

    # ---- WADO-RS: instances and metadata ------------------------------------------------------
    def retrieve_study(
        self,
        study_instance_uid: str,
        media_types: MediaTypes | None = None,
        additional_params: AddParams = None,
    ) -> list[Dataset]:
        return list(self.iter_study(study_instance_uid, media_types, additional_params))

    def iter_study(
        self,
        study_instance_uid: str,
        media_types: MediaTypes | None = None,
        additional_params: AddParams = None,
    ) -> Iterator[Dataset]:
        url = self._resource("wado", study_instance_uid)
        return self._retrieve_instances(url, media_types, additional_params)

    def retrieve_series(
        self,
        study_instance_uid: str,
        series_instance_uid: str,
        media_types: MediaTypes | None = None,
        additional_params: AddParams = None,
    ) -> list[Dataset]:
        iterator = self.iter_series(
            study_instance_uid, series_instance_uid, media_types, additional_params
        )
        return list(iterator)

    def iter_series(
        self,
        study_instance_uid: str,
        series_instance_uid: str,
        media_types: MediaTypes | None = None,
        additional_params: AddParams = None,
    ) -> Iterator[Dataset]:
        url = self._resource("wado", study_instance_uid, series_instance_uid)
        return self._retrieve_instances(url, media_types, additional_params)

    def retrieve_instance(
        self,
        study_instance_uid: str,
        series_instance_uid: str,
        sop_instance_uid: str,
        media_types: MediaTypes | None = None,
        additional_params: AddParams = None,
    ) -> Dataset:
        url = self._resource("wado", study_instance_uid, series_instance_uid, sop_instance_uid)
        instances = list(self._retrieve_instances(url, media_types, additional_params))
        if not instances:
            raise NotFoundError(f"no instance {sop_instance_uid} in the response")
        if len(instances) > 1:
            raise ServerError(f"{len(instances)} instances returned for {sop_instance_uid}")
        return instances[0]

    def retrieve_study_metadata(
        self, study_instance_uid: str, additional_params: AddParams = None
    ) -> list[DicomJSON]:
        url = self._resource("wado", study_instance_uid) + "/metadata"
        return self._get_json(url, extra_params(additional_params))

    def retrieve_series_metadata(
        self,
        study_instance_uid: str,
        series_instance_uid: str,
        additional_params: AddParams = None,
    ) -> list[DicomJSON]:
        url = self._resource("wado", study_instance_uid, series_instance_uid) + "/metadata"
        return self._get_json(url, extra_params(additional_params))

    def retrieve_instance_metadata(
        self,
        study_instance_uid: str,
        series_instance_uid: str,
        sop_instance_uid: str,
        additional_params: AddParams = None,
    ) -> DicomJSON:
        url = self._resource(
            "wado", study_instance_uid, series_instance_uid, sop_instance_uid
        )
        found = self._get_json(url + "/metadata", extra_params(additional_params))
        if not found:
            raise NotFoundError(f"no metadata for instance {sop_instance_uid}")
        return found[0]

    # ---- WADO-RS: frames, bulk data, rendered -------------------------------------------------
    def retrieve_instance_frames(
        self,
        study_instance_uid: str,
        series_instance_uid: str,
        sop_instance_uid: str,
        frame_numbers: Sequence[int],
        media_types: MediaTypes | None = None,
        additional_params: AddParams = None,
    ) -> list[bytes]:
        return list(
            self.iter_instance_frames(
                study_instance_uid, series_instance_uid, sop_instance_uid, frame_numbers,
                media_types, additional_params,
            )
        )

    def iter_instance_frames(
        self,
        study_instance_uid: str,
        series_instance_uid: str,
        sop_instance_uid: str,
        frame_numbers: Sequence[int],
        media_types: MediaTypes | None = None,
        additional_params: AddParams = None,
    ) -> Iterator[bytes]:
        url = self._frames_url(
            study_instance_uid, series_instance_uid, sop_instance_uid, frame_numbers
        )
        accept = media.accept(media_types, "frame")
        response = self._get(
            url, accept, extra_params(additional_params), stream=True,
            bad_request=InvalidQueryError,
        )
        return (part.content for part in self._parts(response))

    def retrieve_bulkdata(
        self,
        url: str,
        media_types: MediaTypes | None = None,
        byte_range: tuple[int, int] | None = None,
        additional_params: AddParams = None,
    ) -> list[bytes]:
        return list(self._bulk(url, media_types, byte_range, additional_params))

    def iter_bulkdata(
        self,
        url: str,
        media_types: MediaTypes | None = None,
        byte_range: tuple[int, int] | None = None,
        additional_params: AddParams = None,
    ) -> Iterator[bytes]:
        return self._bulk(url, media_types, byte_range, additional_params)

    def retrieve_instance_rendered(
        self,
        study_instance_uid: str,
        series_instance_uid: str,
        sop_instance_uid: str,
        media_types: MediaTypes | None = None,
        params: RenderParams | None = None,
        additional_params: AddParams = None,
    ) -> bytes:
        url = self._resource(
            "wado", study_instance_uid, series_instance_uid, sop_instance_uid
        )
        return self._rendered(url, media_types, params, additional_params)

    def retrieve_instance_frames_rendered(
        self,
        study_instance_uid: str,
        series_instance_uid: str,
        sop_instance_uid: str,
        frame_numbers: Sequence[int],
        media_types: MediaTypes | None = None,
        params: RenderParams | None = None,
        additional_params: AddParams = None,
    ) -> bytes:
        url = self._frames_url(
            study_instance_uid, series_instance_uid, sop_instance_uid, frame_numbers
        )
        return self._rendered(url, media_types, params, additional_params)

    def retrieve_series_rendered(
        self,
        study_instance_uid: str,
        series_instance_uid: str,
        media_types: MediaTypes | None = None,
        params: RenderParams | None = None,
        additional_params: AddParams = None,
    ) -> bytes:
        url = self._resource("wado", study_instance_uid, series_instance_uid)
        return self._rendered(url, media_types, params, additional_params)

    # ---- STOW-RS and DELETE -------------------------------------------------------------------
    def store_instances(
        self,
        datasets: Sequence[stow.StowItem],
        study_instance_uid: str | None = None,
        additional_params: AddParams = None,
    ) -> Dataset:
        """Store instances (STOW-RS); see :meth:`dicomfs.protocol.DICOMClient.store_instances`.

        Besides datasets, items may be paths of Part10 files, streamed from disk. The body is
        sent with chunked transfer encoding when larger than ``chunk_size``.
        """
        items = stow.check_items(datasets)
        url = (
            self._urls.resource("stow", level="studies")
            if study_instance_uid is None
            else self._urls.resource("stow", study_instance_uid)
        )
        boundary = new_boundary()
        chunk_size = self._chunk_size
        response = self._transport.request(
            "POST",
            url,
            query=encode_query(extra_params(additional_params)),
            headers={
                "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}',
                "Accept": "application/dicom+json",
            },
            body=lambda: stow.iter_stow_body(items, boundary, chunk_size),
        )
        with response:
            if response.status_code == 202:
                logger.warning("STOW-RS %s: some instances were not stored (202)", url)
            try:
                return stow.parse_stow_response(response)
            except (ValueError, KeyError, TypeError, RecursionError, SyntaxError) as exc:
                # SyntaxError: xml.etree's ParseError (malformed application/dicom+xml)
                raise ServerError(f"unreadable STOW-RS response: {exc}", response=response) from exc

    def delete_study(self, study_instance_uid: str, additional_params: AddParams = None) -> None:
        self._delete(self._resource("delete", study_instance_uid), additional_params)

    def delete_series(
        self,
        study_instance_uid: str,
        series_instance_uid: str,
        additional_params: AddParams = None,
    ) -> None:
        url = self._resource("delete", study_instance_uid, series_instance_uid)
        self._delete(url, additional_params)

    def delete_instance(
        self,
        study_instance_uid: str,
        series_instance_uid: str,
        sop_instance_uid: str,
        additional_params: AddParams = None,
    ) -> None:
        url = self._resource(
            "delete", study_instance_uid, series_instance_uid, sop_instance_uid
        )
        self._delete(url, additional_params)
