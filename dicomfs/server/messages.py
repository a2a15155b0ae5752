"""HTTP plumbing of the DICOMweb server: requests, responses, bodies, ranges and warnings.

Pure helpers with no DICOM knowledge, so the handlers in :mod:`dicomfs.server.app` stay a
translation between HTTP and protocol calls.

* :class:`Request`: method, path, decoded query pairs (``+`` is a space, CONFORMANCE A-13),
  lower-cased headers and the request body as an iterator of chunks (``Content-Length`` or
  ``Transfer-Encoding: chunked``, I-15).
* :class:`Response`: status, headers and a body that is bytes or an iterator of chunks; the
  writer sends ``Content-Length`` whenever the body fits in :data:`LOOKAHEAD_BYTES` (K-04) and
  chunked transfer encoding otherwise, so a study is streamed one instance at a time.
* :func:`parse_range`: one ``bytes=`` range (F-12); :func:`warning_value`: a Warning 299 value
  with a quoted warn-text (D-03).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO
from urllib.parse import parse_qsl, unquote

from dicomfs.errors import BadRequestError

__all__ = [
    "LOOKAHEAD_BYTES",
    "Request",
    "Response",
    "error_response",
    "escape_raw_bytes",
    "is_digits",
    "iter_body",
    "json_response",
    "lookahead",
    "parse_range",
    "parse_query",
    "warning_value",
]

#: A response body up to this size is sent with Content-Length; a larger one is streamed chunked.
LOOKAHEAD_BYTES = 8 * 1024 * 1024
#: Read size for request bodies.
_READ_SIZE = 256 * 1024
_MAX_CHUNK_LINE = 4096
_DIGITS = re.compile(r"[0-9]+")
_HEX = re.compile(rb"[0-9A-Fa-f]+")


class LengthRequiredError(BadRequestError):
    """411: a request body without Content-Length or chunked transfer encoding."""

    status_code = 411
    reason = "Length Required"


class RangeNotSatisfiableError(BadRequestError):
    """416: a Range that starts beyond the end of the bulk data."""

    status_code = 416
    reason = "Range Not Satisfiable"

    def __init__(self, message: str, length: int) -> None:
        super().__init__(message)
        self.length = length


def parse_query(query: str) -> list[tuple[str, str]]:
    """Decode a query string into ``(name, value)`` pairs, in order, repeats kept.

    Percent-escapes are UTF-8 and ``+`` is a space (A-13); empty values are kept (``PatientName=``
    is universal matching, B-09).

    >>> parse_query("PatientName=DOE+JOHN&includefield=a&includefield=b&StudyDate=")
    [('PatientName', 'DOE JOHN'), ('includefield', 'a'), ('includefield', 'b'), ('StudyDate', '')]

    Raises
    ------
    BadRequestError
        Percent-escapes that are not UTF-8.
    """
    try:
        return parse_qsl(query, keep_blank_values=True, strict_parsing=False, errors="strict")
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequestError(f"malformed query string: {exc}") from exc


def escape_raw_bytes(target: str) -> str:
    """Percent-escape the raw non-ASCII bytes of a request target (A-14).

    ``http.server`` decodes the request line as ISO 8859-1, so a client sending UTF-8 bytes
    unescaped (``curl '...?PatientName=Müller'``) gives ``MÃ¼ller``; escaped again, they are
    decoded as UTF-8 like every percent-escape, and bytes that are not UTF-8 are a 400.

    >>> escape_raw_bytes("/studies?PatientName=M\xc3\xbcller*")
    '/studies?PatientName=M%C3%BCller*'
    """
    if target.isascii():
        return target
    return "".join(
        chr(byte) if byte < 0x80 else f"%{byte:02X}" for byte in target.encode("latin-1", "replace")
    )


def decode_path(raw: str) -> str:
    """The percent-decoded path (``+`` stays ``+`` in paths)."""
    try:
        return unquote(raw, errors="strict")
    except UnicodeDecodeError as exc:
        raise BadRequestError(f"malformed path: {exc}") from exc


@dataclass
class Request:
    """One HTTP request, as the handlers see it.

    Attributes
    ----------
    method: str
        ``GET``, ``POST``, ``DELETE``...
    path: str
        The decoded path relative to the service root (``/studies/1.2.3/metadata``).
    query: list[tuple[str, str]]
        The decoded query parameters, in order.
    headers: dict[str, str]
        Header names lower-cased (repeated headers joined with ``", "``).
    body: Iterable[bytes]
        The request body, read lazily.
    """

    method: str
    path: str
    query: list[tuple[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    body: Iterable[bytes] = ()

    def header(self, name: str) -> str | None:
        """A header's value, or None."""
        return self.headers.get(name.lower())


@dataclass
class Response:
    """One HTTP response: the body is bytes or an iterator of byte chunks."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes | Iterator[bytes] = b""

    def add(self, name: str, value: str) -> Response:
        """Add a header (repeats allowed, e.g. several Warning headers)."""
        self.headers.append((name, value))
        return self


def json_response(
    status: int, payload: object, content_type: str = "application/dicom+json"
) -> Response:
    """A JSON response (UTF-8, no ``charset`` parameter: dicomweb-client compares the
    Content-Type literally, I-16)."""
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Response(status, [("Content-Type", content_type)], body)


def error_response(status: int, message: str) -> Response:
    """An error: ``{"status": 404, "message": "..."}`` as application/json."""
    return json_response(status, {"status": status, "message": message}, "application/json")


def warning_value(agent: str, text: str) -> str:
    """A Warning header value: code 299, the agent, and the quoted warn-text (D-03).

    >>> warning_value("127.0.0.1:8080", 'There are 3 additional results that can be requested')
    '299 127.0.0.1:8080 "There are 3 additional results that can be requested"'
    """
    quoted = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'299 {agent} "{quoted}"'


def is_digits(text: str) -> bool:
    """Whether ``text`` is one or more ASCII digits (``str.isdigit`` also takes "²" and "٣").

    >>> is_digits("12"), is_digits("²"), is_digits("٣"), is_digits("")
    (True, False, False, False)
    """
    return _DIGITS.fullmatch(text) is not None


def parse_range(value: str | None) -> tuple[int, int | None] | tuple[None, int] | None:
    """Parse a single ``Range: bytes=...`` value (F-12).

    Returns ``(first, last)`` (``last`` None for ``first-``), ``(None, n)`` for a suffix range
    ``-n``, or None when absent or to be ignored (another unit than ``bytes``, several ranges:
    RFC 9110 14.2).

    >>> parse_range("bytes=100-199"), parse_range("bytes=0-"), parse_range("bytes=-5")
    ((100, 199), (0, None), (None, 5))

    Raises
    ------
    BadRequestError
        A malformed byte range.
    """
    if value is None:
        return None
    unit, sep, spec = value.strip().partition("=")
    if unit.strip().lower() != "bytes" or not sep or "," in spec:
        # RFC 9110 14.2: a range unit the server does not understand MUST be ignored, and
        # several ranges may be: the whole representation is sent (200).
        return None
    first, dash, last = spec.strip().partition("-")
    first, last = first.strip(), last.strip()
    if not dash or not (is_digits(first) or is_digits(last)):
        raise BadRequestError(f"malformed Range {value!r}")
    if (first and not is_digits(first)) or (last and not is_digits(last)):
        raise BadRequestError(f"malformed Range {value!r}")
    if not first:
        return None, int(last)
    start = int(first)
    end = int(last) if last else None
    if end is not None and end < start:
        raise BadRequestError(f"malformed Range {value!r}: last byte before first")
    return start, end


def resolve_range(
    spec: tuple[int, int | None] | tuple[None, int], length: int
) -> tuple[int, int]:
    """The inclusive ``(first, last)`` of a parsed range over ``length`` bytes.

    Raises
    ------
    RangeNotSatisfiableError
        The range starts at or beyond the end (or is an empty suffix).
    """
    first, last = spec
    if first is None:
        assert last is not None
        if last == 0 or length == 0:
            raise RangeNotSatisfiableError("empty suffix range", length)
        return max(0, length - last), length - 1
    if first >= length:
        raise RangeNotSatisfiableError(f"range starts at {first}, beyond {length} bytes", length)
    return first, length - 1 if last is None else min(last, length - 1)


# ---- request bodies ------------------------------------------------------------------------
def iter_body(stream: BinaryIO, headers: dict[str, str]) -> Iterator[bytes]:
    """Yield the request body from the socket: chunked (I-15) or Content-Length bytes.

    Raises
    ------
    LengthRequiredError
        Neither Content-Length nor chunked transfer encoding.
    BadRequestError
        A malformed chunk or Content-Length, or a body shorter than announced.
    """
    encoding = headers.get("transfer-encoding", "").lower()
    if encoding:
        if [t.strip() for t in encoding.split(",")][-1] != "chunked":
            raise BadRequestError(f"unsupported Transfer-Encoding {encoding!r}")
        return _iter_chunked(stream)
    length_text = headers.get("content-length")
    if length_text is None:
        raise LengthRequiredError("a request body needs Content-Length or chunked encoding")
    if not is_digits(length_text.strip()):
        raise BadRequestError(f"malformed Content-Length {length_text!r}")
    return _iter_length(stream, int(length_text))


def _iter_length(stream: BinaryIO, length: int) -> Iterator[bytes]:
    remaining = length
    while remaining > 0:
        chunk = stream.read(min(_READ_SIZE, remaining))
        if not chunk:
            raise BadRequestError(f"request body truncated ({length - remaining} of {length})")
        remaining -= len(chunk)
        yield chunk


def _iter_chunked(stream: BinaryIO) -> Iterator[bytes]:
    while True:
        line = stream.readline(_MAX_CHUNK_LINE)
        if not line.endswith(b"\n"):
            raise BadRequestError("malformed chunked body (chunk size line)")
        size_text = line.split(b";", 1)[0].strip()
        if _HEX.fullmatch(size_text) is None:  # int() would take "1_0" and " +1"
            raise BadRequestError(f"malformed chunk size {size_text[:20]!r}")
        size = int(size_text, 16)
        if size == 0:
            while True:  # trailers, up to the empty line
                trailer = stream.readline(_MAX_CHUNK_LINE)
                if trailer in (b"\r\n", b"\n", b""):
                    return
        yield from _iter_length(stream, size)
        if stream.readline(_MAX_CHUNK_LINE).strip():
            raise BadRequestError("malformed chunked body (no CRLF after a chunk)")


# ---- response bodies -----------------------------------------------------------------------
def lookahead(body: bytes | Iterator[bytes], limit: int) -> tuple[bytes, Iterator[bytes] | None]:
    """Read a body up to ``limit`` bytes: ``(everything, None)`` when it ended within the limit,
    else ``(head, rest)`` to stream."""
    if isinstance(body, bytes):
        return body, None
    head = bytearray()
    for chunk in body:
        head += chunk
        if len(head) > limit:
            return bytes(head), body
    return bytes(head), None
