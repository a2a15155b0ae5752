"""The web client against a real Orthanc 1.10 + DICOMweb plugin on 127.0.0.1 (PEERS.md)."""

from __future__ import annotations

from collections.abc import Iterator

import factories
import numpy as np
import pytest
import requests
from dicomweb_client import DICOMwebClient as ReferenceClient
from peers.orthanc import OrthancServer, load_into_orthanc
from pydicom.dataset import Dataset

import dicomfs
from dicomfs import session_utils
from dicomfs.errors import (
    ConflictError,
    HTTPStatusError,
    InvalidQueryError,
    NotFoundError,
    ServerError,
    UnsupportedError,
)

pytestmark = pytest.mark.orthanc

S1, S2, S3 = factories.study_uid(1), factories.study_uid(2), factories.study_uid(3)


def value(result: dict, tag: str) -> object:  # type: ignore[type-arg]
    return result[tag]["Value"][0]


@pytest.fixture(scope="module")
def client(
    orthanc: OrthancServer, standard_datasets: list[Dataset]
) -> Iterator[dicomfs.DICOMwebClient]:
    """The standard store loaded into Orthanc (cleared first), read-only for these tests."""
    web = load_into_orthanc(orthanc, standard_datasets)
    yield web
    web.close()


def by_uid(datasets: list[Dataset]) -> dict[str, Dataset]:
    return {ds.SOPInstanceUID: ds for ds in datasets}


def test_search_studies_and_filters(client: dicomfs.DICOMwebClient) -> None:
    """QIDO at study level: all studies, wildcard, exact and UID-list matching (B, A-11)."""
    assert sorted(value(s, "0020000D") for s in client.search_for_studies()) == [
        factories.study_uid(n) for n in range(1, 6)
    ]
    found = client.search_for_studies(search_filters={"PatientName": "DOE*"})
    assert sorted(value(s, "0020000D") for s in found) == [S1, S2]
    found = client.search_for_studies(search_filters={"00100020": "P1-0001"})
    assert [value(s, "0020000D") for s in found] == [S1]
    found = client.search_for_studies(search_filters={"StudyInstanceUID": [S1, S3]})
    assert sorted(value(s, "0020000D") for s in found) == [S1, S3]
    assert client.search_for_studies(search_filters={"PatientID": "NOPE"}) == []


def test_search_levels_fields_and_paging(client: dicomfs.DICOMwebClient) -> None:
    """Series/instance levels, includefield (A-06), limit/offset and get_remaining (D-01, D-06)."""
    series = client.search_for_series(S1)
    assert sorted(value(s, "00200011") for s in series) == [1, 2, 3]
    instances = client.search_for_instances(S1, factories.series_uid(1, 1))
    assert sorted(value(i, "00080018") for i in instances) == [
        factories.sop_uid(1, 1, n) for n in (1, 2, 3)
    ]
    every = client.search_for_instances(limit=5, get_remaining=True)
    assert sorted(value(i, "00080018") for i in every) == sorted(
        ds.SOPInstanceUID for ds in factories.standard_datasets()
    )
    assert len(client.search_for_instances(limit=5, offset=10)) == 2
    (study,) = client.search_for_studies(
        search_filters={"StudyInstanceUID": S1}, fields=["PatientSex", "00100030"]
    )
    assert (value(study, "00100040"), value(study, "00100030")) == ("M", "19600101")


def test_search_rejects_unknown_keyword_before_sending(client: dicomfs.DICOMwebClient) -> None:
    """Orthanc ignores an unknown key (returns everything); the client refuses it (A-04)."""
    with pytest.raises(InvalidQueryError):
        client.search_for_studies(search_filters={"patientname": "DOE*"})


def test_orthanc_quirk_caret_is_not_decoded(client: dicomfs.DICOMwebClient) -> None:
    """Orthanc does not percent-decode: ``DOE^JOHN`` (sent as %5E) matches nothing there, the
    ``*`` wildcard does (pinned quirk, docs/web-client.md)."""
    assert client.search_for_studies(search_filters={"PatientName": "DOE^JOHN"}) == []
    found = client.search_for_studies(search_filters={"PatientName": "DOE*JOHN"})
    assert [value(s, "0020000D") for s in found] == [S1]


def test_iter_study_returns_every_instance_in_explicit_vr_le(
    client: dicomfs.DICOMwebClient, standard_datasets: list[Dataset]
) -> None:
    """WADO study: every instance, Explicit VR LE by default, pixel data unchanged (E-02, E-03)."""
    source = by_uid(standard_datasets)
    got = list(client.iter_study(S1))
    assert sorted(ds.SOPInstanceUID for ds in got) == sorted(
        uid for uid, ds in source.items() if ds.StudyInstanceUID == S1
    )
    for ds in got:
        assert ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"
        assert ds.PixelData == source[ds.SOPInstanceUID].PixelData


def test_same_instances_as_dicomweb_client(
    client: dicomfs.DICOMwebClient, orthanc: OrthancServer
) -> None:
    """dicomfs and dicomweb-client read the same study identically."""
    reference = ReferenceClient(orthanc.dicomweb_url)
    ours = {ds.SOPInstanceUID: ds for ds in client.retrieve_study(S1)}
    theirs = {ds.SOPInstanceUID: ds for ds in reference.retrieve_study(S1)}
    assert ours.keys() == theirs.keys()
    for uid, ds in ours.items():
        assert ds == theirs[uid]


def test_series_instance_and_metadata(client: dicomfs.DICOMwebClient) -> None:
    """Series and instance retrieval, ``*`` transfer syntax, metadata at three levels (G)."""
    series = client.retrieve_series(S1, factories.series_uid(1, 2))
    assert sorted(ds.InstanceNumber for ds in series) == [1, 2]
    ds = client.retrieve_instance(
        S1, factories.series_uid(1, 1), factories.sop_uid(1, 1, 2),
        media_types=(("application/dicom", "*"),),
    )
    assert ds.SOPInstanceUID == factories.sop_uid(1, 1, 2)
    assert len(client.retrieve_study_metadata(S1)) == 6
    assert len(client.retrieve_series_metadata(S1, factories.series_uid(1, 1))) == 3
    meta = client.retrieve_instance_metadata(
        S1, factories.series_uid(1, 1), factories.sop_uid(1, 1, 3)
    )
    assert value(meta, "00080018") == factories.sop_uid(1, 1, 3)
    assert meta["7FE00010"]["BulkDataURI"].endswith(
        f"/instances/{factories.sop_uid(1, 1, 3)}/bulk/7fe00010"
    )


def test_frames_in_requested_order(
    client: dicomfs.DICOMwebClient, standard_datasets: list[Dataset]
) -> None:
    """Frames of a 3-frame instance, native bytes, in the requested order (F)."""
    source = by_uid(standard_datasets)[factories.sop_uid(2, 1, 2)]
    pixels = source.pixel_array
    frames = client.retrieve_instance_frames(
        S2, factories.series_uid(2, 1), factories.sop_uid(2, 1, 2), [3, 1]
    )
    assert frames == [pixels[2].tobytes(), pixels[0].tobytes()]
    first = np.frombuffer(frames[1], dtype=np.uint16)
    assert first[:3].tolist() == [0, 1, 2]


def test_bulkdata_and_byte_range(client: dicomfs.DICOMwebClient) -> None:
    """A BulkDataURI from metadata is retrievable byte-exactly; a byte range Orthanc ignores is
    applied by the client (inclusive, as HTTP)."""
    meta = client.retrieve_instance_metadata(
        S1, factories.series_uid(1, 1), factories.sop_uid(1, 1, 1)
    )
    uri = meta["7FE00010"]["BulkDataURI"]
    pixel_bytes = factories.make_instance(1, 1, 1).PixelData
    assert client.retrieve_bulkdata(uri) == [pixel_bytes]
    assert client.retrieve_bulkdata(uri, byte_range=(2, 5)) == [pixel_bytes[2:6]]


def test_rendered(client: dicomfs.DICOMwebClient) -> None:
    """Rendered instance, frame and series: JPEG by default, PNG on request (H)."""
    args = (S1, factories.series_uid(1, 1), factories.sop_uid(1, 1, 1))
    assert client.retrieve_instance_rendered(*args)[:3] == b"\xff\xd8\xff"
    png = client.retrieve_instance_rendered(*args, media_types=("image/png",))
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert client.retrieve_instance_frames_rendered(*args, [1])[:3] == b"\xff\xd8\xff"
    assert client.retrieve_series_rendered(S1, factories.series_uid(1, 1))[:3] == b"\xff\xd8\xff"


def test_errors_from_orthanc(client: dicomfs.DICOMwebClient) -> None:
    """404 for an unknown study (E-14); Orthanc answers an impossible transcode with 500
    (not 406) and a frame past the end with 400 (not 404): pinned quirks."""
    with pytest.raises(NotFoundError) as info:
        client.retrieve_study("1.2.3.4.5")
    assert info.value.response.status_code == 404
    with pytest.raises(NotFoundError):
        client.retrieve_study_metadata("1.2.3.4.5")
    with pytest.raises(ServerError):
        client.retrieve_study(S1, media_types=(("application/dicom", "1.2.840.10008.1.2.4.90"),))
    with pytest.raises(InvalidQueryError) as bad:
        client.retrieve_instance_frames(
            S1, factories.series_uid(1, 1), factories.sop_uid(1, 1, 1), [9]
        )
    assert bad.value.response.status_code == 400


def test_store_conflict_delete_and_rest_cleanup(orthanc: OrthancServer) -> None:
    """STOW to another study's URL: 409 with FailedSOPSequence (I-09); DICOMweb DELETE is 405 in
    Orthanc (UnsupportedError); the REST helper deletes instead. Chunked STOW works (I-15)."""
    web = orthanc.client(chunk_size=1000)
    ds = factories.make_instance(7, 1, 1, rows=64, columns=64)
    with pytest.raises(ConflictError) as info:
        web.store_instances([ds], study_instance_uid=factories.study_uid(8))
    assert info.value.response.status_code == 409
    failed = info.value.dataset.FailedSOPSequence
    assert [item.ReferencedSOPInstanceUID for item in failed] == [ds.SOPInstanceUID]
    stored = web.store_instances([ds])  # 8 KB body in 1,000-byte chunks
    assert [i.ReferencedSOPInstanceUID for i in stored.ReferencedSOPSequence] == [
        ds.SOPInstanceUID
    ]
    assert "FailedSOPSequence" not in stored
    with pytest.raises(UnsupportedError) as deleted:
        web.delete_study(ds.StudyInstanceUID)
    assert deleted.value.response.status_code == 405
    orthanc.delete_study(ds.StudyInstanceUID)
    assert web.search_for_studies(search_filters={"StudyInstanceUID": ds.StudyInstanceUID}) == []
    web.close()


def test_basic_authentication(orthanc_auth: OrthancServer) -> None:
    """With authentication on: 401 without credentials, and both a session_utils session and an
    Authorization header work."""
    anonymous = dicomfs.DICOMwebClient(orthanc_auth.dicomweb_url)
    with pytest.raises(HTTPStatusError) as info:
        anonymous.search_for_studies()
    assert info.value.response.status_code == 401
    user, password = orthanc_auth.auth or ("", "")
    with dicomfs.DICOMwebClient(
        orthanc_auth.dicomweb_url,
        session=session_utils.create_session_from_user_pass(user, password),
    ) as authed:
        stored = authed.store_instances([factories.make_instance(9, 1, 1)])
        assert len(stored.ReferencedSOPSequence) == 1
    basic = requests.auth._basic_auth_str(user, password)
    with dicomfs.DICOMwebClient(
        orthanc_auth.dicomweb_url, headers={"Authorization": basic}
    ) as header_client:
        found = header_client.search_for_studies()
        assert [value(s, "0020000D") for s in found] == [factories.study_uid(9)]
    anonymous.close()
