"""The web client raises what the file client raises, and leaves its inputs alone.

Found by running the contract suite (tests/contract) against a real Orthanc: each test here pins
one fix in dicomfs.web, without a server (or with the scripted one).
"""

from __future__ import annotations

import io

import factories
import pydicom
import pytest
from peers.scripted import ScriptedServer
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import ExplicitVRLittleEndian

import dicomfs
from dicomfs.errors import BadRequestError, InvalidQueryError, NotAcceptableError
from dicomfs.web import media
from dicomfs.web.stow import check_items, encode_dataset
from dicomfs.web.urls import validate_uid

IMPLICIT, BIG_ENDIAN = "1.2.840.10008.1.2", "1.2.840.10008.1.2.2"


def make_client(server: ScriptedServer) -> dicomfs.DICOMwebClient:
    client = dicomfs.DICOMwebClient(server.url + "/dicom-web")
    client.set_http_retry_params(retry=False)
    return client


@pytest.mark.parametrize("uid", ["1.02.3", "01.2", "1.2.abc", "1.2.", "1" * 65])
def test_malformed_uid_is_an_invalid_query(uid: str) -> None:
    """PS3.5 9.1 (no leading zero in a component); the file client's class, InvalidQueryError
    (a BadRequestError, 400)."""
    with pytest.raises(InvalidQueryError) as info:
        validate_uid(uid, False, "sop_instance_uid")
    assert info.value.response.status_code == 400


@pytest.mark.parametrize("uid", ["0", "1.0.3", "1.20.300", "2.25.0"])
def test_zero_components_are_valid_uids(uid: str) -> None:
    """A lone 0 is a valid component; zeros inside a number are fine."""
    assert validate_uid(uid, False) == uid


@pytest.mark.parametrize("syntax", [IMPLICIT, BIG_ENDIAN])
def test_implicit_and_big_endian_are_not_acceptable(syntax: str) -> None:
    """E-06: never sent in DICOMweb: 406 NotAcceptableError (as the file client), not sent."""
    with pytest.raises(NotAcceptableError) as info:
        media.accept((("application/dicom", syntax),), "instance")
    assert info.value.response.status_code == 406


def test_never_sent_syntaxes_are_left_out_next_to_acceptable_ones() -> None:
    """E-06: with another acceptable syntax, Implicit VR LE is left out of Accept."""
    accept = media.accept(
        (("application/dicom", IMPLICIT), ("application/dicom", ExplicitVRLittleEndian)), "instance"
    )
    assert accept == (
        f'multipart/related; type="application/dicom"; transfer-syntax={ExplicitVRLittleEndian}'
    )


def test_wrong_media_type_with_implicit_syntax_is_still_a_bad_request() -> None:
    """L-04: the media type is checked first (BadRequestError, a ValueError)."""
    with pytest.raises(BadRequestError) as info:
        media.accept((("image/jpeg", IMPLICIT),), "instance")
    assert not isinstance(info.value, NotAcceptableError)


def test_400_on_rendered_is_an_invalid_query(scripted: ScriptedServer) -> None:
    """H-06/H-08: a 400 for rendering parameters is InvalidQueryError, as the file client."""
    client = make_client(scripted)
    scripted.reply(400, b'{"Details": "window needs 3 arguments"}', Content_Type="application/json")
    with pytest.raises(InvalidQueryError, match="window needs 3"):
        client.retrieve_instance_rendered("1.2.3", "1.2.4", "1.2.5", params={"window": "40,400"})
    assert scripted.received[0].path.endswith("/rendered?window=40,400")


@pytest.mark.parametrize("empty", [[], ()])
def test_empty_store_request_is_a_bad_request_before_sending(
    scripted: ScriptedServer, empty: list[Dataset]
) -> None:
    """An empty STOW request is a BadRequestError, as the file client; nothing is sent."""
    with pytest.raises(BadRequestError, match="empty"):
        make_client(scripted).store_instances(empty)
    assert scripted.received == []
    with pytest.raises(BadRequestError):
        check_items(empty)


def test_encoding_does_not_modify_the_dataset() -> None:
    """pydicom resolves ambiguous VRs (OB or OW, US or SS) in place when writing: the web client
    writes a detached copy, nested sequence items included, and keeps the File Meta as given."""
    ds = factories.make_instance(1, 1, 1)
    ds.file_meta.ImplementationClassUID = "1.2.3.4"
    item = Dataset()
    item.add_new(0x00283002, "US or SS", [2, 0, 16])  # LUTDescriptor, in a sequence item
    ds.VOILUTSequence = DicomSequence([item])
    assert ds["PixelData"].VR == "OB or OW"
    before = ds.to_json_dict()
    written = pydicom.dcmread(io.BytesIO(encode_dataset(ds)))
    assert ds.to_json_dict() == before
    assert ds["PixelData"].VR == "OB or OW"
    assert ds.VOILUTSequence[0]["LUTDescriptor"].VR == "US or SS"
    assert written.VOILUTSequence[0]["LUTDescriptor"].VR == "US"
    assert ds.file_meta.ImplementationClassUID == "1.2.3.4"
    assert written.file_meta.ImplementationClassUID == "1.2.3.4"
    assert written["PixelData"].VR == "OW" and written.PixelData == ds.PixelData


def test_dataset_without_file_meta_is_written_explicit_vr_le() -> None:
    """API.md: a dataset without File Meta is stored as Explicit VR Little Endian."""
    ds = factories.make_instance(1, 1, 1)
    del ds.file_meta
    written = pydicom.dcmread(io.BytesIO(encode_dataset(ds)))
    assert written.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert written.file_meta.MediaStorageSOPInstanceUID == factories.sop_uid(1, 1, 1)
    assert written.file_meta.MediaStorageSOPClassUID == ds.SOPClassUID
    assert written.PixelData == ds.PixelData
    assert getattr(ds, "file_meta", None) is None


@pytest.mark.parametrize("uid", [None, 1, b"1.2", "", " 1.2", "1.2/../3"])
def test_missing_or_hostile_uid_is_an_invalid_query_before_sending(
    scripted: ScriptedServer, uid: object
) -> None:
    """A None, non-string or malformed UID is InvalidQueryError, as the file client; not sent."""
    client = make_client(scripted)
    with pytest.raises(InvalidQueryError):
        client.retrieve_instance_metadata("1.2.3", "1.2.4", uid)  # type: ignore[arg-type]
    with pytest.raises(InvalidQueryError):
        client.retrieve_series_rendered("1.2.3", uid)  # type: ignore[arg-type]
    assert scripted.received == []


@pytest.mark.parametrize("params", [[("window", "1")], "window=1"])
def test_render_params_not_a_dict_are_an_invalid_query(
    scripted: ScriptedServer, params: object
) -> None:
    """H-06..H-08: params must be a dict: InvalidQueryError (as the file client), not sent."""
    with pytest.raises(InvalidQueryError):
        make_client(scripted).retrieve_instance_rendered(
            "1.2.3", "1.2.4", "1.2.5", params=params  # type: ignore[arg-type]
        )
    assert scripted.received == []


@pytest.mark.parametrize("uri", ["", "  ", None])
def test_empty_bulk_data_uri_is_a_bad_request(scripted: ScriptedServer, uri: object) -> None:
    """An empty BulkDataURI would fetch the service root: BadRequestError, not sent."""
    with pytest.raises(BadRequestError):
        make_client(scripted).retrieve_bulkdata(uri)  # type: ignore[arg-type]
    assert scripted.received == []
