"""The dicomfs error hierarchy: every error dicomfs raises derives from :class:`DicomfsError`.

Errors that correspond to an HTTP status also derive from :class:`requests.HTTPError` and carry
``.response.status_code``, so code written against ``dicomweb_client`` keeps working::

    DicomfsError
    ├── CorruptFileError                          a stored file cannot be read any more
    └── HTTPStatusError (requests.HTTPError)
        ├── BadRequestError (ValueError)                          400
        │   └── InvalidQueryError                                 400
        ├── ReadOnlyError                                         403
        ├── NotFoundError (LookupError)                           404
        ├── NotAcceptableError                                    406
        ├── ConflictError                                         409  (.dataset: STOW response)
        ├── UnsupportedMediaTypeError                             415
        ├── ServerError                                           5xx from a remote server
        └── UnsupportedError                                      501
"""

from __future__ import annotations

from typing import Any

import requests

__all__ = [
    "BadRequestError",
    "ConflictError",
    "CorruptFileError",
    "DicomfsError",
    "HTTPStatusError",
    "InvalidQueryError",
    "NotAcceptableError",
    "NotFoundError",
    "ReadOnlyError",
    "ServerError",
    "UnsupportedError",
    "UnsupportedMediaTypeError",
    "error_for_status",
]


class DicomfsError(Exception):
    """Root of every error dicomfs raises."""


class CorruptFileError(DicomfsError):
    """A file in the store can no longer be read as the index describes it."""


def _synthetic_response(status_code: int, reason: str, url: str | None) -> requests.Response:
    response = requests.Response()
    response.status_code = status_code
    response.reason = reason
    response.url = url or ""
    response._content = b""
    return response


class HTTPStatusError(DicomfsError, requests.HTTPError):
    """An error that corresponds to an HTTP status code.

    Parameters
    ----------
    message: str
        One-line human readable explanation.
    response: requests.Response, optional
        The HTTP response (web client). The file client builds a synthetic one so that
        ``err.response.status_code`` works the same for both clients.
    """

    status_code: int = 500
    reason: str = "Internal Server Error"

    def __init__(
        self,
        message: str = "",
        *,
        response: requests.Response | None = None,
        url: str | None = None,
    ) -> None:
        if response is None:
            response = _synthetic_response(self.status_code, self.reason, url)
        requests.HTTPError.__init__(self, message or self.reason, response=response)
        self.message = message or self.reason

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> Any:
        return (_rebuild, (type(self), self.message))


def _rebuild(cls: type[HTTPStatusError], message: str) -> HTTPStatusError:
    return cls(message)


class BadRequestError(HTTPStatusError, ValueError):
    """400: a bad argument (invalid media type for the resource, malformed request)."""

    status_code = 400
    reason = "Bad Request"


class InvalidQueryError(BadRequestError):
    """400: unknown keyword or tag, malformed value, bad range, bad limit, bad frame number."""


class ReadOnlyError(HTTPStatusError):
    """403: store or delete on a read-only store."""

    status_code = 403
    reason = "Forbidden"


class NotFoundError(HTTPStatusError, LookupError):
    """404: unknown study, series, instance, frame or bulk data."""

    status_code = 404
    reason = "Not Found"


class NotAcceptableError(HTTPStatusError):
    """406: the requested media type or transfer syntax cannot be produced."""

    status_code = 406
    reason = "Not Acceptable"


class ConflictError(HTTPStatusError):
    """409: nothing of a STOW request could be stored; ``.dataset`` is the STOW response."""

    status_code = 409
    reason = "Conflict"

    def __init__(
        self,
        message: str = "",
        *,
        dataset: Any = None,
        response: requests.Response | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(message, response=response, url=url)
        self.dataset = dataset

    def __reduce__(self) -> Any:
        return (_rebuild_conflict, (self.message, self.dataset))


def _rebuild_conflict(message: str, dataset: Any) -> ConflictError:
    return ConflictError(message, dataset=dataset)


class UnsupportedMediaTypeError(HTTPStatusError):
    """415: the server does not accept the request's content type."""

    status_code = 415
    reason = "Unsupported Media Type"


class ServerError(HTTPStatusError):
    """5xx: a remote server failed."""

    status_code = 500
    reason = "Internal Server Error"


class UnsupportedError(HTTPStatusError):
    """501: a valid request this version cannot serve."""

    status_code = 501
    reason = "Not Implemented"


_BY_STATUS: dict[int, type[HTTPStatusError]] = {
    400: BadRequestError,
    403: ReadOnlyError,
    404: NotFoundError,
    406: NotAcceptableError,
    409: ConflictError,
    415: UnsupportedMediaTypeError,
    501: UnsupportedError,
}


def error_for_status(status_code: int) -> type[HTTPStatusError]:
    """Return the error class for an HTTP status code (other 4xx/5xx map to a generic class)."""
    if status_code in _BY_STATUS:
        return _BY_STATUS[status_code]
    if status_code == 410:
        return NotFoundError
    if status_code >= 500:
        return ServerError
    return BadRequestError if status_code == 400 else HTTPStatusError
