"""dicomfs.media: media type / transfer syntax negotiation (CONFORMANCE E, F, H-01, K-05, L-04)."""

from __future__ import annotations

from typing import Any

import pytest

from dicomfs.errors import BadRequestError, NotAcceptableError
from dicomfs.media import (
    DEFLATED_EXPLICIT_VR_LE,
    EXPLICIT_VR_BE,
    EXPLICIT_VR_LE,
    IMPLICIT_VR_LE,
    LOSSLESS_SYNTAXES,
    LOSSY_SYNTAXES,
    MEDIA_TYPE_SYNTAXES,
    FrameMedia,
    MediaRange,
    accept_header,
    choose_frame_media,
    choose_instance_syntax,
    choose_rendered_media,
    multipart_content_type,
    parse_accept_header,
    parse_content_type,
    parse_media_types,
    part_content_type,
)

JPEG_BASELINE = "1.2.840.10008.1.2.4.50"
JPEG_EXTENDED = "1.2.840.10008.1.2.4.51"
JPEG_LOSSLESS = "1.2.840.10008.1.2.4.57"
JPEG_LOSSLESS_SV1 = "1.2.840.10008.1.2.4.70"
JLS = "1.2.840.10008.1.2.4.80"
JLS_NEAR = "1.2.840.10008.1.2.4.81"
J2K_LOSSLESS = "1.2.840.10008.1.2.4.90"
J2K = "1.2.840.10008.1.2.4.91"
J2K_MC_LOSSLESS = "1.2.840.10008.1.2.4.92"
HTJ2K_LOSSLESS = "1.2.840.10008.1.2.4.201"
HTJ2K = "1.2.840.10008.1.2.4.203"
RLE = "1.2.840.10008.1.2.5"
MPEG2 = "1.2.840.10008.1.2.4.100"
H264 = "1.2.840.10008.1.2.4.102"
HEVC = "1.2.840.10008.1.2.4.107"


def _never(stored: str, target: str) -> bool:
    return False


def _always(stored: str, target: str) -> bool:
    return True


def _only(*pairs: tuple[str, str]) -> Any:
    return lambda stored, target: (stored, target) in pairs


# ---- parsing --------------------------------------------------------------------------------
def test_parse_strings_tuples_and_parameters() -> None:
    """L-04: strings or (media_type, transfer_syntax_uid) tuples; "*" is a wildcard syntax."""
    assert parse_media_types(
        ["application/dicom", ("application/dicom", "*"), ("Application/DICOM", EXPLICIT_VR_LE),
         f'application/dicom; transfer-syntax="{JPEG_BASELINE}"; q=0.5'],
        "instance",
    ) == [
        MediaRange("application/dicom"),
        MediaRange("application/dicom", "*"),
        MediaRange("application/dicom", EXPLICIT_VR_LE),
        MediaRange("application/dicom", JPEG_BASELINE, 0.5),
    ]


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        ("instance", [MediaRange("application/dicom")]),
        ("frame", [MediaRange("application/octet-stream")]),
        ("bulkdata", [MediaRange("application/octet-stream"), MediaRange("*/*", None, 0.5)]),
        ("rendered", [MediaRange("image/jpeg")]),
        ("metadata", [MediaRange("application/dicom+json"), MediaRange("application/json")]),
    ],
)
def test_defaults(resource: str, expected: list[MediaRange]) -> None:
    """E-08 [IMPL]: media_types=None selects the documented default of each resource."""
    assert parse_media_types(None, resource) == expected
    assert parse_media_types((), resource) == expected


@pytest.mark.parametrize(
    ("media_types", "resource"),
    [
        (("application/octet-stream",), "instance"),
        (("image/jpeg",), "instance"),
        (("application/dicom",), "frame"),
        (("image/png",), "frame"),
        (("application/dicom+json",), "frame"),
        (("image/png",), "metadata"),
        (("application/dicom",), "rendered"),
        (("application/octet-stream",), "rendered"),
        (("text/html",), "instance"),
        (("audio/*",), "rendered"),  # no rendered type is audio
        (("image/*",), "instance"),
        (("notamediatype",), "instance"),
        (("application/dicom", "image/jpeg"), "instance"),  # E-09
        ((("application/dicom", "1.2.3", "x"),), "instance"),
        (((1, 2),), "instance"),
        ("application/dicom", "instance"),  # a bare string is not a sequence of media types
        (("application/dicom",), "study"),
    ],
)
def test_invalid_media_types_are_bad_requests(media_types: Any, resource: str) -> None:
    """API.md: a media type not valid for the resource is BadRequestError (400, ValueError)."""
    with pytest.raises(BadRequestError):
        parse_media_types(media_types, resource)
    with pytest.raises(ValueError):
        parse_media_types(media_types, resource)


@pytest.mark.parametrize(
    ("media_types", "ok"),
    [
        (("image/jpeg", "image/jp2"), True),
        (("image/*", "application/octet-stream"), True),
        (("image/jls", "application/octet-stream", "image/jpeg"), True),
        (("*/*", "image/jpeg"), True),
        (("image/jpeg", "video/mp4"), False),
        (("application/octet-stream", "video/mpeg2"), False),
        (("video/*", "image/*"), False),
    ],
)
def test_mixing_categories(media_types: tuple[str, ...], ok: bool) -> None:
    """L-04/E-09: categories must not be mixed, except image/* with application/octet-stream."""
    if ok:
        assert [r.media_type for r in parse_media_types(media_types, "frame")] == list(media_types)
    else:
        with pytest.raises(BadRequestError):
            parse_media_types(media_types, "frame")


@pytest.mark.parametrize(
    ("media_type", "syntax", "ok"),
    [
        ("image/jpeg", JPEG_BASELINE, True),
        ("image/jpeg", JPEG_EXTENDED, True),
        ("image/jpeg", JPEG_LOSSLESS, True),
        ("image/jpeg", JPEG_LOSSLESS_SV1, True),
        ("image/jpeg", JLS, False),
        ("image/jls", JLS, True),
        ("image/jls", JLS_NEAR, True),
        ("image/x-jls", JLS, True),
        ("image/jls", J2K_LOSSLESS, False),
        ("image/jp2", J2K_LOSSLESS, True),
        ("image/jp2", J2K, True),
        ("image/jp2", JPEG_BASELINE, False),  # dcm4chee #3443
        ("image/jpx", J2K_MC_LOSSLESS, True),
        ("image/jpx", J2K_LOSSLESS, False),
        ("image/jphc", HTJ2K_LOSSLESS, True),
        ("image/jphc", HTJ2K, True),
        ("image/dicom-rle", RLE, True),
        ("image/x-dicom-rle", RLE, True),
        ("image/dicom-rle", JPEG_BASELINE, False),
        ("video/mpeg2", MPEG2, True),
        ("video/mp4", H264, True),
        ("video/mp4", MPEG2, False),
        ("video/h265", HEVC, True),
        ("application/octet-stream", EXPLICIT_VR_LE, True),
        ("application/octet-stream", JPEG_BASELINE, False),
        ("application/octet-stream", IMPLICIT_VR_LE, False),
        ("image/*", JLS, True),
        ("image/*", MPEG2, False),
        ("*/*", RLE, True),
        ("image/jpeg", "*", True),
        ("image/jpeg", "not-a-uid", False),
    ],
)
def test_media_type_transfer_syntax_table(media_type: str, syntax: str, ok: bool) -> None:
    """F-06: media type <-> transfer syntax pairs of Table 8.7.3-5; mismatches are invalid."""
    if ok:
        assert parse_media_types([(media_type, syntax)], "frame") == [
            MediaRange(media_type, syntax)]
    else:
        with pytest.raises(BadRequestError):
            parse_media_types([(media_type, syntax)], "frame")


def test_default_syntax_is_first_in_table() -> None:
    """F-06: the default transfer syntax of each image media type."""
    defaults = {m: s[0] for m, s in MEDIA_TYPE_SYNTAXES.items()}
    assert defaults["image/jpeg"] == JPEG_LOSSLESS_SV1
    assert defaults["image/jls"] == JLS
    assert defaults["image/jp2"] == J2K_LOSSLESS
    assert defaults["image/jpx"] == J2K_MC_LOSSLESS
    assert defaults["image/dicom-rle"] == RLE
    assert defaults["image/jphc"] == HTJ2K_LOSSLESS


def test_transfer_syntax_not_allowed_on_rendered_or_metadata() -> None:
    """H-01: a transfer-syntax parameter on a rendered media type is not allowed."""
    with pytest.raises(BadRequestError):
        parse_media_types([("image/jpeg", JPEG_BASELINE)], "rendered")
    with pytest.raises(BadRequestError):
        parse_media_types([("application/dicom+json", EXPLICIT_VR_LE)], "metadata")
    with pytest.raises(BadRequestError):
        parse_media_types([("image/png", "*")], "rendered")  # not even the wildcard
    with pytest.raises(BadRequestError):
        parse_media_types(["application/json;transfer-syntax=*"], "metadata")


def test_optional_text_rendered_types_are_valid() -> None:
    """H-01 (PS3.18 Table 8.7.4-1): text/rtf and application/pdf are optional rendered types:
    valid media types (a server that cannot produce them answers 406, not 400)."""
    assert parse_media_types(["application/pdf", "text/rtf"], "rendered") == [
        MediaRange("application/pdf"), MediaRange("text/rtf")]
    with pytest.raises(NotAcceptableError):
        choose_rendered_media(("application/pdf",))


@pytest.mark.parametrize("q", ["1.5", "-1", "abc", "0.1234"])
def test_bad_q_values(q: str) -> None:
    """E-10: q is a weight between 0 and 1 with at most three decimals."""
    with pytest.raises(BadRequestError):
        parse_media_types([f"image/jpeg;q={q}"], "frame")


def test_parse_content_type_quoted_and_unquoted() -> None:
    """E-12: quoted and unquoted parameter values are equivalent; names are case-insensitive."""
    quoted = parse_content_type('multipart/related; type="application/dicom"; boundary="a b"')
    unquoted = parse_content_type("Multipart/Related; TYPE=application/dicom; Boundary=a b")
    assert quoted == ("multipart/related", {"type": "application/dicom", "boundary": "a b"})
    assert unquoted == quoted


def test_parse_accept_header() -> None:
    """E-10/E-12: Accept entries with type, transfer-syntax and q, quoted or not."""
    header = (
        f'multipart/related; type="application/dicom"; transfer-syntax={JPEG_BASELINE}, '
        f"multipart/related; type=application/dicom; transfer-syntax={JPEG_LOSSLESS};q=0.5, "
        "multipart/related"
    )
    assert parse_accept_header(header, "instance") == [
        MediaRange("application/dicom", JPEG_BASELINE),
        MediaRange("application/dicom", JPEG_LOSSLESS, 0.5),
        MediaRange("application/dicom"),
    ]
    assert parse_accept_header("application/dicom+json, application/json", "metadata") == [
        MediaRange("application/dicom+json"), MediaRange("application/json")]
    assert parse_media_types([MediaRange("Image/JLS", JLS, 1)], "frame") == [
        MediaRange("image/jls", JLS, 1.0)]
    assert parse_accept_header("", "instance") == []
    assert parse_accept_header(None, "instance") == []
    with pytest.raises(BadRequestError):
        parse_accept_header('multipart/related; type="image/jpeg"', "instance")


# ---- instances ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("requested", "stored", "can", "expected"),
    [
        # E-03: no media types / no transfer-syntax -> Explicit VR LE, decompressing if needed
        (None, EXPLICIT_VR_LE, _never, EXPLICIT_VR_LE),
        (None, IMPLICIT_VR_LE, _never, EXPLICIT_VR_LE),
        (None, EXPLICIT_VR_BE, _never, EXPLICIT_VR_LE),
        (None, DEFLATED_EXPLICIT_VR_LE, _never, EXPLICIT_VR_LE),
        (None, JLS, _only((JLS, EXPLICIT_VR_LE)), EXPLICIT_VR_LE),
        (("application/dicom",), J2K_LOSSLESS, _always, EXPLICIT_VR_LE),
        (("*/*",), RLE, _always, EXPLICIT_VR_LE),
        # E-03 exemption: lossy-only data that cannot be decoded is sent as stored
        (None, JPEG_BASELINE, _never, JPEG_BASELINE),
        (None, JPEG_BASELINE, _always, EXPLICIT_VR_LE),
        # E-04/E-06: "*" is as stored, except Implicit VR LE and Big Endian
        ((("application/dicom", "*"),), JPEG_BASELINE, _never, JPEG_BASELINE),
        ((("application/dicom", "*"),), JLS, _never, JLS),
        ((("application/dicom", "*"),), IMPLICIT_VR_LE, _never, EXPLICIT_VR_LE),
        ((("application/dicom", "*"),), EXPLICIT_VR_BE, _never, EXPLICIT_VR_LE),
        ((("application/dicom", "*"),), DEFLATED_EXPLICIT_VR_LE, _never, DEFLATED_EXPLICIT_VR_LE),
        # a specific syntax: as stored, or transcoded when possible
        ((("application/dicom", JLS),), JLS, _never, JLS),
        ((("application/dicom", RLE),), EXPLICIT_VR_LE, _only((EXPLICIT_VR_LE, RLE)), RLE),
        ((("application/dicom", EXPLICIT_VR_LE),), IMPLICIT_VR_LE, _never, EXPLICIT_VR_LE),
        # E-10: first acceptable by q, then order
        ((("application/dicom", JPEG_BASELINE), ("application/dicom", JPEG_LOSSLESS)),
         EXPLICIT_VR_LE, _always, JPEG_BASELINE),
        ((f"application/dicom;transfer-syntax={JPEG_BASELINE};q=0.5",
          ("application/dicom", JPEG_LOSSLESS)), EXPLICIT_VR_LE, _always, JPEG_LOSSLESS),
        ((("application/dicom", J2K_LOSSLESS), ("application/dicom", "*")), JLS, _never, JLS),
        ((("application/dicom", IMPLICIT_VR_LE), ("application/dicom", "*")), IMPLICIT_VR_LE,
         _always, EXPLICIT_VR_LE),
    ],
)
def test_choose_instance_syntax(requested: Any, stored: str, can: Any, expected: str) -> None:
    """E-03, E-04, E-06, E-10: the transfer syntax an instance is sent in."""
    assert choose_instance_syntax(requested, stored, can) == expected


@pytest.mark.parametrize(
    ("requested", "stored", "can"),
    [
        ((("application/dicom", J2K_LOSSLESS),), EXPLICIT_VR_LE, _never),  # E-07
        (None, JLS, _never),  # lossless data must be decoded to Explicit VR LE (E-03)
        ((("application/dicom", IMPLICIT_VR_LE),), IMPLICIT_VR_LE, _always),  # E-06
        ((("application/dicom", EXPLICIT_VR_BE),), EXPLICIT_VR_LE, _always),
        (("application/dicom;q=0",), EXPLICIT_VR_LE, _always),
    ],
)
def test_choose_instance_syntax_not_acceptable(requested: Any, stored: str, can: Any) -> None:
    """E-07: a transfer syntax that cannot be produced is 406 Not Acceptable."""
    with pytest.raises(NotAcceptableError) as info:
        choose_instance_syntax(requested, stored, can)
    assert info.value.response.status_code == 406


def test_native_to_explicit_never_asks_the_callback() -> None:
    """E-06: Implicit VR LE / Big Endian -> Explicit VR LE is always possible."""
    calls: list[tuple[str, str]] = []

    def record(stored: str, target: str) -> bool:
        calls.append((stored, target))
        return False

    assert choose_instance_syntax(None, IMPLICIT_VR_LE, record) == EXPLICIT_VR_LE
    assert calls == []


# ---- frames ---------------------------------------------------------------------------------
OCTET = "application/octet-stream"


@pytest.mark.parametrize(
    ("requested", "stored", "expected"),
    [
        # F-03: native frames are octet-stream, little endian
        (None, EXPLICIT_VR_LE, FrameMedia(OCTET, EXPLICIT_VR_LE, False)),
        (None, IMPLICIT_VR_LE, FrameMedia(OCTET, EXPLICIT_VR_LE, False)),
        (None, EXPLICIT_VR_BE, FrameMedia(OCTET, EXPLICIT_VR_LE, True)),
        (None, DEFLATED_EXPLICIT_VR_LE, FrameMedia(OCTET, EXPLICIT_VR_LE, False)),
        # F-08: lossless compressed frames are decoded for octet-stream
        (None, JLS, FrameMedia(OCTET, EXPLICIT_VR_LE, True)),
        (None, RLE, FrameMedia(OCTET, EXPLICIT_VR_LE, True)),
        (None, J2K_LOSSLESS, FrameMedia(OCTET, EXPLICIT_VR_LE, True)),
        ((OCTET,), JPEG_LOSSLESS_SV1, FrameMedia(OCTET, EXPLICIT_VR_LE, True)),
        (((OCTET, "*"),), HTJ2K_LOSSLESS, FrameMedia(OCTET, EXPLICIT_VR_LE, True)),
        # F-05: the stored codestream for its own media type, with its actual syntax (F-07)
        (("image/jpeg",), JPEG_BASELINE, FrameMedia("image/jpeg", JPEG_BASELINE, False)),
        ((("image/jpeg", JPEG_BASELINE),), JPEG_BASELINE,
         FrameMedia("image/jpeg", JPEG_BASELINE, False)),
        (("image/jls",), JLS_NEAR, FrameMedia("image/jls", JLS_NEAR, False)),
        (("image/x-jls",), JLS, FrameMedia("image/x-jls", JLS, False)),
        (("image/x-dicom-rle",), RLE, FrameMedia("image/x-dicom-rle", RLE, False)),
        (("image/jphc",), HTJ2K, FrameMedia("image/jphc", HTJ2K, False)),
        (("image/*",), J2K, FrameMedia("image/jp2", J2K, False)),
        ((("image/*", "*"),), RLE, FrameMedia("image/dicom-rle", RLE, False)),
        (("*/*",), JPEG_BASELINE, FrameMedia("image/jpeg", JPEG_BASELINE, False)),
        (("*/*",), EXPLICIT_VR_LE, FrameMedia(OCTET, EXPLICIT_VR_LE, False)),
        (("video/*",), H264, FrameMedia("video/mp4", H264, False)),
        (("video/h265",), HEVC, FrameMedia("video/h265", HEVC, False)),
        # image/* with octet-stream: whichever fits the stored data, in preference order
        (("image/jpeg", OCTET), JLS, FrameMedia(OCTET, EXPLICIT_VR_LE, True)),
        (("image/jls", OCTET), JLS, FrameMedia("image/jls", JLS, False)),
        ((OCTET, "image/jls"), JLS, FrameMedia(OCTET, EXPLICIT_VR_LE, True)),
        ((f"{OCTET};q=0.5", "image/jls"), JLS, FrameMedia("image/jls", JLS, False)),
        (("image/*", OCTET), EXPLICIT_VR_LE, FrameMedia(OCTET, EXPLICIT_VR_LE, False)),
        ((OCTET, "image/*"), JPEG_BASELINE, FrameMedia("image/jpeg", JPEG_BASELINE, False)),
    ],
)
def test_choose_frame_media(requested: Any, stored: str, expected: FrameMedia) -> None:
    """F-03, F-05, F-06, F-07, F-08: what frames are sent as."""
    assert choose_frame_media(requested, stored) == expected


@pytest.mark.parametrize(
    ("requested", "stored"),
    [
        (None, JPEG_BASELINE),  # F-08: lossy only -> no octet-stream
        ((OCTET,), JLS_NEAR),
        ((OCTET,), J2K),
        ((OCTET,), HTJ2K),
        ((OCTET,), H264),  # F-09
        (("image/jpeg",), JLS),  # no re-encoding
        (("image/jpeg",), EXPLICIT_VR_LE),
        ((("image/jpeg", JPEG_LOSSLESS_SV1),), JPEG_BASELINE),
        (("image/jp2",), RLE),
        (("video/mp4",), MPEG2),
        ((("*/*", JLS),), J2K_LOSSLESS),
    ],
)
def test_choose_frame_media_not_acceptable(requested: Any, stored: str) -> None:
    """F-08/F-09/E-07: frames that cannot be produced as requested are 406."""
    with pytest.raises(NotAcceptableError):
        choose_frame_media(requested, stored)


def test_known_lossless_jpeg2000_is_decoded() -> None:
    """F-08: .91 data known to be lossless (LossyImageCompression 00) may be decoded."""
    assert choose_frame_media(None, J2K, lossy=False) == FrameMedia(OCTET, EXPLICIT_VR_LE, True)
    with pytest.raises(NotAcceptableError):
        choose_frame_media(None, J2K, lossy=True)
    with pytest.raises(NotAcceptableError):
        choose_frame_media(None, JPEG_BASELINE, lossy=False)  # .50 is always lossy


def test_bulkdata_default_falls_back_to_stored_codestream() -> None:
    """F-10: bulk data with no media types: octet-stream, else the stored codestream."""
    assert choose_frame_media(None, JPEG_BASELINE, resource="bulkdata") == FrameMedia(
        "image/jpeg", JPEG_BASELINE, False)
    assert choose_frame_media(None, JLS, resource="bulkdata") == FrameMedia(
        OCTET, EXPLICIT_VR_LE, True)


def test_lossless_and_lossy_sets() -> None:
    """F-08: classification of the syntaxes used to decide on decoding."""
    assert {JPEG_LOSSLESS, JPEG_LOSSLESS_SV1, JLS, J2K_LOSSLESS, RLE, HTJ2K_LOSSLESS,
            EXPLICIT_VR_LE} <= LOSSLESS_SYNTAXES
    assert {JPEG_BASELINE, JPEG_EXTENDED, JLS_NEAR, J2K, HTJ2K, MPEG2, H264} <= LOSSY_SYNTAXES
    assert not LOSSLESS_SYNTAXES & LOSSY_SYNTAXES


# ---- rendered -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        (None, "image/jpeg"),
        (("image/png",), "image/png"),
        (("image/jp2", "image/gif"), "image/gif"),
        (("image/*",), "image/jpeg"),
        (("*/*",), "image/jpeg"),
        (("image/jpeg;q=0.2", "image/png"), "image/png"),
    ],
)
def test_choose_rendered_media(requested: Any, expected: str) -> None:
    """H-01: jpeg default; png and gif supported; jp2 optional."""
    assert choose_rendered_media(requested) == expected


def test_choose_rendered_media_unsupported() -> None:
    """H-01: a valid rendered type this server cannot produce is 406."""
    with pytest.raises(NotAcceptableError):
        choose_rendered_media(("text/html",))
    with pytest.raises(NotAcceptableError):
        choose_rendered_media(("image/jp2",))
    assert choose_rendered_media(("image/jp2",), supported=("image/jp2",)) == "image/jp2"


# ---- headers --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("media_types", "resource", "expected"),
    [
        (None, "instance", 'multipart/related; type="application/dicom"'),
        ((("application/dicom", "*"),), "instance",
         'multipart/related; type="application/dicom"; transfer-syntax=*'),
        ((("application/dicom", JPEG_BASELINE), f"application/dicom;transfer-syntax={JLS};q=0.5"),
         "instance",
         f'multipart/related; type="application/dicom"; transfer-syntax={JPEG_BASELINE}, '
         f'multipart/related; type="application/dicom"; transfer-syntax={JLS}; q=0.5'),
        (None, "frame", 'multipart/related; type="application/octet-stream"'),
        (("image/jls", "application/octet-stream"), "frame",
         'multipart/related; type="image/jls", '
         'multipart/related; type="application/octet-stream"'),
        (None, "bulkdata",
         'multipart/related; type="application/octet-stream", '
         'multipart/related; type="*/*"; q=0.5'),
        (None, "rendered", "image/jpeg"),
        (("image/png", "image/gif;q=0.25"), "rendered", "image/png, image/gif; q=0.25"),
        (None, "metadata", "application/dicom+json, application/json"),
    ],
)
def test_accept_header(media_types: Any, resource: str, expected: str) -> None:
    """E-12/K-05/F-06: Accept headers with a quoted type and transfer-syntax parameters."""
    assert accept_header(media_types, resource) == expected


@pytest.mark.parametrize("syntax", [IMPLICIT_VR_LE, EXPLICIT_VR_BE])
def test_accept_header_leaves_out_never_sent_syntaxes(syntax: str) -> None:
    """E-06: Implicit VR LE and Explicit VR BE are never sent, so never asked for; asking only
    for them is 406 before anything is sent, as choose_instance_syntax answers."""
    assert accept_header([("application/dicom", syntax), ("application/dicom", JLS)],
                         "instance") == (
        f'multipart/related; type="application/dicom"; transfer-syntax={JLS}')
    with pytest.raises(NotAcceptableError) as info:
        accept_header([("application/dicom", syntax)], "instance")
    assert info.value.response.status_code == 406
    with pytest.raises(BadRequestError):  # the media type is checked first (L-04)
        accept_header([("image/jpeg", syntax)], "instance")


@pytest.mark.parametrize(
    ("media_types", "resource"),
    [(("application/dicom;q=0",), "instance"), (("image/jls;q=0", "image/jpeg;q=0"), "frame"),
     (("image/png;q=0",), "rendered")],
)
def test_accept_header_with_nothing_acceptable(media_types: Any, resource: str) -> None:
    """E-10: q=0 is not acceptable; a header accepting nothing is 406 before sending."""
    with pytest.raises(NotAcceptableError):
        accept_header(media_types, resource)


def test_accept_header_round_trips_through_parser() -> None:
    """What accept_header writes, parse_accept_header reads back."""
    media_types = [("image/jls", JLS), "image/jpeg;q=0.5", "application/octet-stream"]
    assert parse_accept_header(accept_header(media_types, "frame"), "frame") == (
        parse_media_types(media_types, "frame"))


@pytest.mark.parametrize(
    ("media_type", "syntax", "expected"),
    [
        ("application/dicom", EXPLICIT_VR_LE,
         f"application/dicom; transfer-syntax={EXPLICIT_VR_LE}"),
        ("application/dicom", JPEG_BASELINE, f"application/dicom; transfer-syntax={JPEG_BASELINE}"),
        ("image/jpeg", JPEG_LOSSLESS_SV1, f"image/jpeg; transfer-syntax={JPEG_LOSSLESS_SV1}"),
        ("image/dicom-rle", RLE, f"image/dicom-rle; transfer-syntax={RLE}"),
        ("application/octet-stream", EXPLICIT_VR_LE,
         f"application/octet-stream; transfer-syntax={EXPLICIT_VR_LE}"),
        ("application/octet-stream", None, "application/octet-stream"),
        ("application/dicom+json", None, "application/dicom+json"),
    ],
)
def test_part_content_type(media_type: str, syntax: str | None, expected: str) -> None:
    """F-07/E-13: each part states its transfer syntax, even the media type's default."""
    assert part_content_type(media_type, syntax) == expected


@pytest.mark.parametrize(
    ("media_type", "syntax"),
    [("image/jp2", JPEG_BASELINE), ("application/dicom", IMPLICIT_VR_LE),
     ("application/dicom", EXPLICIT_VR_BE), ("application/octet-stream", JLS),
     ("image/*", None)],
)
def test_part_content_type_rejects_mismatches(media_type: str, syntax: str | None) -> None:
    """F-06/E-06: a mismatched pair must never be emitted."""
    with pytest.raises(BadRequestError):
        part_content_type(media_type, syntax)


def test_multipart_content_type() -> None:
    """K-01: the type parameter is quoted; the boundary is validated."""
    assert multipart_content_type("application/dicom", "b0c2a") == (
        'multipart/related; type="application/dicom"; boundary=b0c2a')
    with pytest.raises(BadRequestError):
        multipart_content_type("application/dicom", 'bad"boundary')


def test_bare_star_is_any_media_type() -> None:
    """Issue 3: frames with ``*`` are served as stored; a bare ``*`` means ``*/*``."""
    from dicomfs.media import MediaRange, parse_media_types

    assert parse_media_types(("*",), "frame") == [MediaRange("*/*", None, 1.0)]
