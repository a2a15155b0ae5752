"""The DICOMweb application: routes HTTP requests to protocol calls and serializes the results.

Resources, relative to the service root (``http://host:port/dicomweb`` by default):

=========================================================  ===================================
``GET /studies``, ``/series``, ``/instances``,              QIDO-RS (``search_for_*``)
``/studies/{s}/series``, ``/studies/{s}/instances``,
``/studies/{s}/series/{se}/instances``
``GET /studies/{s}[/series/{se}[/instances/{i}]]``          WADO-RS instances (multipart)
``GET .../metadata``                                        metadata (DICOM JSON)
``GET .../instances/{i}/frames/{n,m}``                      frames (multipart)
``GET .../instances/{i}/bulk/{tag path}``                   one BulkDataURI (Range supported)
``GET /studies/{s}[/series/{se}[/instances/{i}]]/bulkdata``  every BulkDataURI of the level
``GET .../series/{se}/rendered``, ``.../instances/{i}/rendered``,
``.../frames/{n}/rendered``                                 rendered images
``POST /studies``, ``POST /studies/{s}``                   STOW-RS
``DELETE /studies/{s}[/series/{se}[/instances/{i}]]``       delete (204)
=========================================================  ===================================

Errors raised by the client map to their ``status_code`` (400, 403, 404, 406, 409, 415, 501),
with a JSON body ``{"status": ..., "message": ...}``; a file that cannot be read is 500.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pydicom
from pydicom.dataset import Dataset

from dicomfs import media
from dicomfs._types import MediaTypes
from dicomfs.errors import (
    BadRequestError,
    CorruptFileError,
    DicomfsError,
    HTTPStatusError,
    NotAcceptableError,
    NotFoundError,
    UnsupportedError,
)
from dicomfs.media import MediaRange
from dicomfs.protocol import DICOMClient
from dicomfs.server import stow
from dicomfs.server.messages import (
    LOOKAHEAD_BYTES,
    RangeNotSatisfiableError,
    Request,
    Response,
    error_response,
    is_digits,
    json_response,
    lookahead,
    parse_range,
    resolve_range,
    warning_value,
)
from dicomfs.server.negotiation import acceptable, media_types
from dicomfs.server.qido import parse_search_query
from dicomfs.web.multipart import encode_multipart, new_boundary

__all__ = ["DEFAULT_MAX_RESULTS", "DICOMwebApp"]

logger = logging.getLogger("dicomfs.server")

#: Most results one QIDO-RS response holds; more are announced by a Warning 299 (D-01, D-02).
DEFAULT_MAX_RESULTS = 1000

_LEVELS = ("studies", "series", "instances")
_RENDER_PARAMS = ("window", "viewport", "quality", "annotation", "iccprofile")
_OCTET = "application/octet-stream"

PartSource = Iterator[tuple[dict[str, str], bytes]]


def _split(path: str) -> tuple[list[str], list[str]]:
    """``/studies/A/series/B/metadata`` -> ``(["A", "B"], ["metadata"])``."""
    segments = path.strip("/").split("/") if path.strip("/") else []
    uids: list[str] = []
    i = 0
    while (
        len(uids) < 3 and i + 1 < len(segments) and segments[i] == _LEVELS[len(uids)]
    ):
        uids.append(segments[i + 1])
        i += 2
    return uids, segments[i:]


def _encode(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    try:
        pydicom.dcmwrite(buffer, ds, enforce_file_format=True)
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        uid = ds.get("SOPInstanceUID", "?")
        raise CorruptFileError(f"instance {uid} cannot be encoded: {exc}") from exc
    return buffer.getvalue()


def _multipart(part_type: str, parts: PartSource, status: int = 200) -> Response:
    """A multipart/related response (random boundary, quoted type: K-01); each part gets its
    Content-Length."""
    boundary = new_boundary()

    def encoded() -> Iterator[tuple[dict[str, str], list[bytes]]]:
        for headers, content in parts:
            yield {**headers, "Content-Length": str(len(content))}, [content]

    content_type = media.multipart_content_type(part_type, boundary)
    return Response(status, [("Content-Type", content_type)], encode_multipart(encoded(), boundary))


def _bulk_uris(obj: Any) -> Iterator[str]:
    """Every BulkDataURI of a DICOM JSON object, in key order, nested items included."""
    if isinstance(obj, dict):
        if isinstance(obj.get("BulkDataURI"), str):
            yield obj["BulkDataURI"]
        for key in sorted(obj):
            if key != "BulkDataURI":
                yield from _bulk_uris(obj[key])
    elif isinstance(obj, list):
        for item in obj:
            yield from _bulk_uris(item)


def _join_gifs(gifs: list[bytes]) -> bytes:
    """One animated GIF of the frames of several, one frame each (identical ones too), resized
    to the first one's size."""
    from PIL import Image, ImageSequence

    from dicomfs.pixels.gif import animated_gif
    from dicomfs.pixels.render import GIF_FRAME_MS

    frames: list[Image.Image] = []
    for data in gifs:
        with Image.open(io.BytesIO(data)) as gif:
            for frame in ImageSequence.Iterator(gif):
                image = frame.convert("RGB")
                if frames and image.size != frames[0].size:
                    image = image.resize(frames[0].size, Image.Resampling.BILINEAR)
                frames.append(image)
    return animated_gif(frames, GIF_FRAME_MS)


class DICOMwebApp:
    """Turns :class:`~dicomfs.server.messages.Request` objects into responses over one client.

    Parameters
    ----------
    client: DICOMClient
        The store (normally a :class:`~dicomfs.DICOMfileClient` whose ``base_url`` is this
        service's URL, so RetrieveURL and BulkDataURI values point here).
    base_url: str
        The public URL of the service root (no trailing slash).
    max_results: int or None
        Most results per QIDO-RS response (None: no cap).
    """

    def __init__(
        self, client: DICOMClient, base_url: str, max_results: int | None = DEFAULT_MAX_RESULTS
    ) -> None:
        if max_results is not None and max_results < 1:
            raise ValueError(f"max_results must be a positive integer or None: {max_results}")
        self.client = client
        self.base_url = base_url.rstrip("/")
        self.max_results = max_results
        netloc = self.base_url.split("://", 1)[-1].split("/", 1)[0]
        self.agent = netloc or "dicomfs"

    # ---- entry point -------------------------------------------------------------------------
    def handle(self, request: Request) -> tuple[Response, Iterator[bytes] | None]:
        """Answer a request: the response with its body's first bytes, and the rest to stream
        (None when the body is complete, so it gets a Content-Length, K-04)."""
        try:
            response = self._route(request)
            head, rest = lookahead(response.body, LOOKAHEAD_BYTES)
            response.body = head
            return response, rest
        except HTTPStatusError as exc:
            response = self._error(exc)
        except (CorruptFileError, DicomfsError) as exc:
            logger.error("%s %s: %s", request.method, request.path, exc)
            response = error_response(500, str(exc))
        assert isinstance(response.body, bytes)
        return response, None

    def _error(self, exc: HTTPStatusError) -> Response:
        status = exc.status_code
        if status == 409 and isinstance(getattr(exc, "dataset", None), Dataset):
            from dicomfs.dicomjson import dataset_to_json

            return json_response(409, dataset_to_json(exc.dataset))  # type: ignore[attr-defined]
        response = error_response(status, str(exc))
        if isinstance(exc, RangeNotSatisfiableError):
            response.add("Content-Range", f"bytes */{exc.length}")
        return response

    def _route(self, request: Request) -> Response:
        uids, rest = _split(request.path)
        handler, allowed = self._resolve(uids, rest)
        if handler is None:
            raise NotFoundError(f"no DICOMweb resource at {request.path!r}")
        if request.method not in allowed:
            response = error_response(405, f"{request.method} is not allowed on {request.path}")
            return response.add("Allow", ", ".join(sorted(allowed)))
        return handler(request, uids, rest)

    def _resolve(
        self, uids: list[str], rest: list[str]
    ) -> tuple[Callable[[Request, list[str], list[str]], Response] | None, set[str]]:
        n = len(uids)
        if len(rest) == 1 and rest[0] in _LEVELS and _LEVELS.index(rest[0]) >= n:
            if n == 0 and rest[0] == "studies":
                return self._studies, {"GET", "POST"}
            return self._search, {"GET"}
        if not rest and n:
            if n == 1:
                return self._study, {"GET", "POST", "DELETE"}
            return self._level, {"GET", "DELETE"}
        if n and rest == ["metadata"]:
            return self._metadata, {"GET"}
        if n and rest == ["bulkdata"]:
            return self._level_bulk, {"GET"}
        if n == 3 and len(rest) >= 2 and rest[0] == "bulk":
            return self._bulk, {"GET"}
        if n == 3 and len(rest) == 2 and rest[0] == "frames":
            return self._frames, {"GET"}
        if (n and rest == ["rendered"]) or (
            n == 3 and len(rest) == 3 and rest[0] == "frames" and rest[2] == "rendered"
        ):
            return self._rendered, {"GET"}
        if (n and rest in (["rendered"], ["thumbnail"])) or (
            n == 3 and len(rest) == 3 and rest[0] == "frames" and rest[2] == "thumbnail"
        ):
            return self._unsupported, {"GET"}
        return None, set()

    # ---- QIDO-RS -----------------------------------------------------------------------------
    def _studies(self, request: Request, uids: list[str], rest: list[str]) -> Response:
        if request.method == "POST":
            return self._store(request, None)
        return self._search(request, uids, rest)

    def _call_search(self, level: str, uids: list[str], **kwargs: Any) -> list[dict[str, Any]]:
        if level == "studies":
            return self.client.search_for_studies(**kwargs)
        study = uids[0] if uids else None
        if level == "series":
            return self.client.search_for_series(study, **kwargs)
        series = uids[1] if len(uids) > 1 else None
        return self.client.search_for_instances(study, series, **kwargs)

    def _search(self, request: Request, uids: list[str], rest: list[str]) -> Response:
        acceptable(request.query, request.header("accept"), "metadata")
        query = parse_search_query(request.query)
        level = rest[0]
        limit = query.limit
        if self.max_results is not None:
            limit = self.max_results if limit is None else min(limit, self.max_results)
        args: dict[str, Any] = dict(
            fuzzymatching=query.fuzzymatching, search_filters=query.filters or None,
        )
        results = self._call_search(
            level, uids, limit=limit, offset=query.offset, fields=query.fields or None, **args
        )
        warnings = list(query.warnings)
        if limit is not None and len(results) >= limit:  # D-02: count what is left (limit=0 too)
            left = len(self._call_search(level, uids, offset=query.offset + limit, **args))
            if left:
                warnings.append(f"There are {left} additional results that can be requested")
        response = (
            json_response(200, results) if results else Response(204)  # D-04: 204 when empty
        )
        for text in warnings:
            response.add("Warning", warning_value(self.agent, text))
        return response

    # ---- WADO-RS: instances and metadata -----------------------------------------------------
    def _instance_url(self, ds: Dataset) -> str:
        return (
            f"{self.base_url}/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"
            f"/instances/{ds.SOPInstanceUID}"
        )

    def _study(self, request: Request, uids: list[str], rest: list[str]) -> Response:
        if request.method == "POST":
            return self._store(request, uids[0])
        return self._level(request, uids, rest)

    def _level(self, request: Request, uids: list[str], rest: list[str]) -> Response:
        if request.method == "DELETE":
            if len(uids) == 1:
                self.client.delete_study(uids[0])
            elif len(uids) == 2:
                self.client.delete_series(uids[0], uids[1])
            else:
                self.client.delete_instance(uids[0], uids[1], uids[2])
            return Response(204)
        wanted = media_types(acceptable(request.query, request.header("accept"), "instance"))
        datasets: Iterator[Dataset]
        if len(uids) == 1:
            datasets = self.client.iter_study(uids[0], wanted)
        elif len(uids) == 2:
            datasets = self.client.iter_series(uids[0], uids[1], wanted)
        else:
            one = self.client.retrieve_instance(uids[0], uids[1], uids[2], wanted)
            datasets = iter([one])

        def parts() -> PartSource:
            for ds in datasets:  # one instance in memory at a time
                syntax = str(ds.file_meta.TransferSyntaxUID)
                headers = {
                    "Content-Type": media.part_content_type("application/dicom", syntax),
                    "Content-Location": self._instance_url(ds),
                }
                yield headers, _encode(ds)

        return _multipart("application/dicom", parts())

    def _metadata(self, request: Request, uids: list[str], rest: list[str]) -> Response:
        acceptable(request.query, request.header("accept"), "metadata")
        return json_response(200, self._metadata_of(uids))

    def _metadata_of(self, uids: list[str]) -> list[dict[str, Any]]:
        if len(uids) == 1:
            return self.client.retrieve_study_metadata(uids[0])
        if len(uids) == 2:
            return self.client.retrieve_series_metadata(uids[0], uids[1])
        return [self.client.retrieve_instance_metadata(uids[0], uids[1], uids[2])]

    # ---- WADO-RS: frames, bulk data, rendered ------------------------------------------------
    def _stored_syntax(self, uids: list[str]) -> str | None:
        found = self.client.search_for_instances(
            uids[0], uids[1], search_filters={"SOPInstanceUID": uids[2]},
            fields=["AvailableTransferSyntaxUID"],
        )
        values = found[0].get("00083002", {}).get("Value", []) if found else []
        return str(values[0]) if values else None

    @staticmethod
    def _frame_numbers(text: str) -> list[int]:
        numbers = []
        for item in text.split(","):
            if not is_digits(item.strip()):
                raise BadRequestError(f"frame numbers are positive integers: {text!r} (F-02)")
            numbers.append(int(item))
        return numbers

    def _frames(self, request: Request, uids: list[str], rest: list[str]) -> Response:
        ranges = acceptable(request.query, request.header("accept"), "frame")
        numbers = self._frame_numbers(rest[1])
        study, series, sop = uids
        syntax = self._stored_syntax(uids)
        if syntax is None:  # unknown instance: the client says what is wrong (400 or 404)
            self.client.retrieve_instance_frames(study, series, sop, numbers, media_types(ranges))
            raise NotFoundError(f"instance {sop} not found")
        choice = media.choose_frame_media(ranges, syntax)
        chosen = MediaRange(choice.media_type, choice.transfer_syntax)
        part_type = media.part_content_type(choice.media_type, choice.transfer_syntax)
        frames = self.client.iter_instance_frames(
            study, series, sop, numbers, media_types([chosen])
        )
        base = f"{self.base_url}/studies/{study}/series/{series}/instances/{sop}/frames/"

        def parts() -> PartSource:
            for number, frame in zip(numbers, frames, strict=True):
                yield {"Content-Type": part_type, "Content-Location": f"{base}{number}"}, frame

        return _multipart(chosen.media_type, parts())

    def _bulk(self, request: Request, uids: list[str], rest: list[str]) -> Response:
        ranges = acceptable(request.query, request.header("accept"), "bulkdata")
        spec = parse_range(request.header("range"))
        url = f"{self.base_url}{request.path}"
        if not any(r.q > 0 and r.media_type in media.OCTET_RANGES for r in ranges):
            return self._bulk_frames(uids, url, ranges)
        value = b"".join(self.client.retrieve_bulkdata(url, (_OCTET,)))
        headers = {"Content-Type": _OCTET, "Content-Location": url}
        if spec is None:
            return _multipart(_OCTET, iter([(headers, value)]))
        first, last = resolve_range(spec, len(value))
        content_range = f"bytes {first}-{last}/{len(value)}"
        headers["Content-Range"] = content_range
        response = _multipart(_OCTET, iter([(headers, value[first : last + 1])]), status=206)
        return response.add("Content-Range", content_range)

    def _bulk_frames(self, uids: list[str], url: str, ranges: list[MediaRange]) -> Response:
        """Compressed types only: the pixel data's frames as stored, a part each (F-05)."""
        syntax = self._stored_syntax(uids)
        if syntax is None:  # unknown instance: the client says what is wrong (400 or 404)
            self.client.retrieve_bulkdata(url, media_types(ranges))
            raise NotFoundError(f"instance {uids[2]} not found")
        choice = media.choose_frame_media(ranges, syntax, resource="bulkdata")
        chosen = MediaRange(choice.media_type, choice.transfer_syntax)
        part_type = media.part_content_type(choice.media_type, choice.transfer_syntax)
        frames = self.client.iter_bulkdata(url, media_types([chosen]))

        def parts() -> PartSource:
            for frame in frames:
                yield {"Content-Type": part_type, "Content-Location": url}, frame

        return _multipart(chosen.media_type, parts())

    def _level_bulk(self, request: Request, uids: list[str], rest: list[str]) -> Response:
        wanted = media_types(acceptable(request.query, request.header("accept"), "bulkdata"))
        uris = [uri for obj in self._metadata_of(uids) for uri in _bulk_uris(obj)]

        def parts() -> PartSource:
            for uri in uris:  # F-13: each part's Content-Location is its BulkDataURI
                value = b"".join(self.client.retrieve_bulkdata(uri, wanted))
                yield {"Content-Type": _OCTET, "Content-Location": uri}, value

        return _multipart(_OCTET, parts())

    def _study_rendered(
        self, study: str, chosen: MediaTypes, params: dict[str, str] | None
    ) -> bytes:
        """A study rendered as its series are (E-01): ``image/gif`` one animation of every
        series' frames in SeriesNumber order, ``image/jpeg``/``image/png`` its first image."""
        found = self.client.search_for_series(study, fields=["SeriesNumber"])
        if not found:  # an unknown study: the client says so (404)
            self.client.retrieve_study_metadata(study)

        def order(item: dict[str, Any]) -> tuple[bool, float, str]:
            number = item.get("00200011", {}).get("Value", [None])[0]
            uid = str(item.get("0020000E", {}).get("Value", [""])[0])
            return number is None, float(number or 0), uid
        images: list[bytes] = []
        for item in sorted(found, key=order):
            series = str(item["0020000E"]["Value"][0])
            try:
                images.append(self.client.retrieve_series_rendered(study, series, chosen, params))
            except NotAcceptableError:  # a series without images (a report, a KOS)
                continue
            if chosen[0] != "image/gif":
                return images[0]
        if not images:
            raise NotAcceptableError(f"study {study} has no instance with pixel data to render")
        return images[0] if len(images) == 1 else _join_gifs(images)

    def _rendered(self, request: Request, uids: list[str], rest: list[str]) -> Response:
        ranges = acceptable(request.query, request.header("accept"), "rendered")
        media_type = media.choose_rendered_media(ranges)
        params: dict[str, str] = {}
        ignored: list[str] = []
        for name, value in request.query:
            if name in _RENDER_PARAMS:
                if name in params:
                    raise BadRequestError(f"{name} given more than once")
                params[name] = value
            elif name not in ("accept", "charset") and name not in ignored:
                ignored.append(name)
        chosen: MediaTypes = (media_type,)
        given = params or None
        if len(uids) == 1:
            image = self._study_rendered(uids[0], chosen, given)
        elif len(uids) == 2:
            image = self.client.retrieve_series_rendered(uids[0], uids[1], chosen, given)
        elif len(rest) == 3:
            numbers = self._frame_numbers(rest[1])
            image = self.client.retrieve_instance_frames_rendered(
                uids[0], uids[1], uids[2], numbers, chosen, given
            )
        else:
            image = self.client.retrieve_instance_rendered(uids[0], uids[1], uids[2], chosen, given)
        response = Response(200, [("Content-Type", media_type)], image)
        if "annotation" in params:  # H-16: annotations are not drawn
            text = f"The following annotation values are not supported: {params['annotation']}"
            response.add("Warning", warning_value(self.agent, text))
        if ignored:
            text = f"The following query parameters are not supported and were ignored: " \
                   f"{', '.join(ignored)}"
            response.add("Warning", warning_value(self.agent, text))
        return response

    def _unsupported(self, request: Request, uids: list[str], rest: list[str]) -> Response:
        raise UnsupportedError(f"{request.path}: this resource is not supported by dicomfs")

    # ---- STOW-RS -----------------------------------------------------------------------------
    def _store(self, request: Request, study: str | None) -> Response:
        boundary = stow.check_content_type(request.header("content-type"))
        if request.header("accept"):
            acceptable(request.query, request.header("accept"), "metadata")
        return stow.store(self.client, request.body, boundary, study, self.base_url)
