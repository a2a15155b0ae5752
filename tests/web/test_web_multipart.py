"""The streaming multipart/related parser and encoder (dicomfs.web.multipart)."""

from __future__ import annotations

import string

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from dicomfs.web.multipart import (
    MultipartError,
    Part,
    encode_multipart,
    iter_parts,
    new_boundary,
    parse_media_type,
)

# RFC 2046 bchars (the space is allowed but not last).
BCHARS = string.ascii_letters + string.digits + "'()+_,-./:=? "
boundaries = st.text(alphabet=BCHARS, min_size=1, max_size=70).filter(lambda b: b[-1] != " ")
header_names = st.sampled_from(
    ["Content-Type", "Content-Length", "Content-Location", "MIME-Version", "X-Extra"]
)
header_values = st.text(alphabet=string.ascii_letters + string.digits + "/;=.-\" ", max_size=30)
parts_strategy = st.lists(
    st.tuples(st.dictionaries(header_names, header_values.map(str.strip), max_size=4),
              st.binary(max_size=300)),
    max_size=6,
)


def rechunk(data: bytes, cuts: list[int]) -> list[bytes]:
    """Split ``data`` at the given positions (sorted, deduplicated)."""
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces, start = [], 0
    for point in points:
        pieces.append(data[start:point])
        start = point
    pieces.append(data[start:])
    return pieces


@settings(max_examples=300, deadline=None)
@given(
    boundary=boundaries,
    parts=parts_strategy,
    preamble=st.binary(max_size=40),
    epilogue=st.binary(max_size=40),
    cuts=st.lists(st.integers(min_value=0, max_value=5000), max_size=20),
)
def test_round_trip_any_boundary_headers_preamble_epilogue_chunking(
    boundary: str, parts: list[tuple[dict[str, str], bytes]], preamble: bytes, epilogue: bytes,
    cuts: list[int],
) -> None:
    """Encoding then parsing gives back every part, its headers and content, byte for byte,
    however the body is cut into chunks (CONFORMANCE K-03: preamble, epilogue, extra headers)."""
    marker = b"--" + boundary.encode()
    assume(all(marker not in content for _, content in parts))
    assume(b"\r\n" + marker not in b"\r\n" + preamble and marker not in preamble)
    body = b"".join(
        encode_multipart(
            ((h, [c]) for h, c in parts), boundary, preamble=preamble, epilogue=epilogue
        )
    )
    decoded = list(iter_parts(rechunk(body, cuts), boundary))
    assert [p.content for p in decoded] == [c for _, c in parts]
    assert [dict(p.headers) for p in decoded] == [
        {k.lower(): v for k, v in h.items()} for h, _ in parts
    ]


@settings(max_examples=100, deadline=None)
@given(contents=st.lists(st.binary(max_size=2000), min_size=1, max_size=5),
       chunk=st.integers(min_value=1, max_value=64))
def test_one_byte_chunks_and_fixed_size_chunks(contents: list[bytes], chunk: int) -> None:
    """A boundary split across any chunk sizes down to one byte is still found."""
    boundary = new_boundary()
    body = b"".join(encode_multipart((({}, [c]) for c in contents), boundary))
    chunks = [body[i : i + chunk] for i in range(0, len(body), chunk)]
    assert [p.content for p in iter_parts(chunks, boundary)] == contents


def test_parser_is_lazy_one_part_at_a_time() -> None:
    """The parser yields a part before the next one has been read (bounded memory)."""
    boundary = "b"
    consumed: list[int] = []

    def chunks():  # type: ignore[no-untyped-def]
        for n in range(3):
            consumed.append(n)
            yield b"\r\n--b\r\nContent-Type: application/dicom\r\n\r\n" + bytes([n]) * 10
        consumed.append(99)
        yield b"\r\n--b--"

    parts = iter_parts(chunks(), boundary)
    first = next(parts)
    assert first.content == b"\x00" * 10
    assert consumed == [0, 1]


def test_orthanc_style_response() -> None:
    """An Orthanc body: no preamble, Content-Type, Content-Length and MIME-Version per part."""
    body = (
        b"--abc-123\r\nContent-Type: application/dicom\r\nContent-Length: 4\r\n"
        b"MIME-Version: 1.0\r\n\r\nDICM\r\n--abc-123--\r\n"
    )
    (part,) = iter_parts([body], "abc-123")
    assert part == Part(
        b"DICM",
        {"content-type": "application/dicom", "content-length": "4", "mime-version": "1.0"},
    )
    assert part.content_type == "application/dicom"


def test_transport_padding_and_part_without_headers() -> None:
    """Spaces after a delimiter are transport padding; a part may have no header at all."""
    body = b"preamble\r\n--b  \r\n\r\nx\r\n--b\t\r\nA: 1\r\n\r\ny\r\n--b--  epilogue"
    assert [(p.content, dict(p.headers)) for p in iter_parts([body], "b")] == [
        (b"x", {}),
        (b"y", {"a": "1"}),
    ]


def test_content_containing_boundary_text_without_crlf_is_kept() -> None:
    """``--b`` inside content is data unless it follows a CRLF (RFC 2046 §5.1.1)."""
    body = b"--b\r\n\r\nab--bcd\r\n--b--"
    assert [p.content for p in iter_parts([body], "b")] == [b"ab--bcd"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"no delimiter at all", "no multipart delimiter"),
        (b"--b\r\nContent-Type: x\r\n", "truncated in part headers"),
        (b"--b\r\n\r\ncontent without end", "truncated in a part"),
        (b"--b\r\nbad header line\r\n\r\nx\r\n--b--", "malformed part header"),
        (b"--bjunk\r\n\r\nx\r\n--b--", "garbage after a delimiter"),
    ],
)
def test_malformed_bodies_raise(body: bytes, message: str) -> None:
    """Truncated or malformed bodies raise MultipartError (a ValueError), never a silent loss."""
    with pytest.raises(MultipartError, match=message):
        list(iter_parts([body], "b"))


def test_encoder_output_is_standard() -> None:
    """The encoder writes CRLF delimiters, one header line per header, and a close delimiter."""
    body = b"".join(
        encode_multipart([({"Content-Type": "application/dicom"}, [b"AB", b"CD"])], "xyz")
    )
    assert body == b"--xyz\r\nContent-Type: application/dicom\r\n\r\nABCD\r\n--xyz--\r\n"
    assert b"".join(encode_multipart([], "xyz")) == b"--xyz--\r\n"


def test_random_boundaries_differ_and_are_valid() -> None:
    """Each request gets its own random boundary (CONFORMANCE K-01)."""
    first, second = new_boundary(), new_boundary()
    assert first != second
    assert len(first) == 40 and set(first) <= set(BCHARS)
    with pytest.raises(MultipartError):
        list(encode_multipart([], "x" * 71))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('multipart/related; type="application/dicom"; boundary=abc',
         ("multipart/related", {"type": "application/dicom", "boundary": "abc"})),
        ('Multipart/Related;Boundary="a;b c";TYPE=application/dicom',
         ("multipart/related", {"boundary": "a;b c", "type": "application/dicom"})),
        ('multipart/related; type="application/octet-stream; transfer-syntax=1.2"; boundary=x',
         ("multipart/related",
          {"type": "application/octet-stream; transfer-syntax=1.2", "boundary": "x"})),
        ("application/dicom+json; charset=utf-8", ("application/dicom+json", {"charset": "utf-8"})),
        ("", ("", {})),
        ('a/b; q="x\\"y"', ("a/b", {"q": 'x"y'})),
    ],
)
def test_parse_media_type(value: str, expected: tuple[str, dict[str, str]]) -> None:
    """Quoted and unquoted parameter values are equivalent, names case-insensitive (E-12)."""
    assert parse_media_type(value) == expected
