"""HTTP for the web client: one ``requests`` session, retries with back-off, errors mapped.

Every response with status >= 400 becomes the :mod:`dicomfs.errors` class the file client raises
for the same case, built with ``response=`` the real response (so ``err.response.status_code`` is
the server's). Statuses in the retry list (429, 408, 503, 504 by default) are retried with
exponential back-off, or after the delay the server gives in ``Retry-After``.
"""

from __future__ import annotations

import email.utils
import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import requests

from dicomfs.errors import (
    BadRequestError,
    ConflictError,
    HTTPStatusError,
    ServerError,
    UnsupportedError,
    error_for_status,
)

__all__ = ["BodyFactory", "RetryPolicy", "Transport", "TransportError", "raise_for_status"]

logger = logging.getLogger("dicomfs.web")

#: A request body that can be produced again for a retry: a callable returning the chunks.
BodyFactory = Callable[[], Iterator[bytes]]

#: Longest wait honoured from a ``Retry-After`` header, and longest back-off, in seconds.
MAX_RETRY_WAIT = 300.0


class TransportError(ServerError, requests.ConnectionError, requests.Timeout):
    """The server could not be reached or did not answer in time (no HTTP status).

    Also a :class:`requests.ConnectionError` and :class:`requests.Timeout`, so code written
    against dicomweb-client that catches those keeps working.
    """


@dataclass
class RetryPolicy:
    """When and how long to wait before retrying (see ``set_http_retry_params``)."""

    retry: bool = True
    max_attempts: int = 5
    wait_exponential_multiplier: float = 1000.0
    retriable_error_codes: tuple[int, ...] = (429, 408, 503, 504)

    def should_retry(self, attempt: int, status_code: int) -> bool:
        """Whether a response with ``status_code`` on attempt ``attempt`` (1-based) is retried."""
        return (
            self.retry and attempt < self.max_attempts and status_code in self.retriable_error_codes
        )

    def delay(self, attempt: int, response: requests.Response) -> float:
        """Seconds to wait after attempt ``attempt``: ``Retry-After`` if given, else
        ``multiplier * 2**attempt`` milliseconds (the back-off of the ``retrying`` package).
        """
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if retry_after is not None:
            return min(retry_after, MAX_RETRY_WAIT)
        backoff = self.wait_exponential_multiplier * float(2**attempt) / 1000.0
        return min(backoff, MAX_RETRY_WAIT)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` value (delta-seconds or an HTTP-date); ``None`` if invalid.

    >>> parse_retry_after("3")
    3.0
    >>> parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0)
    10.0
    """
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # "²".isdigit() is true, float("²") fails
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


#: Bytes of an error body read for its explanation (a body may be huge, or never end).
_DETAIL_BYTES = 64 * 1024


def _detail(response: requests.Response) -> str:
    """A one-line explanation from an error body (Orthanc's JSON ``Details``/``Message``),
    read from at most its first :data:`_DETAIL_BYTES` bytes."""
    try:
        if response._content_consumed:  # type: ignore[attr-defined]
            raw = response.content[:_DETAIL_BYTES]
        else:
            raw = response.raw.read(_DETAIL_BYTES, decode_content=True) or b""
        text = raw.decode("utf-8", errors="replace").strip()
    except (requests.RequestException, OSError, ValueError, AttributeError):
        return ""
    if text.startswith("{"):
        try:
            body = json.loads(text)
        except (ValueError, RecursionError):
            body = None
        if isinstance(body, dict):
            for key in ("Details", "Message", "message", "error"):
                if isinstance(body.get(key), str):
                    text = str(body[key])
                    break
    return " ".join(text.split())[:300]


def _conflict_dataset(response: requests.Response) -> Any:
    from dicomfs.web.stow import parse_stow_response  # local import: stow imports transport

    try:
        return parse_stow_response(response)
    except (ValueError, KeyError, TypeError, RecursionError, SyntaxError) as exc:
        # SyntaxError: xml.etree's ParseError (a malformed application/dicom+xml body)
        logger.warning("cannot parse the 409 response body: %s", exc)
        return None


def raise_for_status(
    response: requests.Response, bad_request: type[BadRequestError] = BadRequestError
) -> None:
    """Raise the :mod:`dicomfs.errors` class for an HTTP error status (>= 400).

    400 raises ``bad_request`` (``InvalidQueryError`` for searches and frames), 405 raises
    :class:`~dicomfs.errors.UnsupportedError` (the server does not support the method, e.g.
    Orthanc's DICOMweb DELETE), 409 a :class:`~dicomfs.errors.ConflictError` whose ``.dataset``
    is the STOW response in the body.
    """
    status = response.status_code
    if status < 400:
        return
    request = response.request
    method = request.method if request is not None else "?"
    detail = _detail(response)
    message = f"{status} {response.reason} for {method} {response.url}"
    if detail:
        message += f": {detail}"
    if status == 400:
        raise bad_request(message, response=response)
    if status == 405:
        raise UnsupportedError(message, response=response)
    if status == 409:
        raise ConflictError(message, dataset=_conflict_dataset(response), response=response)
    cls: type[HTTPStatusError] = error_for_status(status)
    raise cls(message, response=response)


class _Chunked:
    """A streamed request body that is made again each time it is iterated.

    ``requests`` sends a request again, with the same body object, after a 307/308 redirect or
    a Digest authentication challenge: a generator would then be empty, and the server would
    get no instance at all (and answer 200 for none).
    """

    def __init__(self, factory: BodyFactory, size: int) -> None:
        self._factory = factory
        self._size = size

    def __iter__(self) -> Iterator[bytes]:
        pending = bytearray()
        for chunk in self._factory():
            pending += chunk
            while len(pending) >= self._size:
                yield bytes(pending[: self._size])
                del pending[: self._size]
        if pending:
            yield bytes(pending)


class Transport:
    """Sends requests through one session with the client's timeout and retry policy."""

    def __init__(
        self, session: requests.Session, timeout: float | tuple[float, float], chunk_size: int
    ) -> None:
        self.session = session
        self.timeout = timeout
        self.chunk_size = chunk_size
        self.retry = RetryPolicy()
        #: How to wait between attempts (replaced in tests).
        self.sleep: Callable[[float], None] = time.sleep

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("sleep", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.sleep = time.sleep

    def _prepare(
        self,
        method: str,
        url: str,
        query: str,
        headers: dict[str, str] | None,
        body: bytes | _Chunked | None,
    ) -> requests.PreparedRequest:
        prepared = self.session.prepare_request(
            requests.Request(method, url, headers=headers, data=body)
        )
        if query:
            # Appended after preparation: sent as urls.encode_query built it, not re-quoted.
            base = prepared.url or url
            prepared.url = f"{base}{'&' if '?' in base else '?'}{query}"
        return prepared

    def _body(self, body: bytes | BodyFactory | None) -> bytes | _Chunked | None:
        """Small bodies go with Content-Length; larger ones stream chunked (chunk_size pieces),
        from a body that makes its chunks again each time it is sent (see :class:`_Chunked`)."""
        if body is None or isinstance(body, bytes):
            return body
        head = bytearray()
        for chunk in body():
            head += chunk
            if len(head) > self.chunk_size:
                return _Chunked(body, self.chunk_size)
        return bytes(head)

    def request(
        self,
        method: str,
        url: str,
        *,
        query: str = "",
        headers: dict[str, str] | None = None,
        body: bytes | BodyFactory | None = None,
        stream: bool = False,
        bad_request: type[BadRequestError] = BadRequestError,
    ) -> requests.Response:
        """Send a request, retrying retriable statuses, and return a successful response.

        Raises
        ------
        HTTPStatusError
            The mapped :mod:`dicomfs.errors` class for a status >= 400 (see
            :func:`raise_for_status`).
        TransportError
            The connection failed or timed out.
        """
        attempt = 1
        while True:
            prepared = self._prepare(method, url, query, headers, self._body(body))
            logger.debug("%s %s (attempt %d)", method, prepared.url, attempt)
            try:
                response = self.session.send(
                    prepared,
                    stream=stream,
                    timeout=self.timeout,
                    allow_redirects=True,
                    **self._send_settings(prepared.url or url),
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                raise TransportError(f"{method} {prepared.url}: {exc}") from exc
            except (requests.RequestException, ValueError) as exc:
                # A body not as declared (gzip, length, chunks), a redirect loop or one to
                # another scheme or a malformed URL: the server's answer is unusable.
                raise ServerError(f"{method} {prepared.url}: {' '.join(str(exc).split())}"
                                  ) from exc
            if not self.retry.should_retry(attempt, response.status_code):
                break
            wait = self.retry.delay(attempt, response)
            logger.warning(
                "%s %s answered %d; retrying in %.3g s (attempt %d of %d)",
                method, prepared.url, response.status_code, wait, attempt + 1,
                self.retry.max_attempts,
            )
            response.close()
            self.sleep(wait)
            attempt += 1
        if "Warning" in response.headers:
            logger.warning("%s %s: Warning: %s", method, url, response.headers["Warning"])
        if response.status_code >= 400:
            try:
                raise_for_status(response, bad_request)
            finally:
                response.close()
        if 300 <= response.status_code < 400:  # a redirect requests did not follow (no Location)
            response.close()
            raise ServerError(
                f"{response.status_code} {response.reason} for {method} {response.url}: a "
                "redirect without a usable Location", response=response,
            )
        return response

    def _send_settings(self, url: str) -> dict[str, Any]:
        """Proxies, verify and cert as ``Session.request`` would merge them (env included)."""
        settings = self.session.merge_environment_settings(url, {}, None, None, None)
        return {k: settings[k] for k in ("proxies", "verify", "cert")}
