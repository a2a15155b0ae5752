"""WADO-RS over HTTP (CONFORMANCE E, F, K) against the served standard store."""

from __future__ import annotations

import io

import factories
import pydicom
import pytest
import requests
from PIL import Image

from server.httpkit import (
    DICOM_ACCEPT,
    EXPLICIT_LE,
    I111,
    MF,
    S1,
    S2,
    SE11,
    SE21,
    frame_bytes,
    get,
    instance_url,
    parts,
    warning,
)
from server.served import ServedStore

OCTET_ACCEPT = 'multipart/related; type="application/octet-stream"'


def test_retrieve_study_multipart(served: ServedStore) -> None:
    """E-02/K-01/E-13/K-04: one part per instance, random boundary, quoted type, each part with
    Content-Type + transfer-syntax, Content-Location and Content-Length; Explicit VR LE (E-03)."""
    response = get(f"{served.url}/studies/{S1}", accept=DICOM_ACCEPT)
    assert response.status_code == 200
    assert response.headers["Content-Length"] == str(len(response.content))
    found = parts(response)
    expected = [(1, 1), (1, 2), (1, 3), (2, 1), (2, 2), (3, 1)]
    assert [p.headers["content-location"] for p in found] == [
        instance_url(served.url, 1, se, i) for se, i in expected
    ]
    for part in found:
        assert part.headers["content-type"] == f"application/dicom; transfer-syntax={EXPLICIT_LE}"
        assert part.headers["content-length"] == str(len(part.content))
        ds = pydicom.dcmread(io.BytesIO(part.content))
        assert ds.file_meta.TransferSyntaxUID == EXPLICIT_LE
    sops = [pydicom.dcmread(io.BytesIO(p.content)).SOPInstanceUID for p in found]
    assert sops == [factories.sop_uid(1, se, i) for se, i in expected]


def test_boundary_is_random(served: ServedStore) -> None:
    """K-01: a new boundary for every response."""
    url = f"{served.url}/studies/{S1}/series/{SE11}/instances/{I111}"
    first = get(url, accept=DICOM_ACCEPT).headers["Content-Type"]
    second = get(url, accept=DICOM_ACCEPT).headers["Content-Type"]
    assert first != second


def test_retrieve_instance_as_stored(served: ServedStore) -> None:
    """E-04: transfer-syntax=* sends the stored syntax (here Explicit VR LE), pixel data intact."""
    url = f"{served.url}/studies/{S1}/series/{SE11}/instances/{I111}"
    response = get(url, accept=f"{DICOM_ACCEPT}; transfer-syntax=*")
    (part,) = parts(response)
    ds = pydicom.dcmread(io.BytesIO(part.content))
    assert ds.SOPInstanceUID == I111
    assert ds.PixelData == frame_bytes(0)


@pytest.mark.parametrize(
    "accept",
    [
        f"{DICOM_ACCEPT}; transfer-syntax=1.2.840.10008.1.2.4.100; q=0.5, {DICOM_ACCEPT}",
        f"{DICOM_ACCEPT}; transfer-syntax=1.2.840.10008.1.2.4.100; q=0.4, "
        f"{DICOM_ACCEPT}; transfer-syntax={EXPLICIT_LE}; q=0.9",
        "*/*",
        "multipart/related",
    ],
)
def test_accept_negotiation(served: ServedStore, accept: str) -> None:
    """E-10: the highest q that can be produced wins; */* is the resource's default."""
    url = f"{served.url}/studies/{S1}/series/{SE11}/instances/{I111}"
    (part,) = parts(get(url, accept=accept))
    assert part.headers["content-type"] == f"application/dicom; transfer-syntax={EXPLICIT_LE}"


def test_transfer_syntax_not_producible_is_406(served: ServedStore) -> None:
    """E-07: a transfer syntax the server cannot produce (MPEG-2) is 406."""
    url = f"{served.url}/studies/{S1}/series/{SE11}/instances/{I111}"
    response = get(url, accept=f"{DICOM_ACCEPT}; transfer-syntax=1.2.840.10008.1.2.4.100")
    assert response.status_code == 406
    assert response.headers["Content-Type"] == "application/json"


def test_dicom_and_rendered_mixed_is_400(served: ServedStore) -> None:
    """E-09: application/dicom together with image/jpeg is 400."""
    response = get(f"{served.url}/studies/{S1}", accept=f"{DICOM_ACCEPT}, image/jpeg")
    assert response.status_code == 400


def test_no_accept_is_406(served: ServedStore) -> None:
    """E-08."""
    assert get(f"{served.url}/studies/{S1}", accept=None).status_code == 406


def test_accept_parameter_for_retrieve(served: ServedStore) -> None:
    """E-17: ``accept`` in the query is used before the (here unusable) Accept header."""
    url = f"{served.url}/studies/{S1}/series/{SE11}/instances/{I111}"
    response = get(url, accept="image/png", params={"accept": DICOM_ACCEPT})
    assert response.status_code == 200
    assert len(parts(response)) == 1


@pytest.mark.parametrize(
    "path",
    [
        f"/studies/{factories.study_uid(9)}",
        f"/studies/{S2}/series/{SE11}",
        f"/studies/{S2}/series/{SE21}/instances/{I111}",  # E-14: instance of another study
        f"/studies/{factories.study_uid(9)}/metadata",
    ],
)
def test_unknown_resource_is_404(served: ServedStore, path: str) -> None:
    """E-14: 404 (not 204) with a JSON body."""
    response = get(served.url + path, accept="*/*")
    assert response.status_code == 404
    assert response.json()["status"] == 404


def test_malformed_uid_is_400(served: ServedStore) -> None:
    assert get(f"{served.url}/studies/1.2.abc", accept=DICOM_ACCEPT).status_code == 400


def test_metadata(served: ServedStore) -> None:
    """G-01/K-05: a JSON array, BulkDataURIs on this server."""
    response = get(f"{served.url}/studies/{S1}/series/{SE11}/instances/{I111}/metadata")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/dicom+json"
    (obj,) = response.json()
    assert obj["7FE00010"] == {
        "vr": "OW", "BulkDataURI": f"{instance_url(served.url, 1, 1, 1)}/bulk/7FE00010"
    }
    study = get(f"{served.url}/studies/{S1}/metadata", accept="application/json")
    assert len(study.json()) == 6


def test_frames_in_requested_order(served: ServedStore) -> None:
    """F-01/F-03/E-13/F-07: one octet-stream part per frame, in order, with transfer-syntax."""
    url = f"{served.url}/studies/{S2}/series/{SE21}/instances/{MF}/frames/3,1"
    response = get(url, accept=OCTET_ACCEPT)
    assert response.headers["Content-Type"].startswith(
        'multipart/related; type="application/octet-stream"; boundary='
    )
    found = parts(response)
    assert [p.content for p in found] == [frame_bytes(2), frame_bytes(0)]
    assert [p.headers["content-type"] for p in found] == [
        f"application/octet-stream; transfer-syntax={EXPLICIT_LE}"
    ] * 2
    base = f"{served.url}/studies/{S2}/series/{SE21}/instances/{MF}/frames/"
    assert [p.headers["content-location"] for p in found] == [base + "3", base + "1"]


@pytest.mark.parametrize(("frames", "status"), [("0", 400), ("x", 400), ("1,-2", 400),
                                                ("4", 404)])
def test_bad_frames(served: ServedStore, frames: str, status: int) -> None:
    """F-02: frame 0 / not a number is 400; past NumberOfFrames is 404."""
    url = f"{served.url}/studies/{S2}/series/{SE21}/instances/{MF}/frames/{frames}"
    assert get(url, accept=OCTET_ACCEPT).status_code == status


def test_frames_of_unknown_instance_is_404(served: ServedStore) -> None:
    url = f"{served.url}/studies/{S2}/series/{SE21}/instances/{factories.sop_uid(2, 1, 9)}/frames/1"
    assert get(url, accept=OCTET_ACCEPT).status_code == 404


def _pixel_uri(served: ServedStore) -> str:
    return f"{instance_url(served.url, 2, 1, 2)}/bulk/7FE00010"


def test_bulkdata(served: ServedStore) -> None:
    """F-10/G-06: one octet-stream part, Content-Location = the URI, the exact bytes."""
    response = get(_pixel_uri(served), accept=OCTET_ACCEPT)
    assert response.status_code == 200
    (part,) = parts(response)
    assert part.headers["content-location"] == _pixel_uri(served)
    assert part.content == frame_bytes(0) + frame_bytes(1) + frame_bytes(2)


def test_bulkdata_of_native_pixels_as_an_image_type_is_406(served: ServedStore) -> None:
    """F-10: bulk data is application/octet-stream; native pixel data is no image/jpeg."""
    response = get(_pixel_uri(served), accept='multipart/related; type="image/jpeg"')
    assert response.status_code == 406


def test_bulkdata_of_compressed_pixels_as_stored(writable: ServedStore) -> None:
    """F-05/F-10: the compressed pixel data's BulkDataURI asked as its own type gives each
    frame's codestream, a part each with the transfer syntax; as octet-stream, the value bytes;
    as another compressed type, 406."""
    import numpy as np
    from pydicom.uid import RLELossless

    ds = factories.make_instance(rows=16, columns=16, frames=2)
    ds.PixelData = np.arange(512, dtype=np.uint16).tobytes()
    ds.compress(RLELossless, generate_instance_uid=False)
    writable.file_client.store_instances([ds])
    uri = f"{instance_url(writable.url, 1, 1, 1)}/bulk/7FE00010"
    rle = get(uri, accept='multipart/related; type="image/dicom-rle"')
    assert rle.status_code == 200
    frames = writable.file_client.retrieve_instance_frames(
        factories.study_uid(1), factories.series_uid(1, 1), factories.sop_uid(1, 1, 1), [1, 2],
        media_types=["image/dicom-rle"],
    )
    found = parts(rle)
    assert [part.content for part in found] == frames
    assert {part.headers["content-type"] for part in found} == {
        "image/dicom-rle; transfer-syntax=1.2.840.10008.1.2.5"
    }
    octet = get(uri, accept=OCTET_ACCEPT)
    local = uri.replace(writable.url, writable.file_client.base_url)
    assert [part.content for part in parts(octet)] == writable.file_client.retrieve_bulkdata(local)
    assert get(uri, accept='multipart/related; type="image/jp2"').status_code == 406


@pytest.mark.parametrize(
    ("byte_range", "first", "last"), [("bytes=0-", 0, 95), ("bytes=4-11", 4, 11),
                                      ("bytes=-4", 92, 95), ("bytes=90-200", 90, 95)]
)
def test_bulkdata_range(served: ServedStore, byte_range: str, first: int, last: int) -> None:
    """F-12: 206 Partial Content with Content-Range, the part holding the bytes asked for."""
    whole = frame_bytes(0) + frame_bytes(1) + frame_bytes(2)
    response = get(_pixel_uri(served), accept=OCTET_ACCEPT, headers={"Range": byte_range})
    assert response.status_code == 206
    assert response.headers["Content-Range"] == f"bytes {first}-{last}/96"
    (part,) = parts(response)
    assert part.content == whole[first : last + 1]


def test_bulkdata_range_beyond_the_end(served: ServedStore) -> None:
    response = get(_pixel_uri(served), accept=OCTET_ACCEPT, headers={"Range": "bytes=96-"})
    assert response.status_code == 416
    assert response.headers["Content-Range"] == "bytes */96"


def test_level_bulkdata(served: ServedStore) -> None:
    """F-13: series bulkdata: every BulkDataURI of the metadata, one part each."""
    response = get(f"{served.url}/studies/{S2}/series/{SE21}/bulkdata", accept=OCTET_ACCEPT)
    found = parts(response)
    assert [p.headers["content-location"] for p in found] == [
        f"{instance_url(served.url, 2, 1, n)}/bulk/7FE00010" for n in (1, 2)
    ]
    assert [p.content for p in found] == [
        frame_bytes(0), frame_bytes(0) + frame_bytes(1) + frame_bytes(2)
    ]


@pytest.mark.parametrize(("accept", "kind"), [("image/png", "PNG"), ("*/*", "JPEG"),
                                              ("image/gif, image/png;q=0.5", "GIF")])
def test_rendered(served: ServedStore, accept: str, kind: str) -> None:
    """H-01: the rendered type follows Accept; the body is one image of the source size."""
    response = get(f"{instance_url(served.url, 1, 1, 1)}/rendered", accept=accept)
    assert response.status_code == 200
    image = Image.open(io.BytesIO(response.content))
    assert (image.format, image.size) == (kind, (4, 4))
    assert response.headers["Content-Type"] == f"image/{kind.lower()}"


def test_rendered_frame_and_series(served: ServedStore) -> None:
    frame = get(f"{instance_url(served.url, 2, 1, 2)}/frames/2/rendered", accept="image/png")
    series = get(f"{served.url}/studies/{S1}/series/{SE11}/rendered", accept="image/png")
    assert (frame.status_code, series.status_code) == (200, 200)
    assert Image.open(io.BytesIO(series.content)).size == (4, 4)


def test_rendered_parameters(served: ServedStore) -> None:
    """H-08: a malformed window is 400; H-16/A-04: annotation and unknown names warn."""
    url = f"{instance_url(served.url, 1, 1, 1)}/rendered"
    assert get(url, accept="image/png", params={"window": "40,400"}).status_code == 400
    response = get(url, accept="image/png", params={"annotation": "patient", "foo": "1"})
    assert response.status_code == 200
    assert response.headers["Warning"] == ", ".join([
        warning(served.url, "The following annotation values are not supported: patient"),
        warning(served.url, "The following query parameters are not supported and were "
                            "ignored: foo"),
    ])


def test_rendered_with_dicom_accept(served: ServedStore) -> None:
    """E-09 / H-01: application/dicom cannot be rendered: 406 alone, 400 mixed."""
    url = f"{instance_url(served.url, 1, 1, 1)}/rendered"
    assert get(url, accept=DICOM_ACCEPT).status_code == 406
    assert get(url, accept="application/dicom, image/png").status_code == 400


@pytest.mark.parametrize("path", [f"/studies/{S1}/thumbnail", f"/studies/{S1}/series/{SE11}/thumbnail"])
def test_thumbnails_are_501(served: ServedStore, path: str) -> None:
    """E-01: thumbnails are optional; all of them are 501 alike."""
    assert get(served.url + path, accept="*/*").status_code == 501


def test_study_rendered(served: ServedStore) -> None:
    """E-01: /studies/{s}/rendered. As GIF, the frames of its series' animations in
    SeriesNumber order; as PNG, the first series' first image; an unknown study 404."""
    def frames(data: bytes) -> list[bytes]:
        from PIL import ImageSequence

        with Image.open(io.BytesIO(data)) as gif:
            return [f.convert("RGB").tobytes() for f in ImageSequence.Iterator(gif)]

    study = get(f"{served.url}/studies/{S1}/rendered", accept="image/gif")
    assert study.status_code == 200 and study.headers["Content-Type"] == "image/gif"
    series = [
        get(f"{served.url}/studies/{S1}/series/{factories.series_uid(1, n)}/rendered",
            accept="image/gif").content
        for n in (1, 2, 3)
    ]
    assert frames(study.content) == [f for gif in series for f in frames(gif)]
    assert len(frames(study.content)) == 6
    png = get(f"{served.url}/studies/{S1}/rendered", accept="image/png")
    first = get(f"{served.url}/studies/{S1}/series/{SE11}/rendered", accept="image/png")
    assert png.status_code == 200 and png.content == first.content
    unknown = get(f"{served.url}/studies/1.2.3.4/rendered", accept="image/png")
    assert unknown.status_code == 404


def test_unknown_paths(served: ServedStore) -> None:
    assert get(f"{served.url}/nothing", accept="*/*").status_code == 404
    root = served.url.rsplit("/dicomweb", 1)[0]
    assert get(f"{root}/studies", accept="*/*").status_code == 404


def test_method_not_allowed(served: ServedStore) -> None:
    response = requests.put(f"{served.url}/studies", timeout=30)
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, POST"


def test_head(served: ServedStore) -> None:
    response = requests.head(f"{served.url}/studies", headers={"Accept": "*/*"}, timeout=30)
    assert response.status_code == 200
    assert response.content == b""
    assert int(response.headers["Content-Length"]) == len(get(f"{served.url}/studies").content)
