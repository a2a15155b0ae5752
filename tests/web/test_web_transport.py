"""The web client's HTTP behaviour against a scripted local server: retries, errors, paging,
multipart responses, STOW bodies and responses, sessions."""

from __future__ import annotations

import io
import json
import logging
import pickle
from pathlib import Path

import factories
import pydicom
import pytest
import requests
from peers.scripted import ScriptedServer

import dicomfs
from dicomfs import session_utils
from dicomfs.errors import (
    BadRequestError,
    ConflictError,
    HTTPStatusError,
    InvalidQueryError,
    NotAcceptableError,
    NotFoundError,
    ReadOnlyError,
    ServerError,
    UnsupportedError,
)
from dicomfs.web.multipart import encode_multipart, iter_parts, parse_media_type
from dicomfs.web.transport import TransportError, parse_retry_after

JSON = "application/dicom+json"
STUDY = {"0020000D": {"vr": "UI", "Value": ["1.2.3"]}}


def make_client(server: ScriptedServer, **kwargs: object) -> dicomfs.DICOMwebClient:
    client = dicomfs.DICOMwebClient(server.url + "/dicom-web", **kwargs)  # type: ignore[arg-type]
    client.set_http_retry_params(wait_exponential_multiplier=1)
    return client


def record_sleeps(client: dicomfs.DICOMwebClient) -> list[float]:
    sleeps: list[float] = []
    client._transport.sleep = sleeps.append
    return sleeps


@pytest.mark.parametrize("status", [429, 408, 503, 504])
def test_retriable_statuses_are_retried_with_exponential_backoff(
    scripted: ScriptedServer, status: int
) -> None:
    """429/408/503/504 are retried, waiting multiplier * 2**attempt ms each time."""
    client = make_client(scripted)
    client.set_http_retry_params(wait_exponential_multiplier=10)
    sleeps = record_sleeps(client)
    scripted.reply(status)
    scripted.reply(status)
    scripted.reply(200, json.dumps([STUDY]).encode(), Content_Type=JSON)
    assert client.search_for_studies() == [STUDY]
    assert sleeps == [0.02, 0.04]
    assert len(scripted.received) == 3


def test_retry_after_is_honoured(scripted: ScriptedServer) -> None:
    """A Retry-After header replaces the back-off delay."""
    client = make_client(scripted)
    sleeps = record_sleeps(client)
    scripted.reply(503, Retry_After="7")
    scripted.reply(429, Retry_After="Wed, 21 Oct 2015 07:28:00 GMT")  # in the past: no wait
    scripted.reply(200, b"[]", Content_Type=JSON)
    assert client.search_for_studies() == []
    assert sleeps == [7.0, 0.0]
    assert parse_retry_after("soon") is None


def test_retries_stop_after_max_attempts_and_raise_the_mapped_error(
    scripted: ScriptedServer,
) -> None:
    """After max_attempts the last response's error is raised (503 -> ServerError)."""
    client = make_client(scripted)
    client.set_http_retry_params(max_attempts=3, wait_exponential_multiplier=1)
    sleeps = record_sleeps(client)
    for _ in range(4):
        scripted.reply(503, b'{"Details": "busy"}')
    with pytest.raises(ServerError, match="busy") as info:
        client.search_for_studies()
    assert info.value.response.status_code == 503
    assert len(scripted.received) == 3 and len(sleeps) == 2


def test_no_retry_when_disabled_or_not_retriable(scripted: ScriptedServer) -> None:
    """retry=False sends once; a 500 is never retried."""
    client = make_client(scripted)
    client.set_http_retry_params(retry=False)
    scripted.reply(503)
    with pytest.raises(ServerError):
        client.search_for_studies()
    client.set_http_retry_params(wait_exponential_multiplier=1)
    scripted.reply(500)
    with pytest.raises(ServerError):
        client.search_for_studies()
    assert len(scripted.received) == 2


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, InvalidQueryError),
        (403, ReadOnlyError),
        (404, NotFoundError),
        (406, NotAcceptableError),
        (405, UnsupportedError),
        (410, NotFoundError),
        (501, UnsupportedError),
        (502, ServerError),
        (401, HTTPStatusError),
    ],
)
def test_statuses_map_to_the_file_clients_errors(
    scripted: ScriptedServer, status: int, error: type[Exception]
) -> None:
    """HTTP errors raise the dicomfs.errors classes, carrying the real response (L-03)."""
    client = make_client(scripted)
    scripted.reply(status, b'{"Details": "explained"}', Content_Type="application/json")
    with pytest.raises(error, match="explained") as info:
        client.search_for_series("1.2.3")
    assert isinstance(info.value, requests.HTTPError)
    assert info.value.response.status_code == status
    assert info.value.response.url == scripted.url + "/dicom-web/studies/1.2.3/series"


def test_400_outside_searches_is_a_bad_request(scripted: ScriptedServer) -> None:
    """A 400 on a retrieve is a BadRequestError (not an InvalidQueryError)."""
    client = make_client(scripted)
    scripted.reply(400)
    with pytest.raises(BadRequestError) as info:
        client.retrieve_study_metadata("1.2.3")
    assert not isinstance(info.value, InvalidQueryError)


def test_warning_299_is_logged_not_warned(
    scripted: ScriptedServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The Warning header (D-02) is logged through logging, never as a Python warning."""
    client = make_client(scripted)
    warning = '299 orthanc "There are 15 additional results that can be requested"'
    scripted.reply(200, b"[]", Content_Type=JSON, Warning=warning)
    with caplog.at_level(logging.WARNING, logger="dicomfs.web"):
        assert client.search_for_studies(limit=10) == []
    assert [r.getMessage().split("Warning: ")[1] for r in caplog.records] == [warning]


def test_get_remaining_pages_until_an_empty_page(scripted: ScriptedServer) -> None:
    """get_remaining requests offset += page size until an empty page (D-06)."""
    client = make_client(scripted)
    pages = [[{"n": {"vr": "IS", "Value": [i]}} for i in range(k, k + 2)] for k in (0, 2)]
    scripted.reply(200, json.dumps(pages[0]).encode(), Content_Type=JSON)
    scripted.reply(200, json.dumps(pages[1]).encode(), Content_Type=JSON)
    scripted.reply(204)
    found = client.search_for_instances(limit=2, offset=0, get_remaining=True)
    assert [r["n"]["Value"][0] for r in found] == [0, 1, 2, 3]
    assert [r.path.split("?")[1] for r in scripted.received] == [
        "limit=2&offset=0", "limit=2&offset=2", "limit=2&offset=4",
    ]


def test_get_remaining_stops_when_the_server_ignores_offset(scripted: ScriptedServer) -> None:
    """A server that repeats the same page would loop forever: ServerError instead."""
    client = make_client(scripted)
    for _ in range(2):
        scripted.reply(200, json.dumps([STUDY]).encode(), Content_Type=JSON)
    with pytest.raises(ServerError, match="ignores offset"):
        client.search_for_studies(get_remaining=True)


def test_query_string_is_sent_raw_where_safe(scripted: ScriptedServer) -> None:
    """``*`` and ``,`` travel raw; ``^``, spaces and ``+`` are percent-encoded (A-11, A-13)."""
    client = make_client(scripted)
    scripted.reply(200, b"[]", Content_Type=JSON)
    client.search_for_studies(
        search_filters={"PatientName": "DOE^J*", "StudyInstanceUID": ["1.2", "1.3"],
                        "PatientID": "A B+"},
        fields=["PatientAge"],
    )
    assert scripted.received[0].path == (
        "/dicom-web/studies?includefield=PatientAge&PatientName=DOE%5EJ*"
        "&StudyInstanceUID=1.2,1.3&PatientID=A%20B%2B"
    )
    assert scripted.received[0].headers["accept"] == "application/dicom+json, application/json"


def multipart_reply(parts: list[bytes], content_type: str) -> tuple[bytes, str]:
    boundary = "srv-boundary-123"
    body = b"".join(
        encode_multipart(
            (({"Content-Type": content_type, "Content-Length": str(len(p))}, [p]) for p in parts),
            boundary, preamble=b"ignored preamble", epilogue=b"ignored epilogue",
        )
    )
    return body, f'multipart/related; type="{content_type}"; boundary="{boundary}"'


def part10(ds: pydicom.Dataset) -> bytes:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def test_iter_study_streams_multipart_instances(scripted: ScriptedServer) -> None:
    """Instances come one part at a time, whatever the boundary quoting (E-02, E-12, K-03)."""
    client = make_client(scripted, chunk_size=7)
    datasets = [factories.make_instance(1, 1, i) for i in (1, 2, 3)]
    body, content_type = multipart_reply([part10(d) for d in datasets], "application/dicom")
    scripted.reply(200, body, Content_Type=content_type)
    got = client.iter_study(factories.study_uid(1))
    assert [d.SOPInstanceUID for d in got] == [d.SOPInstanceUID for d in datasets]
    request = scripted.received[0]
    assert request.path == f"/dicom-web/studies/{factories.study_uid(1)}"
    assert request.headers["accept"] == (
        'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.1'
    )


def test_single_part_instance_response_is_tolerated(
    scripted: ScriptedServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A bare application/dicom body (not multipart) is read as one instance, with a log."""
    client = make_client(scripted)
    ds = factories.make_instance(1, 1, 1)
    scripted.reply(200, part10(ds), Content_Type="application/dicom")
    with caplog.at_level(logging.WARNING, logger="dicomfs.web"):
        got = client.retrieve_instance(ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID)
    assert got.SOPInstanceUID == ds.SOPInstanceUID
    assert "expected multipart/related" in caplog.text


def test_non_dicom_part_raises_server_error(scripted: ScriptedServer) -> None:
    """A part that is not DICOM raises ServerError rather than returning garbage."""
    client = make_client(scripted)
    body, content_type = multipart_reply([b"not dicom"], "application/dicom")
    scripted.reply(200, body, Content_Type=content_type)
    with pytest.raises(ServerError, match="part 1"):
        client.retrieve_study("1.2.3")


def test_frames_and_bulkdata(scripted: ScriptedServer) -> None:
    """Frames come in the requested order; a byte range the server ignored is applied locally."""
    client = make_client(scripted)
    body, content_type = multipart_reply([b"frame3", b"frame1"], "application/octet-stream")
    scripted.reply(200, body, Content_Type=content_type)
    assert client.retrieve_instance_frames("1.2", "3.4", "5.6", [3, 1]) == [b"frame3", b"frame1"]
    assert scripted.received[0].path == "/dicom-web/studies/1.2/series/3.4/instances/5.6/frames/3,1"
    body, content_type = multipart_reply([b"0123456789"], "application/octet-stream")
    scripted.reply(200, body, Content_Type=content_type)
    bulk_url = scripted.url + "/dicom-web/studies/1.2/series/3.4/instances/5.6/bulk/7fe00010"
    assert client.retrieve_bulkdata(bulk_url, byte_range=(2, 5)) == [b"2345"]
    assert scripted.received[1].headers["range"] == "bytes=2-5"
    scripted.reply(206, b"2345", Content_Type="application/octet-stream")
    assert list(client.iter_bulkdata(bulk_url, byte_range=(2, 5))) == [b"2345"]


def test_rendered_sends_accept_and_params(scripted: ScriptedServer) -> None:
    """Rendered: single-part Accept, params in the query."""
    client = make_client(scripted)
    scripted.reply(200, b"\x89PNG", Content_Type="image/png")
    png = client.retrieve_instance_rendered(
        "1.2", "3.4", "5.6", media_types=("image/png",), params={"viewport": "64,64"}
    )
    assert png == b"\x89PNG"
    assert scripted.received[0].path.endswith("/instances/5.6/rendered?viewport=64,64")
    assert scripted.received[0].headers["accept"] == "image/png"


STOW_OK = {
    "00081190": {"vr": "UR", "Value": ["http://x/studies/1.2"]},
    "00081198": {"vr": "SQ"},
    "00081199": {"vr": "SQ", "Value": [{"00081155": {"vr": "UI", "Value": ["5.6"]}}]},
}


@pytest.mark.parametrize("chunk_size", [10**6, 100])
def test_stow_body_is_multipart_with_a_random_boundary(
    scripted: ScriptedServer, tmp_path: Path, chunk_size: int
) -> None:
    """STOW sends one Part10 instance per part (I-01), chunked when larger than chunk_size
    (I-15), from datasets and from files; an empty FailedSOPSequence is dropped (I-04)."""
    client = make_client(scripted, chunk_size=chunk_size)
    ds = factories.make_instance(1, 1, 1)
    path = tmp_path / "file.dcm"
    other = factories.make_instance(1, 1, 2)
    other.save_as(path, enforce_file_format=True)
    scripted.reply(200, json.dumps(STOW_OK).encode(), Content_Type=JSON + "; charset=utf-8")
    response = client.store_instances([ds, path], study_instance_uid=factories.study_uid(1))
    assert response.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == "5.6"
    assert "FailedSOPSequence" not in response
    request = scripted.received[0]
    assert request.path == f"/dicom-web/studies/{factories.study_uid(1)}"
    media_type, params = parse_media_type(request.headers["content-type"])
    assert (media_type, params["type"]) == ("multipart/related", "application/dicom")
    assert params["boundary"].startswith("dicomfs-") and len(params["boundary"]) == 40
    chunked = request.headers.get("transfer-encoding") == "chunked"
    assert chunked is (chunk_size == 100)
    parts = list(iter_parts([request.body], params["boundary"]))
    assert [p.content_type for p in parts] == ["application/dicom"] * 2
    assert [pydicom.dcmread(io.BytesIO(p.content)).SOPInstanceUID for p in parts] == [
        ds.SOPInstanceUID, other.SOPInstanceUID,
    ]
    assert parts[1].content == path.read_bytes()


def test_stow_retry_resends_the_whole_body(scripted: ScriptedServer) -> None:
    """A retried STOW regenerates its streamed body."""
    client = make_client(scripted, chunk_size=100)
    record_sleeps(client)
    scripted.reply(503)
    scripted.reply(200, json.dumps(STOW_OK).encode(), Content_Type=JSON)
    client.store_instances([factories.make_instance(1, 1, 1)])
    assert scripted.received[0].body == scripted.received[1].body
    assert len(scripted.received[1].body) > 100


def test_stow_conflict_carries_the_response_dataset(scripted: ScriptedServer) -> None:
    """409 raises ConflictError with .dataset parsed from the body (I-08, I-09)."""
    client = make_client(scripted)
    failed = {"00081198": {"vr": "SQ", "Value": [{
        "00081155": {"vr": "UI", "Value": ["5.6"]},
        "00081197": {"vr": "US", "Value": [43265]},
    }]}}
    scripted.reply(409, json.dumps(failed).encode())  # Orthanc sends no Content-Type
    with pytest.raises(ConflictError) as info:
        client.store_instances([factories.make_instance(1, 1, 1)], study_instance_uid="9.9")
    assert info.value.response.status_code == 409
    assert info.value.dataset.FailedSOPSequence[0].FailureReason == 43265


def test_stow_xml_response(scripted: ScriptedServer) -> None:
    """A DICOM XML (PS3.19) STOW response is parsed too."""
    client = make_client(scripted)
    xml = b"""<?xml version="1.0" encoding="utf-8"?>
<NativeDicomModel xmlns="http://dicom.nema.org/PS3.19/models/NativeDICOM">
  <DicomAttribute tag="00081190" vr="UR" keyword="RetrieveURL"><Value number="1">http://x/s</Value>
  </DicomAttribute>
  <DicomAttribute tag="00081198" vr="SQ" keyword="FailedSOPSequence">
    <Item number="1">
      <DicomAttribute tag="00081155" vr="UI"><Value number="1">5.6</Value></DicomAttribute>
      <DicomAttribute tag="00081197" vr="US"><Value number="1">272</Value></DicomAttribute>
    </Item>
  </DicomAttribute>
  <DicomAttribute tag="00100010" vr="PN"><PersonName number="1"><Alphabetic>
    <FamilyName>DOE</FamilyName><GivenName>JOHN</GivenName></Alphabetic></PersonName>
  </DicomAttribute>
</NativeDicomModel>"""
    scripted.reply(202, xml, Content_Type="application/dicom+xml")
    response = client.store_instances([factories.make_instance(1, 1, 1)])
    assert response.RetrieveURL == "http://x/s"
    assert response.FailedSOPSequence[0].FailureReason == 272
    assert response.PatientName == "DOE^JOHN"


def test_delete_405_is_unsupported(scripted: ScriptedServer) -> None:
    """A server without DICOMweb DELETE (405, Orthanc) raises UnsupportedError."""
    client = make_client(scripted, delete_url_prefix="del")
    scripted.reply(405)
    with pytest.raises(UnsupportedError) as info:
        client.delete_series("1.2", "3.4")
    assert info.value.response.status_code == 405
    scripted.reply(204)
    client.delete_instance("1.2", "3.4", "5.6", additional_params={"force": True})
    assert [(r.method, r.path) for r in scripted.received] == [
        ("DELETE", "/dicom-web/del/studies/1.2/series/3.4"),
        ("DELETE", "/dicom-web/del/studies/1.2/series/3.4/instances/5.6?force=true"),
    ]


def test_connection_failure_is_a_dicomfs_error() -> None:
    """An unreachable server raises TransportError: a ServerError and a requests.ConnectionError."""
    client = dicomfs.DICOMwebClient("http://127.0.0.1:9/dicom-web", timeout=2)
    with pytest.raises(TransportError) as info:
        client.search_for_studies()
    assert isinstance(info.value, requests.ConnectionError)
    assert isinstance(info.value, dicomfs.errors.DicomfsError)
    client.close()


def test_headers_auth_callback_and_pickling(scripted: ScriptedServer) -> None:
    """Headers and basic auth go with every request; callbacks see responses; pickling works."""
    seen: list[int] = []
    session = session_utils.create_session_from_user_pass("u", "p")
    client = make_client(
        scripted, session=session, headers={"X-Token": "t"},
        callback=lambda r, *a, **k: seen.append(r.status_code),
    )
    scripted.reply(200, b"[]", Content_Type=JSON)
    client.search_for_studies()
    headers = scripted.received[0].headers
    assert headers["x-token"] == "t"
    assert headers["authorization"] == "Basic dTpw"
    assert seen == [200]
    plain = make_client(scripted, headers={"Authorization": "Bearer abc"})
    clone = pickle.loads(pickle.dumps(plain))
    scripted.reply(200, b"[]", Content_Type=JSON)
    assert clone.search_for_studies() == []
    assert scripted.received[1].headers["authorization"] == "Bearer abc"
    for c in (client, plain, clone):
        c.close()


def test_session_utils(tmp_path: Path) -> None:
    """session_utils builds sessions as dicomweb-client's does."""
    auth = requests.auth.HTTPDigestAuth("u", "p")
    assert session_utils.create_session_from_auth(auth).auth is auth
    assert session_utils.create_session().auth is None
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    session = session_utils.add_certs_to_session(session_utils.create_session(), str(ca), str(ca))
    assert (session.verify, session.cert) == (str(ca), str(ca))
    with pytest.raises(OSError, match="does not exist"):
        session_utils.add_certs_to_session(session, str(tmp_path / "missing.pem"))


def test_stow_redirected_307_resends_the_whole_streamed_body(scripted: ScriptedServer) -> None:
    """A streamed STOW (body over chunk_size) redirected with 307 went again with an empty body,
    and the call reported success; the body is made again for every send now."""
    client = make_client(scripted, chunk_size=100)
    scripted.reply(307, Location=f"{scripted.url}/other/studies", Content_Length="0")
    scripted.reply(200, json.dumps(STOW_OK).encode(), Content_Type=JSON)
    client.store_instances([factories.make_instance(1, 1, 1)])
    first, second = scripted.received
    assert second.path == "/other/studies"
    assert len(first.body) > 100 and second.body == first.body


def test_get_remaining_stops_when_pages_alternate(scripted: ScriptedServer) -> None:
    """D-06: a server ignoring offset that alternates two pages looped for ever (only the
    previous page was compared): a page with nothing new raises ServerError."""
    client = make_client(scripted)
    pages = [[{"n": {"vr": "IS", "Value": [i]}}] for i in (1, 2)]
    for page in (*pages, *pages):
        scripted.reply(200, json.dumps(page).encode(), Content_Type=JSON)
    with pytest.raises(ServerError, match="ignores offset"):
        client.search_for_studies(get_remaining=True)
    assert len(scripted.received) == 3


def test_truncated_multipart_and_parts_raise_server_error(scripted: ScriptedServer) -> None:
    """A body cut after a delimiter (no close delimiter, RFC 2046) came back as fewer instances
    without an error; a part cut short, or holding only a File Meta, came back as a Dataset."""
    client = make_client(scripted)
    whole = [part10(factories.make_instance(1, 1, i)) for i in (1, 2)]
    body, content_type = multipart_reply(whole, "application/dicom")
    cut = body[: body.rindex(b"--srv-boundary-123") + len(b"--srv-boundary-123")]
    scripted.reply(200, cut, Content_Type=content_type)
    with pytest.raises(ServerError, match="no closing delimiter"):
        client.retrieve_study(factories.study_uid(1))
    for bad in (whole[0][:-5], whole[0][: whole[0].index(b"\x08\x00")]):
        body, content_type = multipart_reply([bad], "application/dicom")
        scripted.reply(200, body, Content_Type=content_type)
        with pytest.raises(ServerError, match="not a whole DICOM file"):
            client.retrieve_study(factories.study_uid(1))


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({"Content_Encoding": "gzip", "Content_Type": JSON}, b"[]"),
        ({"Content_Type": JSON}, b"[" * 100_000 + b"]" * 100_000),
        ({"Location": "ftp://127.0.0.1/x"}, b""),
    ],
    ids=["gzip-lie", "deep-json", "redirect-to-ftp"],
)
def test_unusable_answers_are_server_errors(
    scripted: ScriptedServer, headers: dict[str, str], body: bytes
) -> None:
    """API.md: every error derives from DicomfsError; these raised requests' or the stdlib's."""
    client = make_client(scripted)
    status = 302 if "Location" in headers else 200
    scripted.reply(status, body, **headers)
    with pytest.raises(ServerError):
        client.search_for_studies()


def test_redirect_without_location_and_odd_retry_after(scripted: ScriptedServer) -> None:
    """A 3xx with no Location was read as an empty result; Retry-After '²' raised ValueError."""
    client = make_client(scripted)
    scripted.reply(300)
    with pytest.raises(ServerError, match="redirect without a usable Location"):
        client.search_for_studies()
    assert parse_retry_after("\u00b2") is None


def test_error_messages_are_one_bounded_line(scripted: ScriptedServer) -> None:
    """A JSON Message with newlines went into the error as it was, at any length."""
    client = make_client(scripted)
    message = "line1\nline2\n" + "x" * 1000
    scripted.reply(500, json.dumps({"Message": message}).encode(), Content_Type="application/json")
    client.set_http_retry_params(retry=False)
    with pytest.raises(ServerError) as info:
        client.search_for_studies()
    text = str(info.value)
    assert "\n" not in text and "line1 line2 x" in text and len(text) < 420


def test_iter_bulkdata_sends_its_request_when_called(scripted: ScriptedServer) -> None:
    """Like the other iterators, iter_bulkdata raises 404 (and bad arguments) at call time."""
    client = make_client(scripted)
    with pytest.raises(InvalidQueryError):
        client.iter_bulkdata(f"{scripted.url}/dicom-web/bulk/x", byte_range=(9, 1))
    scripted.reply(404)
    with pytest.raises(NotFoundError):
        client.iter_bulkdata(f"{scripted.url}/dicom-web/bulk/x")
