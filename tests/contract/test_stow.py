"""STOW-RS through ``store_instances`` (CONFORMANCE section I), on every writable backend."""

from __future__ import annotations

import warnings
from typing import Any

import factories
import pytest
from pydicom.dataset import Dataset

import dicomfs
from dicomfs.errors import BadRequestError, ConflictError

STUDY1 = factories.study_uid(1)
STUDY2 = factories.study_uid(2)
CT = factories.CT_IMAGE_STORAGE


def _base(client: dicomfs.DICOMClient) -> str:
    return str(client.base_url)  # type: ignore[attr-defined]


def _instance_url(client: dicomfs.DICOMClient, ds: Dataset) -> str:
    return (
        f"{_base(client)}/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"
        f"/instances/{ds.SOPInstanceUID}"
    )


def _referenced(client: dicomfs.DICOMClient, datasets: list[Dataset]) -> list[dict[str, Any]]:
    return [
        {
            "00081150": {"vr": "UI", "Value": [str(ds.SOPClassUID)]},
            "00081155": {"vr": "UI", "Value": [str(ds.SOPInstanceUID)]},
            "00081190": {"vr": "UR", "Value": [_instance_url(client, ds)]},
        }
        for ds in datasets
    ]


def _failed(sop_class: str | None, sop: str | None, reason: int) -> dict[str, Any]:
    item: dict[str, Any] = {"00081197": {"vr": "US", "Value": [reason]}}
    item["00081150"] = {"vr": "UI", "Value": [sop_class]} if sop_class else {"vr": "UI"}
    item["00081155"] = {"vr": "UI", "Value": [sop]} if sop else {"vr": "UI"}
    return item


def _json(response: Dataset) -> dict[str, Any]:
    """The response as DICOM JSON, without SpecificCharacterSet (a server may add it)."""
    out = response.to_json_dict()
    out.pop("00080005", None)
    return out


def _dicomfs_policy(backend: str) -> None:
    """Skip where a test pins a dicomfs choice ([IMPL] items) other servers make otherwise."""
    if backend not in ("file", "served"):  # served: dicomfs's server over a file store
        pytest.skip(f"pins a dicomfs policy choice; {backend} chose otherwise")


#: FailureReason for a Study Instance UID mismatch (I-09 [IMPL]: each server picks its code).
MISMATCH = {"file": 43265, "orthanc": 272, "served": 43265}


def _sops(client: dicomfs.DICOMClient, **kwargs: Any) -> list[str]:
    found = client.search_for_instances(fields=["SOPInstanceUID"], **kwargs)
    return sorted(r["00080018"]["Value"][0] for r in found)


def _study_counts(client: dicomfs.DICOMClient, study: str) -> tuple[int, int, list[str]]:
    (row,) = client.search_for_studies(
        fields=["NumberOfStudyRelatedSeries", "NumberOfStudyRelatedInstances", "ModalitiesInStudy"],
        search_filters={"StudyInstanceUID": study},
    )
    return (
        row["00201206"]["Value"][0],
        row["00201208"]["Value"][0],
        sorted(row["00080061"]["Value"]),
    )


def test_store_one_study_response(writable_client: dicomfs.DICOMClient) -> None:
    """I-04: RetrieveURL of the study, one ReferencedSOPSequence item per instance, no
    FailedSOPSequence on success (never sent empty)."""
    datasets = [factories.make_instance(1, 1, i) for i in (1, 2, 3)]
    response = writable_client.store_instances(datasets)
    assert _json(response) == {
        "00081190": {"vr": "UR", "Value": [f"{_base(writable_client)}/studies/{STUDY1}"]},
        "00081199": {"vr": "SQ", "Value": _referenced(writable_client, datasets)},
    }
    assert "FailedSOPSequence" not in response


def test_store_several_studies_retrieve_url_empty(
    writable_client: dicomfs.DICOMClient, backend: str
) -> None:
    """I-04: RetrieveURL (Type 2) is present; dicomfs leaves it empty when the instances span
    several studies (Orthanc names the first study)."""
    datasets = factories.standard_datasets()
    response = writable_client.store_instances(datasets)
    got = _json(response)
    assert got["00081199"] == {"vr": "SQ", "Value": _referenced(writable_client, datasets)}
    assert "00081198" not in got
    if backend == "file":
        assert got["00081190"] == {"vr": "UR"}
    assert _sops(writable_client) == sorted(str(ds.SOPInstanceUID) for ds in datasets)


def test_stored_instance_searchable_and_retrievable_at_once(
    writable_client: dicomfs.DICOMClient,
) -> None:
    """I-17: searchable and retrievable as soon as the call returns; the RetrieveURL resolves."""
    ds = factories.make_instance(1, 1, 1, PatientName="NEW^ONE")
    response = writable_client.store_instances([ds])
    assert _sops(writable_client, study_instance_uid=STUDY1) == [str(ds.SOPInstanceUID)]
    got = writable_client.retrieve_instance(
        STUDY1, factories.series_uid(1, 1), factories.sop_uid(1, 1, 1)
    )
    assert str(got.PatientName) == "NEW^ONE"
    assert got.PixelData == ds.PixelData
    url = response.ReferencedSOPSequence[0].RetrieveURL
    assert url == _instance_url(writable_client, ds)


def test_study_mismatch_partial(writable_client: dicomfs.DICOMClient, backend: str) -> None:
    """I-09: with study_instance_uid=A, an instance of study B fails with 43265 (A901); the
    others are stored; I-06 FailureReason is a US number."""
    _dicomfs_policy(backend)  # Orthanc 1.10 answers 409 and an empty ReferencedSOPSequence
    good = factories.make_instance(1, 1, 1)
    other = factories.make_instance(2, 1, 1)
    response = writable_client.store_instances([good, other], study_instance_uid=STUDY1)
    assert _json(response) == {
        "00081190": {"vr": "UR", "Value": [f"{_base(writable_client)}/studies/{STUDY1}"]},
        "00081198": {
            "vr": "SQ",
            "Value": [_failed(CT, str(other.SOPInstanceUID), MISMATCH[backend])],
        },
        "00081199": {"vr": "SQ", "Value": _referenced(writable_client, [good])},
    }
    assert response.FailedSOPSequence[0]["FailureReason"].VR == "US"
    assert _sops(writable_client) == [str(good.SOPInstanceUID)]


def test_study_mismatch_only_is_conflict(
    writable_client: dicomfs.DICOMClient, backend: str
) -> None:
    """I-08/I-09: nothing stored because of a study mismatch: 409 with the response dataset."""
    other = factories.make_instance(2, 1, 1)
    with pytest.raises(ConflictError) as info:
        writable_client.store_instances([other], study_instance_uid=STUDY1)
    assert info.value.response.status_code == 409
    failed = {
        "vr": "SQ", "Value": [_failed(CT, str(other.SOPInstanceUID), MISMATCH[backend])]
    }
    assert _json(info.value.dataset)["00081198"] == failed
    _dicomfs_policy(backend)  # Orthanc 1.10 adds an empty ReferencedSOPSequence (I-04)
    assert _json(info.value.dataset) == {
        "00081190": {"vr": "UR"},  # Type 2, empty: nothing was stored in that study
        "00081198": {
            "vr": "SQ",
            "Value": [_failed(CT, str(other.SOPInstanceUID), MISMATCH[backend])],
        },
    }
    assert writable_client.search_for_instances() == []


@pytest.mark.parametrize(
    ("keyword", "value"),
    [
        ("SOPInstanceUID", None),
        ("SOPClassUID", None),
        ("StudyInstanceUID", None),
        ("SeriesInstanceUID", None),
        ("SeriesInstanceUID", "1.02.3"),
        ("StudyInstanceUID", "1.2.abc"),
    ],
)
@pytest.mark.needs("strict-validation")
def test_missing_or_malformed_uid_fails_c000(
    writable_client: dicomfs.DICOMClient, keyword: str, value: str | None
) -> None:
    """I-12: an instance without (or with a malformed) Study, Series, SOP Instance or SOP Class
    UID is rejected with C000 (49152, 'cannot understand', I-07); the good one is stored."""
    good = factories.make_instance(1, 1, 1)
    bad = factories.make_instance(1, 1, 2)
    if value is None:
        delattr(bad, keyword)
    else:
        with warnings.catch_warnings():  # pydicom warns about the malformed UI value
            warnings.simplefilter("ignore")
            setattr(bad, keyword, value)
    sop_uid = factories.sop_uid(1, 1, 2)
    response = writable_client.store_instances([good, bad])
    sop_class = factories.CT_IMAGE_STORAGE if keyword != "SOPClassUID" else None
    sop = sop_uid if keyword != "SOPInstanceUID" else None
    assert _json(response)["00081198"] == {
        "vr": "SQ", "Value": [_failed(sop_class, sop, 49152)]
    }
    assert _json(response)["00081199"] == {
        "vr": "SQ", "Value": _referenced(writable_client, [good])
    }
    assert _sops(writable_client) == [str(good.SOPInstanceUID)]


@pytest.mark.needs("strict-validation")
def test_not_a_dataset_fails(writable_client: dicomfs.DICOMClient, backend: str) -> None:
    """I-11: something that is not a data set is a failure C000; nothing stored -> 409."""
    if backend == "served":
        pytest.skip("a web client cannot send a non-dataset: it raises BadRequestError first")
    with pytest.raises(ConflictError) as info:
        writable_client.store_instances([{"not": "a dataset"}])  # type: ignore[list-item]
    assert _json(info.value.dataset) == {
        "00081190": {"vr": "UR"},
        "00081198": {"vr": "SQ", "Value": [_failed(None, None, 49152)]},
    }


@pytest.mark.parametrize("arg", [[], (), "1.2.3"])
def test_bad_arguments(writable_client: dicomfs.DICOMClient, arg: Any) -> None:
    """An empty request or a non-sequence is a bad request (400, a ValueError)."""
    with pytest.raises(BadRequestError):
        writable_client.store_instances(arg)


def test_single_dataset_instead_of_list(writable_client: dicomfs.DICOMClient) -> None:
    with pytest.raises(BadRequestError):
        writable_client.store_instances(factories.make_instance())  # type: ignore[arg-type]


@pytest.mark.parametrize("study", ["../x", "", "1.2.03"])
def test_malformed_study_argument(writable_client: dicomfs.DICOMClient, study: str) -> None:
    with pytest.raises(BadRequestError):
        writable_client.store_instances([factories.make_instance()], study_instance_uid=study)
    assert writable_client.search_for_instances() == []


def test_duplicate_store_replaces_without_duplicates(
    writable_client: dicomfs.DICOMClient, backend: str
) -> None:
    """I-10: storing an instance again replaces it (dicomfs policy, docs/stow.md): success
    without warning, no duplicate in QIDO, NumberOfStudyRelatedInstances unchanged."""
    datasets = [factories.make_instance(1, 1, i) for i in (1, 2)]
    writable_client.store_instances(datasets)
    assert _study_counts(writable_client, STUDY1) == (1, 2, ["CT"])
    again = factories.make_instance(1, 1, 1, PatientName="CHANGED^NAME")
    response = writable_client.store_instances([again])
    assert _json(response) == {
        "00081190": {"vr": "UR", "Value": [f"{_base(writable_client)}/studies/{STUDY1}"]},
        "00081199": {"vr": "SQ", "Value": _referenced(writable_client, [again])},
    }
    assert _study_counts(writable_client, STUDY1) == (1, 2, ["CT"])
    assert _sops(writable_client) == sorted(str(ds.SOPInstanceUID) for ds in datasets)
    _dicomfs_policy(backend)  # replace (Orthanc's default keeps the first copy)
    got = writable_client.retrieve_instance(
        STUDY1, factories.series_uid(1, 1), factories.sop_uid(1, 1, 1)
    )
    assert str(got.PatientName) == "CHANGED^NAME"


def test_duplicate_moved_to_other_series(
    writable_client: dicomfs.DICOMClient, backend: str
) -> None:
    """I-10: the same SOP Instance UID stored again under another series moves the instance."""
    _dicomfs_policy(backend)
    first = factories.make_instance(1, 1, 1)
    writable_client.store_instances([first])
    moved = factories.make_instance(1, 1, 1, SeriesInstanceUID=factories.series_uid(1, 2))
    writable_client.store_instances([moved])
    assert _study_counts(writable_client, STUDY1) == (1, 1, ["CT"])
    found = writable_client.search_for_instances(fields=["SeriesInstanceUID"])
    assert [r["0020000E"]["Value"][0] for r in found] == [factories.series_uid(1, 2)]


def test_same_sop_twice_in_one_request(writable_client: dicomfs.DICOMClient, backend: str) -> None:
    """I-10: within one request the last copy is kept; both are reported stored."""
    _dicomfs_policy(backend)
    a = factories.make_instance(1, 1, 1, PatientName="FIRST")
    b = factories.make_instance(1, 1, 1, PatientName="SECOND")
    response = writable_client.store_instances([a, b])
    assert len(response.ReferencedSOPSequence) == 2
    assert _study_counts(writable_client, STUDY1) == (1, 1, ["CT"])
    got = writable_client.retrieve_instance(
        STUDY1, factories.series_uid(1, 1), factories.sop_uid(1, 1, 1)
    )
    assert str(got.PatientName) == "SECOND"


def test_store_does_not_modify_input(writable_client: dicomfs.DICOMClient, backend: str) -> None:
    ds = factories.make_instance(1, 1, 1)
    ds.file_meta.ImplementationClassUID = "1.2.3.4"
    before = ds.to_json_dict()
    writable_client.store_instances([ds])
    assert ds.to_json_dict() == before
    assert ds.file_meta.ImplementationClassUID == "1.2.3.4"


def test_store_without_file_meta(writable_client: dicomfs.DICOMClient, backend: str) -> None:
    """A dataset without File Meta is stored (Explicit VR Little Endian) and retrievable."""
    ds = factories.make_instance(1, 1, 1)
    del ds.file_meta
    response = writable_client.store_instances([ds])
    assert "FailedSOPSequence" not in response
    got = writable_client.retrieve_instance(
        STUDY1, factories.series_uid(1, 1), factories.sop_uid(1, 1, 1)
    )
    assert got.PixelData == ds.PixelData


def test_stored_attributes_are_not_coerced(writable_client: dicomfs.DICOMClient) -> None:
    """I-13: dicomfs coerces nothing: the instance comes back with the attributes sent (no
    Original Attributes Sequence) and the response item has no WarningReason (0008,1196)."""
    ds = factories.make_instance(1, 1, 1, PatientName="Müller^Hans", ImageType=["A", "", "C"])
    ds["PixelData"].VR = "OW"
    response = writable_client.store_instances([ds])
    assert "WarningReason" not in response.ReferencedSOPSequence[0]
    got = writable_client.retrieve_instance(
        STUDY1, factories.series_uid(1, 1), factories.sop_uid(1, 1, 1)
    )
    assert "OriginalAttributesSequence" not in got
    assert got.to_json_dict() == ds.to_json_dict()
