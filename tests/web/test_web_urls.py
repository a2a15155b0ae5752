"""URLs and query strings of the web client (dicomfs.web.urls) and the constructor's URL checks."""

from __future__ import annotations

from typing import Any

import pytest

import dicomfs
from dicomfs.errors import BadRequestError, InvalidQueryError
from dicomfs.web.urls import ServiceURL, encode_query, search_params, validate_uid


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        ("DOE^JOHN", "DOE%5EJOHN"),  # not a URI character (RFC 3986)
        ("DOE*", "DOE*"),
        ("D?E", "D?E"),
        ("1.2.3,1.2.4", "1.2.3,1.2.4"),  # UID list: one comma-separated value
        ("20200101-20201231", "20200101-20201231"),
        ("A B", "A%20B"),
        ("A+B", "A%2BB"),  # a raw + would be read as a space
        ("100%", "100%25"),
        ("a&b=c", "a%26b%3Dc"),
        ("#x", "%23x"),
        ("Müller*", "M%C3%BCller*"),  # UTF-8 percent-encoded
    ],
)
def test_query_value_encoding(value: str, encoded: str) -> None:
    """Query values: RFC 3986 query characters raw, delimiters and the rest encoded (A-13/14)."""
    assert encode_query([("PatientName", value)]) == f"PatientName={encoded}"


def test_search_params_in_order_and_validated() -> None:
    """fuzzymatching, limit, offset, includefield (repeated, A-06) then the filters."""
    params = search_params(
        True, 10, 5, ["PatientAge", "00100040", "PatientAge"],
        {"PatientName": "DOE*", "0020000D": ["1.2.3", "1.2.4"], "SeriesNumber": 2},
        {"vendor": "x"},
    )
    assert params == [
        ("fuzzymatching", "true"), ("limit", "10"), ("offset", "5"),
        ("includefield", "PatientAge"), ("includefield", "00100040"),
        ("PatientName", "DOE*"), ("0020000D", "1.2.3,1.2.4"), ("SeriesNumber", "2"),
        ("vendor", "x"),
    ]
    assert search_params(None, None, None, ["all"], None) == [("includefield", "all")]
    assert search_params(False, 0, None, None, {"OtherPatientIDsSequence.PatientID": "X"}) == [
        ("fuzzymatching", "false"), ("limit", "0"), ("OtherPatientIDsSequence.PatientID", "X"),
    ]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"limit": -1}, {"offset": -5}, {"limit": "10"}, {"limit": True}, {"offset": 1.5},
        {"fuzzymatching": "yes"},
        {"fields": ["NotAKeyword"]}, {"fields": ["patientname"]},
        {"search_filters": {"patientid": "X"}},  # keywords are case-sensitive
        {"search_filters": {"0010002": "X"}},
        {"search_filters": {"PatientID": None}},
        {"search_filters": {"PatientID": True}},
        {"search_filters": {"PatientID": []}},
        {"search_filters": {"PatientID": ["A,B", "C"]}},
        {"search_filters": {"PatientID": {"a": 1}}},
        {"search_filters": ["PatientID"]},
    ],
)
def test_search_params_reject_bad_input(kwargs: dict[str, Any]) -> None:
    """Bad arguments raise InvalidQueryError before sending; no filter is dropped (A-04/A-05)."""
    args: dict[str, Any] = dict(
        fuzzymatching=None, limit=None, offset=None, fields=None, search_filters=None
    )
    args.update(kwargs)
    with pytest.raises(InvalidQueryError):
        search_params(**args)


@pytest.mark.parametrize(
    ("uid", "permissive", "ok"),
    [
        ("1.2.840.10008.1.2.1", False, True),
        ("1" * 64, False, True),
        ("1" * 65, False, False),
        ("1.2.", False, False),
        ("1..2", False, False),
        ("abc", False, False),
        ("abc-1.2", True, True),
        ("a/b", True, False),
        ("a@b", True, False),
        ("a?b", True, False),
        (123, False, False),
    ],
)
def test_validate_uid(uid: Any, permissive: bool, ok: bool) -> None:
    """UIDs are digits and dots (<= 64) unless permissive; never a path or query delimiter."""
    if ok:
        assert validate_uid(uid, permissive) == uid
    else:
        with pytest.raises(BadRequestError):
            validate_uid(uid, permissive)


def test_resource_urls_with_prefixes() -> None:
    """Per-service prefixes go between the base URL and the resource path."""
    urls = ServiceURL(
        "https://h:8443/dicomweb/", {"qido": "qidors", "wado": "/wadors/", "stow": None}, False
    )
    assert urls.resource("qido", level="studies") == "https://h:8443/dicomweb/qidors/studies"
    assert urls.resource("qido", "1.2", level="series") == (
        "https://h:8443/dicomweb/qidors/studies/1.2/series"
    )
    assert urls.resource("wado", "1.2", "3.4", "5.6") == (
        "https://h:8443/dicomweb/wadors/studies/1.2/series/3.4/instances/5.6"
    )
    assert urls.resource("stow", level="studies") == "https://h:8443/dicomweb/studies"
    with pytest.raises(BadRequestError, match="without the UIDs above it"):
        urls.resource("qido", None, "3.4", level="instances")


def test_client_attributes_match_dicomweb_client() -> None:
    """The constructor keeps dicomweb-client's attributes (L-01)."""
    client = dicomfs.DICOMwebClient(
        "https://example.org/prefix/dicom-web", qido_url_prefix="qidors",
        headers={"Authorization": "Bearer abc"},
    )
    assert (client.base_url, client.scheme, client.protocol, client.host, client.port) == (
        "https://example.org/prefix/dicom-web", "https", "https", "example.org", 443,
    )
    assert (client.url_prefix, client.qido_url_prefix, client.wado_url_prefix) == (
        "/prefix/dicom-web", "qidors", None,
    )
    assert client.session.headers["Authorization"] == "Bearer abc"
    client.close()


@pytest.mark.parametrize(
    ("url", "kwargs"),
    [
        ("ftp://host/dicom-web", {}),
        ("host/dicom-web", {}),
        ("http://host/dicom-web?x=1", {}),
        ("http://host", {"qido_url_prefix": ""}),
        ("http://host", {"chunk_size": 0}),
        ("http://host", {"session": object()}),
    ],
)
def test_constructor_rejects_bad_arguments(url: str, kwargs: dict[str, Any]) -> None:
    """A bad URL, an empty prefix or a bad chunk size is a ValueError (as in dicomweb-client)."""
    with pytest.raises(BadRequestError):
        dicomfs.DICOMwebClient(url, **kwargs)


def test_invalid_uids_raise_before_sending() -> None:
    """UIDs are validated before any URL is built (nothing listens on this port)."""
    client = dicomfs.DICOMwebClient("http://127.0.0.1:9/dicom-web")
    with pytest.raises(BadRequestError):
        client.retrieve_study("1.2/../3")
    with pytest.raises(BadRequestError):
        client.retrieve_instance("1.2", "3.4", None)  # type: ignore[arg-type]
    with pytest.raises(BadRequestError):
        client.retrieve_series_metadata("1.2", "x y")
    with pytest.raises(InvalidQueryError):
        client.retrieve_instance_frames("1.2", "3.4", "5.6", [0])
    with pytest.raises(InvalidQueryError):
        client.retrieve_bulkdata("http://127.0.0.1:9/bulk", byte_range=(5, 2))
    with pytest.raises(BadRequestError):
        client.store_instances(["/no/such/file.dcm"])
    with pytest.raises(BadRequestError):
        client.retrieve_study("1.2", media_types=("image/jpeg",))
    permissive = dicomfs.DICOMwebClient("http://127.0.0.1:9/dicom-web", permissive_uid=True)
    with pytest.raises(BadRequestError):
        permissive.retrieve_study("a/b")
    client.close()
    permissive.close()
