"""STOW-RS and DELETE over HTTP (CONFORMANCE I-01..I-17) against a writable served store."""

from __future__ import annotations

import io
from collections.abc import Iterator

import factories
import pydicom
import requests
from pydicom.dataset import Dataset

from server.httpkit import DICOM_ACCEPT, S1, get, instance_url, parts
from server.served import ServedStore

CT = factories.CT_IMAGE_STORAGE
STOW_TYPE = 'multipart/related; type="application/dicom"'


def _part10(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _body(contents: list[bytes], boundary: str = "b0undary") -> bytes:
    """dicomweb-client's layout (I-15): a CRLF preamble, parts with only a Content-Type."""
    out = b""
    for content in contents:
        out += f"\r\n--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode() + content
    return out + f"\r\n--{boundary}--".encode()


def _post(url: str, body: bytes | Iterator[bytes], content_type: str,
          accept: str | None = None) -> requests.Response:
    headers = {"Content-Type": content_type, "Accept": accept}
    return requests.post(url, data=body, headers=headers, timeout=30)


def _referenced(base: str, study: int, series: int, instance: int) -> dict[str, object]:
    return {
        "00081150": {"vr": "UI", "Value": [CT]},
        "00081155": {"vr": "UI", "Value": [factories.sop_uid(study, series, instance)]},
        "00081190": {"vr": "UR", "Value": [instance_url(base, study, series, instance)]},
    }


def _failed(study: int, series: int, instance: int, reason: int) -> dict[str, object]:
    return {
        "00081150": {"vr": "UI", "Value": [CT]},
        "00081155": {"vr": "UI", "Value": [factories.sop_uid(study, series, instance)]},
        "00081197": {"vr": "US", "Value": [reason]},
    }


def test_store_two_instances(writable: ServedStore) -> None:
    """I-01/I-04/I-08/I-15/I-16: quoted boundary, CRLF preamble, no part Content-Length, no
    Accept: 200 and exactly application/dicom+json; the instances are then searchable (I-17)."""
    body = _body([_part10(factories.make_instance(1, 1, 1)),
                  _part10(factories.make_instance(1, 1, 2))])
    response = _post(f"{writable.url}/studies", body, f'{STOW_TYPE}; boundary="b0undary"')
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/dicom+json"
    assert response.json() == {
        "00081190": {"vr": "UR", "Value": [f"{writable.url}/studies/{S1}"]},
        "00081199": {"vr": "SQ", "Value": [_referenced(writable.url, 1, 1, 1),
                                           _referenced(writable.url, 1, 1, 2)]},
    }
    retrieved = get(instance_url(writable.url, 1, 1, 2), accept=DICOM_ACCEPT)
    assert retrieved.status_code == 200


def test_store_chunked(writable: ServedStore) -> None:
    """I-15: Transfer-Encoding chunked, a body split at odd places."""
    body = _body([_part10(factories.make_instance(1, 1, n)) for n in (1, 2, 3)], "xyz")
    chunks = iter([body[i : i + 7] for i in range(0, len(body), 7)])
    response = _post(f"{writable.url}/studies/{S1}", chunks, f"{STOW_TYPE}; boundary=xyz")
    assert response.status_code == 200
    assert len(response.json()["00081199"]["Value"]) == 3
    assert len(writable.file_client.search_for_instances()) == 3


def test_study_mismatch_is_409(writable: ServedStore) -> None:
    """I-08/I-09: nothing stored because of the study: 409 with the response as DICOM JSON;
    RetrieveURL (Type 2) empty, since nothing was stored there (I-04)."""
    body = _body([_part10(factories.make_instance(2, 1, 1))])
    response = _post(f"{writable.url}/studies/{S1}", body, f"{STOW_TYPE}; boundary=b0undary")
    assert response.status_code == 409
    assert response.headers["Content-Type"] == "application/dicom+json"
    assert response.json() == {
        "00081190": {"vr": "UR"},
        "00081198": {"vr": "SQ", "Value": [_failed(2, 1, 1, 43265)]},
    }


def test_partial_store_is_202(writable: ServedStore) -> None:
    """I-08: some stored, some failed: 202 with both sequences."""
    body = _body([_part10(factories.make_instance(1, 1, 1)),
                  _part10(factories.make_instance(2, 1, 1))])
    response = _post(f"{writable.url}/studies/{S1}", body, f"{STOW_TYPE}; boundary=b0undary")
    assert response.status_code == 202
    assert response.json()["00081198"] == {"vr": "SQ", "Value": [_failed(2, 1, 1, 43265)]}
    assert response.json()["00081199"] == {"vr": "SQ",
                                           "Value": [_referenced(writable.url, 1, 1, 1)]}


def test_part_that_is_not_dicom(writable: ServedStore) -> None:
    """I-11: a part that is not DICOM and whose UIDs cannot be read makes the request a 400,
    and nothing of it is stored, not even the good parts beside it (I-08)."""
    mixed = _body([b"not dicom at all", _part10(factories.make_instance(1, 1, 1))])
    response = _post(f"{writable.url}/studies", mixed, f"{STOW_TYPE}; boundary=b0undary")
    assert response.status_code == 400
    assert "part 1 of the request is not a DICOM instance" in response.json()["message"]
    only_bad = _post(f"{writable.url}/studies", _body([b"garbage"]),
                     f"{STOW_TYPE}; boundary=b0undary")
    assert only_bad.status_code == 400
    assert writable.file_client.search_for_instances() == []


def test_part_with_uids_but_unreadable_data_is_c000(writable: ServedStore) -> None:
    """I-11: a part whose UIDs can be read but whose data set cannot is a C000 failure naming
    those UIDs (202 beside a good part; 400 alone, a syntax failure, I-08)."""
    good = _part10(factories.make_instance(1, 1, 1))
    broken_ds = factories.make_instance(1, 1, 2)
    broken = _part10(broken_ds)
    cut = broken.index(b"\x10\x00\x20\x00")  # PatientID: after the UIDs of group 0008
    broken = broken[:cut] + b"\x10\x00\x20\x00LO\xff\xff" + b"x" * 8  # a length past the end
    response = _post(f"{writable.url}/studies", _body([broken, good]),
                     f"{STOW_TYPE}; boundary=b0undary")
    assert response.status_code == 202, response.text
    assert response.json()["00081198"]["Value"] == [{
        "00081150": {"vr": "UI", "Value": [str(broken_ds.SOPClassUID)]},
        "00081155": {"vr": "UI", "Value": [str(broken_ds.SOPInstanceUID)]},
        "00081197": {"vr": "US", "Value": [49152]},
    }]
    alone = _post(f"{writable.url}/studies", _body([broken]), f"{STOW_TYPE}; boundary=b0undary")
    assert alone.status_code == 400
    assert "00081199" not in alone.json() and alone.json()["00081190"] == {"vr": "UR"}
    assert len(writable.file_client.search_for_instances()) == 1


def test_truncated_body_stores_nothing(writable: ServedStore) -> None:
    """I-08: a body cut short after many parts (more than one batch) is a 400 and nothing of
    it is stored: the parts are spooled until the closing delimiter has arrived."""
    parts = [_part10(factories.make_instance(1, 1, n)) for n in range(1, 40)]
    body = _body(parts)
    truncated = body[: body.rindex(b"--b0undary")]  # no closing delimiter
    response = _post(f"{writable.url}/studies", truncated, f"{STOW_TYPE}; boundary=b0undary")
    assert response.status_code == 400
    assert writable.file_client.search_for_instances() == []


def test_unsupported_content_types_are_415(writable: ServedStore) -> None:
    """I-03: text/plain, or another multipart type (metadata+bulk data is not supported)."""
    body = _body([_part10(factories.make_instance())])
    assert _post(f"{writable.url}/studies", body, "text/plain").status_code == 415
    json_type = 'multipart/related; type="application/dicom+json"; boundary=b0undary'
    assert _post(f"{writable.url}/studies", body, json_type).status_code == 415
    assert writable.file_client.search_for_instances() == []


def test_malformed_requests_are_400(writable: ServedStore) -> None:
    body = _body([_part10(factories.make_instance())])
    assert _post(f"{writable.url}/studies", body, STOW_TYPE).status_code == 400  # no boundary
    wrong = _post(f"{writable.url}/studies", body, f"{STOW_TYPE}; boundary=other")
    assert wrong.status_code == 400
    assert _post(f"{writable.url}/studies/1.2.abc", body,
                 f"{STOW_TYPE}; boundary=b0undary").status_code == 400


def test_stow_accept(writable: ServedStore) -> None:
    """I-04: the response is DICOM JSON; a request accepting only XML gets 406."""
    body = _body([_part10(factories.make_instance())])
    content_type = f"{STOW_TYPE}; boundary=b0undary"
    assert _post(f"{writable.url}/studies", body, content_type,
                 accept="application/dicom+xml").status_code == 406
    assert _post(f"{writable.url}/studies", body, content_type,
                 accept="application/json").status_code == 200


def test_keep_alive_after_store(writable: ServedStore) -> None:
    """The connection stays usable after a STOW request (its epilogue is read)."""
    body = _body([_part10(factories.make_instance())]) + b"\r\nepilogue"
    with requests.Session() as session:
        for _ in range(2):
            response = session.post(
                f"{writable.url}/studies", data=body, timeout=30,
                headers={"Content-Type": f"{STOW_TYPE}; boundary=b0undary"},
            )
            assert response.status_code == 200


def test_delete(writable: ServedStore) -> None:
    """DELETE instance, series, study: 204, then the resources are gone (404 / 204 search)."""
    datasets = [factories.make_instance(1, se, i) for se in (1, 2) for i in (1, 2)]
    writable.file_client.store_instances(datasets)
    base = writable.url
    series2 = f"{base}/studies/{S1}/series/{factories.series_uid(1, 2)}"
    assert requests.delete(instance_url(base, 1, 1, 1), timeout=30).status_code == 204
    assert get(instance_url(base, 1, 1, 1), accept=DICOM_ACCEPT).status_code == 404
    assert requests.delete(series2, timeout=30).status_code == 204
    assert get(f"{base}/studies/{S1}/series/{factories.series_uid(1, 2)}/instances").status_code \
        == 204
    assert requests.delete(f"{base}/studies/{S1}", timeout=30).status_code == 204
    assert get(f"{base}/studies").status_code == 204
    assert requests.delete(f"{base}/studies/{S1}", timeout=30).status_code == 404


def test_read_only_store_is_403(served: ServedStore) -> None:
    """L-03: STOW and DELETE on a read-only store are 403."""
    body = _body([_part10(factories.make_instance(7, 1, 1))])
    response = _post(f"{served.url}/studies", body, f"{STOW_TYPE}; boundary=b0undary")
    assert response.status_code == 403
    assert requests.delete(f"{served.url}/studies/{S1}", timeout=30).status_code == 403


def test_large_request_in_batches(writable: ServedStore) -> None:
    """More parts than one batch: every instance is stored and reported once."""
    datasets = [factories.make_instance(1, 1, n) for n in range(1, 41)]
    response = _post(f"{writable.url}/studies", _body([_part10(d) for d in datasets]),
                     f"{STOW_TYPE}; boundary=b0undary")
    assert response.status_code == 200
    stored = [item["00081155"]["Value"][0] for item in response.json()["00081199"]["Value"]]
    assert stored == [str(d.SOPInstanceUID) for d in datasets]
    retrieved = parts(get(f"{writable.url}/studies/{S1}", accept=DICOM_ACCEPT))
    assert [pydicom.dcmread(io.BytesIO(p.content)).SOPInstanceUID for p in retrieved] == stored
