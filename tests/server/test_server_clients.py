"""Real DICOMweb clients against the server: dicomfs's DICOMwebClient (every protocol method)
and dicomweb-client 0.61.2's DICOMwebClient (its quirks: I-15, I-16, K-05, E-05)."""

from __future__ import annotations

import io

import factories
import pytest
from dicomweb_client import DICOMwebClient as ReferenceClient
from PIL import Image
from pydicom.dataset import Dataset

import dicomfs
from dicomfs.errors import NotFoundError, ReadOnlyError
from dicomfs.protocol import METHODS
from server.httpkit import EXPLICIT_LE, I111, MF, S1, S2, SE11, SE21, frame_bytes, instance_url
from server.served import ServedStore

CT = factories.CT_IMAGE_STORAGE


def _sops(datasets: list[Dataset]) -> list[str]:
    return [str(ds.SOPInstanceUID) for ds in datasets]


def test_every_protocol_method_is_exercised() -> None:
    """The smoke tests below call each of the 22 protocol methods."""
    called = {
        "search_for_studies", "search_for_series", "search_for_instances", "retrieve_study",
        "iter_study", "retrieve_study_metadata", "delete_study", "retrieve_series",
        "iter_series", "retrieve_series_metadata", "retrieve_series_rendered", "delete_series",
        "retrieve_instance", "store_instances", "delete_instance", "retrieve_instance_metadata",
        "retrieve_instance_rendered", "retrieve_instance_frames", "iter_instance_frames",
        "retrieve_instance_frames_rendered", "retrieve_bulkdata", "iter_bulkdata",
    }
    assert called == set(METHODS)


def test_our_client_reads(served: ServedStore) -> None:
    """Every read method of dicomfs's DICOMwebClient through HTTP to the file store."""
    with served.client() as client:
        studies = client.search_for_studies(get_remaining=True, search_filters={"PatientID": "P1*"})
        assert [s["0020000D"]["Value"][0] for s in studies] == [S1, S2]
        assert len(client.search_for_series(S1)) == 3
        assert len(client.search_for_instances(get_remaining=True)) == 12  # 3 pages of <= 5
        assert len(client.search_for_instances(S1, SE11)) == 3
        expected = [factories.sop_uid(1, se, i) for se, i in ((1, 1), (1, 2), (1, 3),
                                                               (2, 1), (2, 2), (3, 1))]
        assert _sops(client.retrieve_study(S1)) == expected
        assert _sops(list(client.iter_study(S1))) == expected
        assert _sops(client.retrieve_series(S1, SE11)) == expected[:3]
        assert _sops(list(client.iter_series(S1, SE11))) == expected[:3]
        instance = client.retrieve_instance(S1, SE11, I111, media_types=(("application/dicom",
                                                                           "*"),))
        assert (instance.SOPInstanceUID, instance.file_meta.TransferSyntaxUID) == (I111,
                                                                                   EXPLICIT_LE)
        assert len(client.retrieve_study_metadata(S1)) == 6
        assert len(client.retrieve_series_metadata(S1, SE11)) == 3
        metadata = client.retrieve_instance_metadata(S2, SE21, MF)
        uri = metadata["7FE00010"]["BulkDataURI"]
        assert uri == f"{instance_url(served.url, 2, 1, 2)}/bulk/7FE00010"
        everything = frame_bytes(0) + frame_bytes(1) + frame_bytes(2)
        assert client.retrieve_bulkdata(uri) == [everything]
        assert list(client.iter_bulkdata(uri, byte_range=(2, 9))) == [everything[2:10]]
        assert client.retrieve_instance_frames(S2, SE21, MF, [2, 3]) == [frame_bytes(1),
                                                                         frame_bytes(2)]
        assert list(client.iter_instance_frames(S2, SE21, MF, [1])) == [frame_bytes(0)]
        for image in (
            client.retrieve_instance_rendered(S1, SE11, I111, media_types=("image/png",)),
            client.retrieve_instance_frames_rendered(S2, SE21, MF, [3]),
            client.retrieve_series_rendered(S1, SE11, media_types=("image/gif",)),
        ):
            assert Image.open(io.BytesIO(image)).size == (4, 4)


def test_our_client_writes(writable: ServedStore) -> None:
    """store_instances and the three deletes of dicomfs's DICOMwebClient."""
    datasets = [factories.make_instance(1, se, i) for se in (1, 2) for i in (1, 2)]
    with writable.client() as client:
        response = client.store_instances(datasets)
        assert [str(i.ReferencedSOPInstanceUID) for i in response.ReferencedSOPSequence] == \
            _sops(datasets)
        assert response.RetrieveURL == f"{writable.url}/studies/{S1}"
        client.delete_instance(S1, factories.series_uid(1, 1), factories.sop_uid(1, 1, 1))
        client.delete_series(S1, factories.series_uid(1, 2))
        assert _sops(client.retrieve_study(S1)) == [factories.sop_uid(1, 1, 2)]
        client.delete_study(S1)
        assert client.search_for_studies() == []
        with pytest.raises(NotFoundError):
            client.retrieve_study(S1)


def test_our_client_read_only(served: ServedStore) -> None:
    """L-03: 403 comes back as ReadOnlyError."""
    with served.client() as client, pytest.raises(ReadOnlyError):
        client.store_instances([factories.make_instance(8, 1, 1)])


@pytest.fixture
def reference(served: ServedStore) -> ReferenceClient:
    return ReferenceClient(served.url)


def test_reference_search(reference: ReferenceClient) -> None:
    """K-05 (dwc's JSON Accept) and D-06 (get_remaining pages until an empty 204 page)."""
    studies = reference.search_for_studies(search_filters={"PatientName": "DOE^J*"})
    assert [s["0020000D"]["Value"][0] for s in studies] == [S1, S2]
    assert len(reference.search_for_instances(get_remaining=True)) == 12
    assert reference.search_for_series(S1, search_filters={"Modality": "SEG"})[0][
        "0020000E"]["Value"] == [factories.series_uid(1, 3)]


def test_reference_retrieve_instance(reference: ReferenceClient) -> None:
    """E-05: dwc's retrieve_instance asks transfer-syntax=*: the stored syntax comes back."""
    ds = reference.retrieve_instance(S1, SE11, I111)
    assert (ds.SOPInstanceUID, ds.file_meta.TransferSyntaxUID) == (I111, EXPLICIT_LE)
    assert ds.PixelData == frame_bytes(0)
    study = reference.retrieve_study(S2)  # E-05: no transfer syntax -> Explicit VR LE
    assert _sops(study) == [factories.sop_uid(2, 1, 1), MF]


def test_reference_metadata(reference: ReferenceClient, served: ServedStore) -> None:
    metadata = reference.retrieve_study_metadata(S2)
    assert [m["00080018"]["Value"][0] for m in metadata] == [factories.sop_uid(2, 1, 1), MF]
    assert metadata[1]["7FE00010"]["BulkDataURI"] == \
        f"{instance_url(served.url, 2, 1, 2)}/bulk/7FE00010"


def test_reference_frames(reference: ReferenceClient) -> None:
    frames = reference.retrieve_instance_frames(S2, SE21, MF, [3, 1])
    assert frames == [frame_bytes(2), frame_bytes(0)]


def test_reference_store(writable: ServedStore) -> None:
    """I-15/I-16: dwc's fixed quoted boundary, CRLF preamble, chunked upload past chunk_size,
    and its literal comparison of the response Content-Type."""
    client = ReferenceClient(writable.url, chunk_size=1000)  # > 1000 bytes: chunked
    datasets = [factories.make_instance(4, 1, n) for n in (1, 2)]
    response = client.store_instances(datasets)
    assert [str(i.ReferencedSOPInstanceUID) for i in response.ReferencedSOPSequence] == \
        _sops(datasets)
    assert response.RetrieveURL == f"{writable.url}/studies/{factories.study_uid(4)}"
    assert "FailedSOPSequence" not in response
    stored = dicomfs.DICOMwebClient(writable.url).search_for_instances()
    assert sorted(r["00080018"]["Value"][0] for r in stored) == sorted(_sops(datasets))
