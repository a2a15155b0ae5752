"""Delete studies, series and instances (dicomweb-client's delete_* methods), on every backend."""

from __future__ import annotations

import factories
import pytest

import dicomfs
from dicomfs.errors import BadRequestError, NotFoundError

pytestmark = pytest.mark.needs("delete")

S1 = factories.study_uid(1)


def _studies(client: dicomfs.DICOMClient) -> dict[str, tuple[int, int, list[str]]]:
    rows = client.search_for_studies(
        fields=["NumberOfStudyRelatedSeries", "NumberOfStudyRelatedInstances", "ModalitiesInStudy"]
    )
    return {
        r["0020000D"]["Value"][0]: (
            r["00201206"]["Value"][0],
            r["00201208"]["Value"][0],
            sorted(r["00080061"]["Value"]),
        )
        for r in rows
    }


@pytest.fixture
def loaded(writable_client: dicomfs.DICOMClient) -> dicomfs.DICOMClient:
    writable_client.store_instances(factories.standard_datasets())
    return writable_client


def test_delete_instance_updates_counts(loaded: dicomfs.DICOMClient) -> None:
    """Counts are computed from what is left (C-07 NumberOfStudyRelatedInstances)."""
    assert _studies(loaded)[S1] == (3, 6, ["CT", "SEG"])
    loaded.delete_instance(S1, factories.series_uid(1, 1), factories.sop_uid(1, 1, 2))
    assert _studies(loaded)[S1] == (3, 5, ["CT", "SEG"])
    with pytest.raises(NotFoundError):
        loaded.retrieve_instance(S1, factories.series_uid(1, 1), factories.sop_uid(1, 1, 2))
    got = loaded.retrieve_instance(S1, factories.series_uid(1, 1), factories.sop_uid(1, 1, 1))
    assert got.SOPInstanceUID == factories.sop_uid(1, 1, 1)


def test_delete_series_updates_modalities(loaded: dicomfs.DICOMClient) -> None:
    """ModalitiesInStudy (C-08) loses SEG once the SEG series is gone."""
    loaded.delete_series(S1, factories.series_uid(1, 3))
    assert _studies(loaded)[S1] == (2, 5, ["CT"])
    assert loaded.search_for_series(S1, search_filters={"Modality": "SEG"}) == []


def test_delete_last_instance_removes_series_and_study(loaded: dicomfs.DICOMClient) -> None:
    s3 = factories.study_uid(3)
    loaded.delete_instance(s3, factories.series_uid(3, 1), factories.sop_uid(3, 1, 1))
    assert s3 not in _studies(loaded)
    assert loaded.search_for_series(s3) == []
    assert len(_studies(loaded)) == 4


def test_delete_study(loaded: dicomfs.DICOMClient) -> None:
    loaded.delete_study(S1)
    assert sorted(_studies(loaded)) == sorted(factories.study_uid(n) for n in (2, 3, 4, 5))
    assert loaded.search_for_instances(S1) == []
    with pytest.raises(NotFoundError):
        loaded.retrieve_study(S1)


@pytest.mark.parametrize(
    "target",
    [
        (factories.study_uid(9),),
        (S1, factories.series_uid(1, 9)),
        (S1, factories.series_uid(1, 1), factories.sop_uid(1, 1, 9)),
        (S1, factories.series_uid(2, 1), factories.sop_uid(2, 1, 1)),  # wrong hierarchy
        (factories.study_uid(2), factories.series_uid(1, 1)),
    ],
)
def test_delete_unknown_is_404(loaded: dicomfs.DICOMClient, target: tuple[str, ...]) -> None:
    method = {1: loaded.delete_study, 2: loaded.delete_series, 3: loaded.delete_instance}
    with pytest.raises(NotFoundError) as info:
        method[len(target)](*target)
    assert info.value.response.status_code == 404
    assert sum(v[1] for v in _studies(loaded).values()) == 12


@pytest.mark.parametrize("uid", ["..", "../1.2", "/etc", "1.02", "", "1" * 65])
def test_delete_malformed_uid_is_400(loaded: dicomfs.DICOMClient, uid: str) -> None:
    with pytest.raises(BadRequestError):
        loaded.delete_study(uid)
    with pytest.raises(BadRequestError):
        loaded.delete_instance(S1, factories.series_uid(1, 1), uid)
    assert sum(v[1] for v in _studies(loaded).values()) == 12


def test_delete_twice(loaded: dicomfs.DICOMClient) -> None:
    loaded.delete_series(S1, factories.series_uid(1, 2))
    with pytest.raises(NotFoundError):
        loaded.delete_series(S1, factories.series_uid(1, 2))


def test_store_again_after_delete(loaded: dicomfs.DICOMClient) -> None:
    """A deleted instance can be stored again (I-10 counts stay exact)."""
    loaded.delete_study(S1)
    again = [ds for ds in factories.standard_datasets() if ds.StudyInstanceUID == S1]
    loaded.store_instances(again)
    assert _studies(loaded)[S1] == (3, 6, ["CT", "SEG"])


@pytest.mark.parametrize("bad", [None, 1, b"1.2", ["1.2"], "1.2/../3"])
def test_delete_with_a_missing_or_hostile_uid_deletes_nothing(
    loaded: dicomfs.DICOMClient, backend: str, bad: object
) -> None:
    """delete_series(study, None) must not delete the study, nor delete_instance(study, series,
    None) the series: a UID missing for the level, or not a UID string, is 400."""
    if backend != "file":
        pytest.skip("checks DICOMfileClient's argument validation")
    for call in (
        lambda: loaded.delete_study(bad),
        lambda: loaded.delete_series(S1, bad),
        lambda: loaded.delete_instance(S1, factories.series_uid(1, 1), bad),
    ):
        with pytest.raises(BadRequestError):
            call()
    assert sum(v[1] for v in _studies(loaded).values()) == 12
