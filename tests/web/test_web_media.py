"""Accept headers of the web client (dicomfs.web.media over dicomfs.media), checked before
anything is sent."""

from __future__ import annotations

from typing import Any

import pytest

from dicomfs.errors import BadRequestError, NotAcceptableError
from dicomfs.media import MEDIA_TYPE_SYNTAXES, parse_media_types
from dicomfs.web import media

MR = 'multipart/related; type='
EVRLE = "1.2.840.10008.1.2.1"


@pytest.mark.parametrize(
    ("media_types", "expected"),
    [
        (None, MR + f'"application/dicom"; transfer-syntax={EVRLE}'),
        ((), MR + f'"application/dicom"; transfer-syntax={EVRLE}'),  # empty: the default too
        (("application/dicom",), MR + '"application/dicom"'),
        ((("application/dicom", "*"),), MR + '"application/dicom"; transfer-syntax=*'),
        (("application/dicom; transfer-syntax=*",), MR + '"application/dicom"; transfer-syntax=*'),
        (
            (("application/dicom", "1.2.840.10008.1.2.4.50"), ("application/dicom", "*")),
            MR + '"application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.50, '
            + MR + '"application/dicom"; transfer-syntax=*',
        ),
        ((("application/dicom", "1.2.840.10008.1.2.4.201"),),
         MR + '"application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.201'),
        (
            (("application/dicom", "1.2.840.10008.1.2.4.50"),
             "application/dicom;transfer-syntax=1.2.840.10008.1.2.4.57;q=0.5"),
            MR + '"application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.50, '
            + MR + '"application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.57; q=0.5',
        ),
    ],
)
def test_instances_accept(media_types: Any, expected: str) -> None:
    """Instances: application/dicom, Explicit VR LE stated by default, ``*`` as stored, q-values
    as given (E-03, E-04, E-10, E-12)."""
    assert media.accept(media_types, "instance") == expected


@pytest.mark.parametrize(
    "media_types",
    [
        ("image/jpeg",),
        ("application/dicom", "image/jpeg"),  # E-09: mixing DICOM and rendered types
        ("application/octet-stream",),
        (("application/dicom", "not-a-uid"),),
        "application/dicom",  # a bare string, not a tuple
        (42,),
        ("application",),
        (("application/dicom", "1.2", "x"),),
        [("application/dicom", None)],
        {"a": 1},
    ],
)
def test_instances_invalid_media_types_raise_before_sending(media_types: Any) -> None:
    """Invalid media types for instances raise BadRequestError, a ValueError (L-04, E-09)."""
    with pytest.raises(BadRequestError) as info:
        media.accept(media_types, "instance")
    assert isinstance(info.value, ValueError)
    assert info.value.response.status_code == 400


@pytest.mark.parametrize(
    ("media_types", "expected"),
    [
        ((("application/octet-stream", EVRLE),),
         MR + f'"application/octet-stream"; transfer-syntax={EVRLE}'),
        (("image/jpeg",), MR + '"image/jpeg"'),
        ((("image/jpeg", "1.2.840.10008.1.2.4.50"),),
         MR + '"image/jpeg"; transfer-syntax=1.2.840.10008.1.2.4.50'),
        ((("image/jls", "1.2.840.10008.1.2.4.80"),),
         MR + '"image/jls"; transfer-syntax=1.2.840.10008.1.2.4.80'),
        ((("image/x-jls", "1.2.840.10008.1.2.4.81"),),
         MR + '"image/x-jls"; transfer-syntax=1.2.840.10008.1.2.4.81'),
        ((("image/jp2", "1.2.840.10008.1.2.4.90"),),
         MR + '"image/jp2"; transfer-syntax=1.2.840.10008.1.2.4.90'),
        ((("image/jpx", "1.2.840.10008.1.2.4.92"),),
         MR + '"image/jpx"; transfer-syntax=1.2.840.10008.1.2.4.92'),
        ((("image/dicom-rle", "1.2.840.10008.1.2.5"),),
         MR + '"image/dicom-rle"; transfer-syntax=1.2.840.10008.1.2.5'),
        ((("image/jphc", "1.2.840.10008.1.2.4.201"),),
         MR + '"image/jphc"; transfer-syntax=1.2.840.10008.1.2.4.201'),
        ((("video/mp4", "1.2.840.10008.1.2.4.102"),),
         MR + '"video/mp4"; transfer-syntax=1.2.840.10008.1.2.4.102'),
        ((("video/mpeg2", "1.2.840.10008.1.2.4.100"),),
         MR + '"video/mpeg2"; transfer-syntax=1.2.840.10008.1.2.4.100'),
        ((("image/*", "1.2.840.10008.1.2.4.50"),),
         MR + '"image/*"; transfer-syntax=1.2.840.10008.1.2.4.50'),
        (("image/*", "application/octet-stream"),
         MR + '"image/*", ' + MR + '"application/octet-stream"'),
        (("*/*",), MR + '"*/*"'),
        (("image/jls", "application/octet-stream;q=0.5"),
         MR + '"image/jls", ' + MR + '"application/octet-stream"; q=0.5'),
    ],
)
def test_frames_accept(media_types: Any, expected: str) -> None:
    """Frames and bulk data: compressed types with matching syntaxes, image/* with octet-stream,
    q-values as given (F-06, L-04, E-10)."""
    assert media.accept(media_types, "frame") == expected
    assert media.accept(media_types, "bulkdata") == expected


@pytest.mark.parametrize("resource", ["frame", "bulkdata"])
@pytest.mark.parametrize("media_types", [None, ()])
def test_frames_and_bulkdata_default_to_octet_stream(media_types: Any, resource: str) -> None:
    """F-03, F-10: octet-stream only; for bulk data without the file client's ``*/*;q=0.5``
    fallback, which Orthanc 1.10 answers with 400 (tests/web/test_web_orthanc.py)."""
    assert media.accept(media_types, resource) == MR + '"application/octet-stream"'


@pytest.mark.parametrize(
    "media_types",
    [
        ("application/dicom",),
        ("image/jpeg", "video/mp4"),  # two categories
        ("image/png",),  # not a pixel data media type
        (("image/jpeg", "1.2.840.10008.1.2.4.90"),),  # JPEG 2000 syntax with image/jpeg
        (("application/octet-stream", "1.2.840.10008.1.2.4.50"),),
        (("image/*", "1.2.840.10008.1.2.4.100"),),  # a video syntax under image/*
        (("image/jpeg", "1.2.3.4"),),  # unknown syntax
    ],
)
def test_frames_invalid_media_types_raise(media_types: Any) -> None:
    """Invalid or mixed media types for frames raise BadRequestError (L-04, F-06)."""
    with pytest.raises(BadRequestError):
        media.accept(media_types, "frame")
    with pytest.raises(BadRequestError):
        media.accept(media_types, "bulkdata")


@pytest.mark.parametrize(
    ("media_types", "expected"),
    [
        (None, "image/jpeg"),
        (("image/png",), "image/png"),
        (("image/gif", "image/jpeg"), "image/gif, image/jpeg"),
        (("image/png", "image/jpeg;q=0.5"), "image/png, image/jpeg; q=0.5"),
        (("image/*",), "image/*"),
        (("application/pdf",), "application/pdf"),
        (("text/rtf",), "text/rtf"),
        (("video/mp4",), "video/mp4"),
    ],
)
def test_rendered_accept(media_types: Any, expected: str) -> None:
    """Rendered resources: single-part types, image/jpeg by default (H-01, Table 8.7.4-1)."""
    assert media.accept(media_types, "rendered") == expected


@pytest.mark.parametrize(
    "media_types",
    [("application/dicom",), ("image/png", "application/dicom"), (("image/png", "*"),),
     ("image/dicom-rle",), ("video/gif",)],
)
def test_rendered_invalid_media_types_raise(media_types: Any) -> None:
    """DICOM types mixed into a rendered request (E-09), a transfer syntax, even ``*`` (H-01),
    or a type that is not a rendered one raise BadRequestError."""
    with pytest.raises(BadRequestError):
        media.accept(media_types, "rendered")


def test_metadata_accept() -> None:
    """K-05: metadata asks for application/dicom+json and its synonym application/json."""
    assert media.accept(None, "metadata") == "application/dicom+json, application/json"
    with pytest.raises(BadRequestError):
        media.accept(("image/png",), "metadata")


def test_nothing_acceptable_is_406_before_sending() -> None:
    """E-06/E-10: only never-sent syntaxes, or everything at q=0: 406, as the file client."""
    with pytest.raises(NotAcceptableError):
        media.accept((("application/dicom", "1.2.840.10008.1.2.2"),), "instance")
    with pytest.raises(NotAcceptableError):
        media.accept(("image/jpeg;q=0",), "frame")


def test_every_table_syntax_makes_an_accept_header() -> None:
    """F-06: every media type / transfer syntax pair of Table 8.7.3-5 is asked for as given."""
    for media_type, syntaxes in MEDIA_TYPE_SYNTAXES.items():
        for syntax in syntaxes:
            value = media.accept(((media_type, syntax),), "frame")
            assert value == f'{MR}"{media_type}"; transfer-syntax={syntax}'


@pytest.mark.parametrize("resource", ["instance", "frame", "bulkdata", "rendered", "metadata"])
@pytest.mark.parametrize(
    "media_types",
    [("application/dicom",), ("application/octet-stream",), ("image/jpeg",), ("image/png",),
     ("application/dicom+json",), ("image/jpeg", "video/mp4"), (("image/jp2", "*"),),
     (("image/jp2", "1.2.840.10008.1.2.4.50"),), ("*/*",), ("text/rtf",), ("video/*",)],
)
def test_web_client_validates_as_the_file_client(media_types: Any, resource: str) -> None:
    """API.md "both clients behave alike": the web client rejects exactly what
    dicomfs.media.parse_media_types (the file client's validation) rejects (L-04)."""
    try:
        parse_media_types(media_types, resource)
    except BadRequestError:
        with pytest.raises(BadRequestError):
            media.accept(media_types, resource)
    else:
        assert media.accept(media_types, resource).count(", ") == len(media_types) - 1
