"""Accept headers of the web client (dicomfs.web.media), checked before anything is sent."""

from __future__ import annotations

from typing import Any

import pytest

from dicomfs.errors import BadRequestError
from dicomfs.web import media

MR = 'multipart/related; type='


@pytest.mark.parametrize(
    ("media_types", "expected"),
    [
        (None, MR + '"application/dicom"; transfer-syntax=1.2.840.10008.1.2.1'),
        (("application/dicom",), MR + '"application/dicom"'),
        ((("application/dicom", "*"),), MR + '"application/dicom"; transfer-syntax=*'),
        (
            (("application/dicom", "1.2.840.10008.1.2.4.50"), ("application/dicom", "*")),
            MR + '"application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.50, '
            + MR + '"application/dicom"; transfer-syntax=*',
        ),
        ((("application/dicom", "1.2.840.10008.1.2.4.201"),),
         MR + '"application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.201'),
    ],
)
def test_instances_accept(media_types: Any, expected: str) -> None:
    """Instances: application/dicom, Explicit VR LE by default, ``*`` as stored (E-03, E-04)."""
    assert media.accept_for_instances(media_types) == expected


@pytest.mark.parametrize(
    "media_types",
    [
        ("image/jpeg",),
        ("application/dicom", "image/jpeg"),  # E-09: mixing DICOM and rendered types
        ("application/octet-stream",),
        (("application/dicom", "1.2.840.10008.1.2"),),  # Implicit VR LE is never sent (E-06)
        (("application/dicom", "1.2.840.10008.1.2.2"),),
        (("application/dicom", "not-a-uid"),),
        "application/dicom",  # a bare string, not a tuple
        (),
        (42,),
        ("application",),
        ('application/dicom; transfer-syntax=*',),
    ],
)
def test_instances_invalid_media_types_raise_before_sending(media_types: Any) -> None:
    """Invalid media types for instances raise BadRequestError, a ValueError (L-04, E-09)."""
    with pytest.raises(BadRequestError) as info:
        media.accept_for_instances(media_types)
    assert isinstance(info.value, ValueError)
    assert info.value.response.status_code == 400


@pytest.mark.parametrize(
    ("media_types", "expected"),
    [
        (None, MR + '"application/octet-stream"'),
        ((("application/octet-stream", "1.2.840.10008.1.2.1"),),
         MR + '"application/octet-stream"; transfer-syntax=1.2.840.10008.1.2.1'),
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
    ],
)
def test_frames_accept(media_types: Any, expected: str) -> None:
    """Frames: octet-stream by default, compressed types with matching syntaxes (F-06, L-04)."""
    assert media.accept_for_frames(media_types) == expected
    assert media.accept_for_bulkdata(media_types) == expected


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
    """Invalid or mixed media types for frames raise BadRequestError (L-04)."""
    with pytest.raises(BadRequestError):
        media.accept_for_frames(media_types)


@pytest.mark.parametrize(
    ("media_types", "expected"),
    [
        (None, "image/jpeg"),
        (("image/png",), "image/png"),
        (("image/gif", "image/jpeg"), "image/gif, image/jpeg"),
        (("application/pdf",), "application/pdf"),
        (("video/mp4",), "video/mp4"),
    ],
)
def test_rendered_accept(media_types: Any, expected: str) -> None:
    """Rendered resources: single-part image types, image/jpeg by default."""
    assert media.accept_for_rendered(media_types) == expected


@pytest.mark.parametrize(
    "media_types",
    [("application/dicom",), ("image/png", "application/dicom"), (("image/png", "*"),),
     ("image/dicom-rle",)],
)
def test_rendered_invalid_media_types_raise(media_types: Any) -> None:
    """DICOM types mixed into a rendered request raise BadRequestError (E-09)."""
    with pytest.raises(BadRequestError):
        media.accept_for_rendered(media_types)


def test_every_pixel_syntax_has_a_media_type() -> None:
    """Every transfer syntax of the table maps to media types of one category."""
    for syntax, types in media.PIXEL_MEDIA_TYPES.items():
        assert syntax in media.DICOM_TRANSFER_SYNTAXES
        assert len({t.split("/")[0] for t in types}) == 1
        value = media.accept_for_frames(((types[0], syntax),))
        assert value == f'{MR}"{types[0]}"; transfer-syntax={syntax}'
