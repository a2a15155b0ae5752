"""The public surface: the protocol's 22 methods, their signatures, the error tree, ``__all__``."""

from __future__ import annotations

import inspect
import pickle

import pytest
import requests
from dicomweb_client.protocol import DICOMClient as ReferenceProtocol

import dicomfs
from dicomfs import errors
from dicomfs.protocol import METHODS, DICOMClient


def test_all_is_the_documented_public_api() -> None:
    """API.md: the names dicomfs exports."""
    assert sorted(dicomfs.__all__) == [
        "DICOMClient",
        "DICOMfileClient",
        "DICOMwebClient",
        "__version__",
        "errors",
        "load_json_dataset",
        "session_utils",
    ]
    for name in (
        "create_session",
        "create_session_from_auth",
        "create_session_from_user_pass",
        "add_certs_to_session",
    ):
        assert callable(getattr(dicomfs.session_utils, name))


def test_protocol_has_the_22_methods() -> None:
    assert len(METHODS) == 22
    assert set(METHODS) == {
        name
        for name in dir(ReferenceProtocol)
        if not name.startswith("_") and callable(getattr(ReferenceProtocol, name))
    }


@pytest.mark.parametrize("name", METHODS)
def test_signature_matches_dicomweb_client(name: str) -> None:
    """L-01: same parameter names, order and defaults as dicomweb_client.protocol.DICOMClient."""
    ours = inspect.signature(getattr(DICOMClient, name)).parameters
    theirs = inspect.signature(getattr(ReferenceProtocol, name)).parameters
    ours_list = [(p.name, p.default) for p in ours.values() if p.name != "additional_params"]
    theirs_list = [(p.name, p.default) for p in theirs.values()]
    assert ours_list == theirs_list
    assert ours["additional_params"].default is None


@pytest.mark.parametrize("cls", [dicomfs.DICOMfileClient, dicomfs.DICOMwebClient])
def test_clients_implement_every_method(cls: type) -> None:
    assert issubclass(cls, DICOMClient)
    assert not getattr(cls, "__abstractmethods__", set())
    for name in METHODS:
        ours = inspect.signature(getattr(DICOMClient, name))
        theirs = inspect.signature(getattr(cls, name))
        assert [p.name for p in ours.parameters.values()] == [
            p.name for p in theirs.parameters.values()
        ], name
        assert [p.default for p in ours.parameters.values()] == [
            p.default for p in theirs.parameters.values()
        ], name


def test_lookup_helpers() -> None:
    assert DICOMClient.lookup_tag("SOPInstanceUID") == "00080018"
    assert DICOMClient.lookup_keyword("00080018") == "SOPInstanceUID"
    assert dicomfs.DICOMfileClient.lookup_tag("PatientName") == "00100010"
    with pytest.raises(KeyError):
        DICOMClient.lookup_tag("NotAKeyword")


@pytest.mark.parametrize(
    ("cls", "status", "bases"),
    [
        (errors.InvalidQueryError, 400, (errors.BadRequestError, ValueError)),
        (errors.BadRequestError, 400, (ValueError,)),
        (errors.ReadOnlyError, 403, ()),
        (errors.NotFoundError, 404, (LookupError,)),
        (errors.NotAcceptableError, 406, ()),
        (errors.ConflictError, 409, ()),
        (errors.UnsupportedError, 501, ()),
    ],
)
def test_error_tree(
    cls: type[errors.HTTPStatusError], status: int, bases: tuple[type, ...]
) -> None:
    """API.md errors / L-03: every error is a DicomfsError and a requests.HTTPError with a status."""
    err = cls("something is wrong")
    assert isinstance(err, errors.DicomfsError)
    assert isinstance(err, requests.HTTPError)
    for base in bases:
        assert isinstance(err, base)
    assert err.response is not None and err.response.status_code == status
    assert str(err) == "something is wrong"
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is cls and str(again) == "something is wrong"


def test_error_for_status() -> None:
    assert errors.error_for_status(404) is errors.NotFoundError
    assert errors.error_for_status(503) is errors.ServerError
    assert errors.error_for_status(410) is errors.NotFoundError


def test_conflict_carries_dataset() -> None:
    from pydicom.dataset import Dataset

    ds = Dataset()
    ds.RetrieveURL = "file:///x/studies/1.2"
    err = errors.ConflictError("nothing stored", dataset=ds)
    assert err.dataset is ds


#: Protocol methods that still raise UnsupportedError on the file client (none: all 22 are built).
UNSUPPORTED_ON_FILE_CLIENT: set[str] = set()


def test_which_methods_are_unsupported(tmp_path: object, standard_datasets: list) -> None:
    """Issue 2: every protocol method is called once; those raising UnsupportedError are listed."""
    import copy
    from pathlib import Path

    import factories

    root = Path(str(tmp_path)) / "store"
    client = dicomfs.DICOMfileClient(root)
    first = copy.deepcopy(standard_datasets[6])  # study 2, series 1, the 3-frame instance's sibling
    multi = copy.deepcopy(standard_datasets[7])
    client.store_instances([first, multi])
    study, series, sop = (
        factories.study_uid(2),
        factories.series_uid(2, 1),
        factories.sop_uid(2, 1, 2),
    )
    bulk = client.retrieve_instance_metadata(study, series, sop)["7FE00010"]["BulkDataURI"]
    calls = {
        "search_for_studies": lambda: client.search_for_studies(),
        "search_for_series": lambda: client.search_for_series(study),
        "search_for_instances": lambda: client.search_for_instances(study, series),
        "retrieve_study": lambda: client.retrieve_study(study),
        "iter_study": lambda: list(client.iter_study(study)),
        "retrieve_series": lambda: client.retrieve_series(study, series),
        "iter_series": lambda: list(client.iter_series(study, series)),
        "retrieve_instance": lambda: client.retrieve_instance(study, series, sop),
        "retrieve_study_metadata": lambda: client.retrieve_study_metadata(study),
        "retrieve_series_metadata": lambda: client.retrieve_series_metadata(study, series),
        "retrieve_instance_metadata": lambda: client.retrieve_instance_metadata(study, series, sop),
        "retrieve_instance_frames": lambda: client.retrieve_instance_frames(
            study, series, sop, [2]
        ),
        "iter_instance_frames": lambda: list(client.iter_instance_frames(study, series, sop, [1])),
        "retrieve_instance_rendered": lambda: client.retrieve_instance_rendered(study, series, sop),
        "retrieve_instance_frames_rendered": lambda: client.retrieve_instance_frames_rendered(
            study, series, sop, [3]
        ),
        "retrieve_series_rendered": lambda: client.retrieve_series_rendered(study, series),
        "retrieve_bulkdata": lambda: client.retrieve_bulkdata(bulk),
        "iter_bulkdata": lambda: list(client.iter_bulkdata(bulk)),
        "store_instances": lambda: client.store_instances([copy.deepcopy(first)]),
        "delete_instance": lambda: client.delete_instance(study, series, sop),
        "delete_series": lambda: client.delete_series(study, series),
        "delete_study": lambda: (
            client.store_instances([copy.deepcopy(first)]) and client.delete_study(study)
        ),
    }
    assert set(calls) == set(METHODS)
    unsupported = set()
    for name, call in calls.items():  # deletes last
        try:
            call()
        except errors.UnsupportedError:
            unsupported.add(name)
    client.close()
    assert unsupported == UNSUPPORTED_ON_FILE_CLIENT


@pytest.mark.parametrize("tag", ["PatientName", None, 2**40, -1, "zz", 1.5])
def test_lookup_keyword_of_no_tag_is_a_key_error(tag: object) -> None:
    """Anything that is no tag raises KeyError, as an unknown tag does (it raised ValueError,
    TypeError or OverflowError)."""
    import dicomfs

    with pytest.raises(KeyError):
        dicomfs.DICOMfileClient.lookup_keyword(tag)  # type: ignore[arg-type]
