"""multipart/related (RFC 2046 §5.1, RFC 2387) as pure functions: a streaming parser and encoder.

The parser reads an iterable of byte chunks of any size and yields one :class:`Part` at a time,
so memory stays bounded by the largest part, whatever the number of parts. It accepts any
boundary (quoted or not in the Content-Type), extra part headers, a preamble, transport padding
after a delimiter and an epilogue (CONFORMANCE K-03).

>>> body = b"".join(encode_multipart([({"Content-Type": "text/plain"}, [b"hi"])], "b0"))
>>> body
b'--b0\\r\\nContent-Type: text/plain\\r\\n\\r\\nhi\\r\\n--b0--\\r\\n'
>>> [p.content for p in iter_parts([body[:5], body[5:]], "b0")]
[b'hi']
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

__all__ = [
    "MAX_HEADER_BYTES",
    "MultipartError",
    "Part",
    "encode_multipart",
    "iter_parts",
    "new_boundary",
    "parse_media_type",
]

#: Largest header block accepted for one part (protects against a wrong boundary).
MAX_HEADER_BYTES = 64 * 1024

_CRLF = b"\r\n"
_PADDING = b" \t"


class MultipartError(ValueError):
    """A multipart body that cannot be parsed (truncated, or malformed part headers)."""


@dataclass(frozen=True)
class Part:
    """One body part: its headers (names lower-cased) and its content."""

    content: bytes
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def content_type(self) -> str | None:
        """The part's Content-Type header, if any."""
        return self.headers.get("content-type")


def parse_media_type(value: str) -> tuple[str, dict[str, str]]:
    """Split a Content-Type value into its lower-case media type and parameters.

    Parameter names are lower-cased; values are unquoted (quoted and unquoted values are
    equivalent, CONFORMANCE E-12), with backslash escapes in quoted strings resolved.

    >>> parse_media_type('multipart/related; type="application/dicom"; Boundary=abc')
    ('multipart/related', {'type': 'application/dicom', 'boundary': 'abc'})
    """
    media_type, _, rest = value.partition(";")
    params: dict[str, str] = {}
    i, n = 0, len(rest)
    while i < n:
        while i < n and rest[i] in " \t;":
            i += 1
        start = i
        while i < n and rest[i] not in "=;":
            i += 1
        name = rest[start:i].strip().lower()
        if i >= n or rest[i] == ";":
            continue
        i += 1  # skip "="
        while i < n and rest[i] in " \t":
            i += 1
        if i < n and rest[i] == '"':
            i += 1
            chars: list[str] = []
            while i < n and rest[i] != '"':
                if rest[i] == "\\" and i + 1 < n:
                    i += 1
                chars.append(rest[i])
                i += 1
            i += 1  # closing quote
            param_value = "".join(chars)
            while i < n and rest[i] != ";":
                i += 1
        else:
            start = i
            while i < n and rest[i] != ";":
                i += 1
            param_value = rest[start:i].strip()
        if name:
            params[name] = param_value
    return media_type.strip().lower(), params


def new_boundary() -> str:
    """A random boundary (128 bits of randomness): it never occurs in real payloads."""
    return f"dicomfs-{secrets.token_hex(16)}"


def _parse_headers(block: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in block.split(_CRLF):
        if not line:
            continue
        if line[:1] in (b" ", b"\t") and headers:  # obsolete line folding
            last = next(reversed(headers))
            headers[last] += " " + line.strip().decode("latin-1")
            continue
        name, sep, value = line.partition(b":")
        if not sep or not name.strip():
            raise MultipartError(f"malformed part header line: {line[:80]!r}")
        headers[name.strip().decode("latin-1").lower()] = value.strip().decode("latin-1")
    return headers


def iter_parts(chunks: Iterable[bytes], boundary: str | bytes) -> Iterator[Part]:
    """Parse a multipart body given as chunks of any size, yielding one part at a time.

    Parameters
    ----------
    chunks: Iterable[bytes]
        The body, in order (e.g. ``response.iter_content(chunk_size)``).
    boundary: str or bytes
        The ``boundary`` parameter of the body's Content-Type (unquoted).

    Yields
    ------
    Part
        Each body part, with its headers and content.

    Raises
    ------
    MultipartError
        The body ends inside a part or before its first delimiter, or a header is malformed.
    """
    marker = b"--" + (boundary.encode("latin-1") if isinstance(boundary, str) else boundary)
    if len(marker) < 3:
        raise MultipartError("empty multipart boundary")
    delimiter = _CRLF + marker
    reader = _Buffer(chunks)
    # Preamble: skip to the first delimiter (a leading CRLF makes a delimiter at the very start
    # look like every other one).
    index = reader.find(delimiter, 0)
    while index < 0:
        reader.consume(max(0, len(reader.data) - reader.pos - len(delimiter) + 1))
        if not reader.fill():
            raise MultipartError("no multipart delimiter found in the body")
        index = reader.find(delimiter, 0)
    reader.consume(index + len(delimiter))
    while True:
        # After a delimiter: "--" closes the body; else padding then CRLF opens a part.
        while True:
            if reader.startswith(b"--"):
                return  # the epilogue, if any, is ignored
            line_end = reader.find(_CRLF, 0)
            if line_end >= 0:
                if reader.peek(line_end).strip(_PADDING):
                    raise MultipartError(f"garbage after a delimiter: {reader.peek(40)!r}")
                reader.consume(line_end + 2)
                break
            if reader.available() > MAX_HEADER_BYTES:
                raise MultipartError("delimiter line too long")
            if not reader.fill():
                # RFC 2046 5.1.1: the body ends with the close delimiter ("--boundary--"); a
                # body ending at a plain delimiter was cut, and its last parts are missing.
                raise MultipartError("body truncated: no closing delimiter")
        # Headers: up to an empty line (the block may be empty).
        while True:
            if reader.startswith(_CRLF):
                headers: dict[str, str] = {}
                reader.consume(2)
                break
            header_end = reader.find(b"\r\n\r\n", 0)
            if header_end >= 0:
                headers = _parse_headers(reader.peek(header_end))
                reader.consume(header_end + 4)
                break
            if reader.available() > MAX_HEADER_BYTES:
                raise MultipartError("part headers too long (wrong boundary?)")
            if not reader.fill():
                raise MultipartError("body truncated in part headers")
        # Content: up to the next delimiter.
        search_from = 0
        while (index := reader.find(delimiter, search_from)) < 0:
            search_from = max(0, reader.available() - len(delimiter) + 1)
            if not reader.fill():
                raise MultipartError("body truncated in a part (no closing delimiter)")
        yield Part(reader.peek(index), headers)
        reader.consume(index + len(delimiter))


class _Buffer:
    """Unread input: ``data[pos:]``. Consumed bytes are dropped lazily (once per fill), so
    taking many small parts out of one large chunk costs no repeated memmove."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self.source = iter(chunks)
        self.data = bytearray(_CRLF)
        self.pos = 0

    def fill(self) -> bool:
        for chunk in self.source:
            if chunk:
                if self.pos:
                    del self.data[: self.pos]
                    self.pos = 0
                self.data += chunk
                return True
        return False

    def available(self) -> int:
        return len(self.data) - self.pos

    def find(self, needle: bytes, start: int) -> int:
        index = self.data.find(needle, self.pos + start)
        return index - self.pos if index >= 0 else -1

    def startswith(self, prefix: bytes) -> bool:
        return self.data.startswith(prefix, self.pos)

    def peek(self, size: int) -> bytes:
        with memoryview(self.data) as view:
            return bytes(view[self.pos : self.pos + size])

    def consume(self, size: int) -> None:
        self.pos += size


def encode_multipart(
    parts: Iterable[tuple[Mapping[str, str], Iterable[bytes]]],
    boundary: str,
    *,
    preamble: bytes = b"",
    epilogue: bytes = b"",
) -> Iterator[bytes]:
    """Encode parts as a multipart body, lazily: one chunk at a time.

    Parameters
    ----------
    parts: Iterable[tuple[Mapping[str, str], Iterable[bytes]]]
        ``(headers, content chunks)`` for each part; the content is not buffered.
    boundary: str
        The boundary (see :func:`new_boundary`); it must not occur in any content.
    preamble, epilogue: bytes
        Text before the first delimiter and after the closing one (ignored by readers).

    Yields
    ------
    bytes
        Chunks of the body.
    """
    if not boundary or len(boundary) > 70 or boundary.endswith(" "):
        raise MultipartError(f"invalid multipart boundary: {boundary!r}")
    marker = b"--" + boundary.encode("ascii")
    first = True
    if preamble:
        yield preamble + _CRLF
    for headers, content in parts:
        head = b"".join(
            f"{name}: {value}\r\n".encode("latin-1") for name, value in headers.items()
        )
        yield (b"" if first else _CRLF) + marker + _CRLF + head + _CRLF
        first = False
        for chunk in content:
            if chunk:
                yield chunk
    yield (b"" if first else _CRLF) + marker + b"--" + _CRLF + epilogue
