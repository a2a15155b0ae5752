"""The HTTP server: ``http.server.ThreadingHTTPServer`` around :class:`DICOMwebApp`.

>>> server = make_server(client, port=0)          # doctest: +SKIP
>>> server.start()                                  # a daemon thread  # doctest: +SKIP
>>> DICOMwebClient(server.url).search_for_studies()  # doctest: +SKIP
>>> server.stop()                                   # doctest: +SKIP

The served client's ``base_url`` (and its store context's) is set to the server's public URL,
so every RetrieveURL and BulkDataURI it produces points at this server.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

from dicomfs import __version__
from dicomfs.errors import BadRequestError, DicomfsError
from dicomfs.file.client import DICOMfileClient
from dicomfs.protocol import DICOMClient
from dicomfs.server.app import DEFAULT_MAX_RESULTS, DICOMwebApp
from dicomfs.server.messages import (
    Request,
    Response,
    decode_path,
    error_response,
    escape_raw_bytes,
    iter_body,
    parse_query,
)

__all__ = ["DEFAULT_PREFIX", "DICOMwebServer", "make_server", "serve"]

logger = logging.getLogger("dicomfs.server")

#: The path of the service root on this server.
DEFAULT_PREFIX = "/dicomweb"
#: Seconds an idle keep-alive connection is kept open.
IDLE_TIMEOUT_S = 60
#: Bytes of an unread request body read to keep the connection (else it is closed).
_DRAIN_LIMIT = 1024 * 1024


class _Handler(BaseHTTPRequestHandler):
    """One connection: parses each request into a :class:`Request` and writes the answer."""

    protocol_version = "HTTP/1.1"
    server_version = f"dicomfs/{__version__}"
    timeout = IDLE_TIMEOUT_S
    server: DICOMwebServer

    def log_message(self, format: str, *args: Any) -> None:
        logger.info("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_DELETE = do_PUT = do_PATCH = do_GET

    def do_HEAD(self) -> None:
        self._dispatch(head=True)

    def _dispatch(self, head: bool = False) -> None:
        raw_path, _, query = escape_raw_bytes(self.path).partition("?")
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        state = {"consumed": "content-length" not in headers and "transfer-encoding" not in headers}

        def read_body() -> Iterator[bytes]:
            yield from iter_body(self.rfile, headers)  # type: ignore[arg-type]
            state["consumed"] = True

        body = read_body()
        response, rest = self._answer(raw_path, query, headers, body, head)
        if not state["consumed"]:
            self._drain(body, state)
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        assert isinstance(response.body, bytes)
        chunked = rest is not None and self.request_version == "HTTP/1.1" and not head
        if rest is None:
            if response.status != 204:
                self.send_header("Content-Length", str(len(response.body)))
        elif head:
            pass  # a streamed body's length is not known without producing it
        elif chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.close_connection = True
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if head or response.status == 204:
            return
        if rest is None:
            self.wfile.write(response.body)
            return
        self._stream(response.body, rest, chunked)

    def _answer(
        self, raw_path: str, query: str, headers: dict[str, str], body: Iterator[bytes],
        head: bool,
    ) -> tuple[Response, Iterator[bytes] | None]:
        prefix = self.server.prefix
        try:
            path = decode_path(raw_path)
            query_pairs = parse_query(query)
        except BadRequestError as exc:
            return error_response(400, str(exc)), None
        if path != prefix and not path.startswith(prefix + "/"):
            message = f"no resource at {raw_path} (the service root is {prefix or '/'})"
            return error_response(404, message), None
        method = "GET" if head else self.command
        request = Request(method, path[len(prefix):] or "/", query_pairs, headers, body)
        try:
            return self.server.app.handle(request)
        except Exception as exc:  # the server's top level, like the CLI's: a bug becomes a 500
            logger.exception("%s %s failed", self.command, self.path)
            return error_response(500, f"internal error: {type(exc).__name__}: {exc}"), None

    def _drain(self, body: Iterator[bytes], state: dict[str, bool]) -> None:
        """Read what is left of a request body (an epilogue), or give up the connection."""
        left = _DRAIN_LIMIT
        try:
            for chunk in body:
                left -= len(chunk)
                if left < 0:
                    break
        except (BadRequestError, OSError):
            pass
        if not state["consumed"]:
            self.close_connection = True

    def _stream(self, head: bytes, rest: Any, chunked: bool) -> None:
        def write(chunk: bytes) -> None:
            if not chunk:
                return
            if chunked:
                self.wfile.write(f"{len(chunk):X}\r\n".encode("ascii") + chunk + b"\r\n")
            else:
                self.wfile.write(chunk)

        try:
            write(head)
            for chunk in rest:
                write(chunk)
        except (OSError, ValueError, DicomfsError) as exc:
            # The client went away, or an instance failed after the status was sent: the
            # response ends without its last chunk, so the client sees it is incomplete.
            logger.error("%s %s: response aborted: %s", self.command, self.path, exc)
            self.close_connection = True
            return
        if chunked:
            self.wfile.write(b"0\r\n\r\n")

    def _write_plain(self, status: int, message: str) -> None:
        body = message.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class DICOMwebServer(ThreadingHTTPServer):
    """A DICOMweb server over one client; see :func:`make_server`.

    Attributes
    ----------
    app: DICOMwebApp
        The request handlers.
    url: str
        The public URL of the service root (what RetrieveURL and BulkDataURI values start with).
    prefix: str
        The path of the service root on this server (``/dicomweb``).
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], prefix: str) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)
        self.prefix = prefix
        self.url = ""
        self.app: DICOMwebApp
        self.owned_client: DICOMClient | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> DICOMwebServer:
        """Serve in a daemon thread (for tests and embedding); :meth:`stop` ends it."""
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05},
            name=f"dicomfs-server-{self.server_port}", daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close the socket, and close the client if the server opened it."""
        if self._thread is not None:
            self.shutdown()
            self._thread.join(timeout=10)
            self._thread = None
        self.server_close()
        if self.owned_client is not None:
            close = getattr(self.owned_client, "close", None)
            if callable(close):
                close()
            self.owned_client = None


def _public_url(host: str, port: int, prefix: str) -> str:
    if host in ("", "0.0.0.0", "::"):
        host = socket.gethostname()
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}{prefix}"


def make_server(
    root_or_client: str | os.PathLike[str] | DICOMClient,
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    prefix: str = DEFAULT_PREFIX,
    public_url: str | None = None,
    max_results: int | None = DEFAULT_MAX_RESULTS,
) -> DICOMwebServer:
    """Bind a DICOMweb server (not started: call ``serve_forever()`` or ``start()``).

    Parameters
    ----------
    root_or_client: path or DICOMClient
        A store folder (opened as a :class:`~dicomfs.DICOMfileClient` with its index brought up
        to date, closed by :meth:`DICOMwebServer.stop`) or a client to serve. A served
        :class:`~dicomfs.DICOMfileClient`'s ``base_url`` is set to the server's URL.
    host, port: str, int
        Where to listen; ``127.0.0.1`` by default (loopback only), port ``0`` picks a free one.
    prefix: str
        The path of the service root (default ``/dicomweb``).
    public_url: str, optional
        The URL clients reach the service root at, when it is not ``http://host:port/prefix``
        (behind a reverse proxy); RetrieveURL and BulkDataURI values start with it.
    max_results: int or None
        Most results per QIDO-RS response (default 1000; None for no cap).

    Returns
    -------
    DICOMwebServer
    """
    prefix = "/" + prefix.strip("/") if prefix.strip("/") else ""
    if public_url is not None:
        parts = urlsplit(public_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"public_url must be an http(s) URL: {public_url!r}")
    server = DICOMwebServer((host, port), prefix)
    try:
        if isinstance(root_or_client, DICOMClient):
            client = root_or_client
        else:
            client = DICOMfileClient(root_or_client, update_db=True)
            server.owned_client = client
        url = (public_url or _public_url(host, server.server_port, prefix)).rstrip("/")
        client.base_url = url
        ctx = getattr(client, "ctx", None)
        if ctx is not None:
            ctx.base_url = url
        server.url = url
        server.app = DICOMwebApp(client, url, max_results)
    except BaseException:
        server.server_close()
        raise
    return server


class _Stop(Exception):
    """Raised in the main thread by SIGTERM to leave ``serve_forever``."""


def serve(
    root_or_client: str | os.PathLike[str] | DICOMClient,
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    ready: Callable[[DICOMwebServer], None] | None = None,
    **options: Any,
) -> None:
    """Serve until SIGINT or SIGTERM, then close everything and return.

    ``ready`` is called with the bound server before serving (e.g. to print its URL);
    ``options`` are those of :func:`make_server`.
    """
    server = make_server(root_or_client, host, port, **options)

    def stop(signum: int, frame: FrameType | None) -> None:
        raise _Stop(signal.Signals(signum).name)

    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, stop) if main else None
    logger.info("serving %s at %s", root_or_client, server.url)
    try:
        if ready is not None:
            ready(server)
        server.serve_forever()
    except (_Stop, KeyboardInterrupt):
        logger.info("stopping")
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous)
        server.stop()
