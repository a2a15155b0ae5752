"""QIDO-RS over HTTP (CONFORMANCE A, D, K-05, E-08, E-17) against the served standard store.

The ``served`` store caps searches at 5 results (``max_results=5``); it holds 5 studies,
8 series and 12 instances (tests/factories.py).
"""

from __future__ import annotations

import factories
import pytest

from server.httpkit import S1, S2, S4, get, uids, warning
from server.served import ServedStore

STUDY_UID = "0020000D"
ALL_STUDIES = [factories.study_uid(n) for n in (5, 4, 3, 1, 2)]  # dicomfs's order (C-14)


def test_study_search_json(served: ServedStore) -> None:
    """C-01/K-04/K-05: a JSON array with Content-Type application/dicom+json and a length."""
    response = get(f"{served.url}/studies")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/dicom+json"
    assert response.headers["Content-Length"] == str(len(response.content))
    assert "Warning" not in response.headers  # 5 matches, 5 returned
    assert uids(response, STUDY_UID) == ALL_STUDIES


def test_retrieve_url_points_at_the_server(served: ServedStore) -> None:
    """C-13: RetrieveURL is this server's WADO-RS URL (the client's base_url is the server's)."""
    response = get(f"{served.url}/studies", params={"StudyInstanceUID": S1})
    assert response.json()[0]["00081190"] == {"vr": "UR", "Value": [f"{served.url}/studies/{S1}"]}


def test_application_json_is_a_synonym(served: ServedStore) -> None:
    """K-05: Accept application/json is answered as application/dicom+json."""
    response = get(f"{served.url}/studies", accept="application/json")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/dicom+json"


def test_dicomweb_client_accept(served: ServedStore) -> None:
    """K-05: dicomweb-client's Accept (both JSON types, no q) is served."""
    response = get(f"{served.url}/studies", accept="application/dicom+json, application/json")
    assert response.status_code == 200


def test_no_accept_header_is_406(served: ServedStore) -> None:
    """E-08: a request without Accept gets 406."""
    response = get(f"{served.url}/studies", accept=None)
    assert response.status_code == 406
    assert response.json()["status"] == 406


def test_unsupported_accept_is_406(served: ServedStore) -> None:
    """E-08/K-05: only DICOM JSON is produced for searches (no XML)."""
    assert get(f"{served.url}/studies", accept="application/dicom+xml").status_code == 406
    assert get(f"{served.url}/studies", accept="application/dicom+json; q=0").status_code == 406


def test_accept_parameter_wins_over_header(served: ServedStore) -> None:
    """E-17: the accept query parameter is examined before the Accept header."""
    url = f"{served.url}/studies?accept=application%2Fdicom%2Bjson"
    assert get(url, accept="image/png").status_code == 200
    assert get(f"{served.url}/studies?accept=image%2Fpng").status_code == 406


def test_accept_parameter_without_wildcards(served: ServedStore) -> None:
    """E-17: media types in the accept parameter may not be wildcards."""
    response = get(f"{served.url}/studies", params={"accept": "*/*"})
    assert response.status_code == 400


def test_plus_is_a_space(served: ServedStore) -> None:
    """A-13: ``+`` in a query value is a space (quote_plus, as dicomweb-client sends)."""
    response = get(f"{served.url}/studies?StudyDescription=CHEST+PA")
    assert uids(response, STUDY_UID) == [S1]
    encoded = get(f"{served.url}/studies?StudyDescription=CHEST%20PA")
    assert encoded.json() == response.json()


def test_percent_encoded_utf8(served: ServedStore) -> None:
    """A-14: a UTF-8 percent-encoded value matches (M%C3%BCller* -> Müller^Hans)."""
    response = get(f"{served.url}/studies?PatientName=M%C3%BCller*")
    assert uids(response, STUDY_UID) == [factories.study_uid(3)]


def test_invalid_utf8_is_400(served: ServedStore) -> None:
    response = get(f"{served.url}/studies?PatientName=%FF")
    assert response.status_code == 400


def test_tag_and_keyword_are_equivalent(served: ServedStore) -> None:
    """A-01: keyword, upper- and lower-case hex tag select the same attribute."""
    by_keyword = get(f"{served.url}/studies", params={"PatientID": "P1-0001"})
    by_tag = get(f"{served.url}/studies", params={"00100020": "P1-0001"})
    by_lower = get(f"{served.url}/studies", params={"0020000d": S1})
    assert uids(by_keyword, STUDY_UID) == uids(by_tag, STUDY_UID) == [S1]
    assert uids(by_lower, STUDY_UID) == [S1]


def test_parameter_names_are_case_sensitive(served: ServedStore) -> None:
    """A-03/A-04: ``Limit`` is not ``limit``: it is ignored, with a Warning naming it."""
    response = get(f"{served.url}/studies", params={"Limit": "1", "patientid": "X"})
    assert uids(response, STUDY_UID) == ALL_STUDIES
    text = "The following query parameters are not supported and were ignored: Limit, patientid"
    assert response.headers["Warning"] == warning(served.url, text)


def test_includefield_comma_list_equals_repeated(served: ServedStore) -> None:
    """A-06: includefield=a,b is includefield=a&includefield=b."""
    comma = get(f"{served.url}/studies?includefield=StudyDescription,00081032")
    repeated = get(
        f"{served.url}/studies?includefield=StudyDescription&includefield=00081032"
    )
    assert comma.status_code == 200
    assert comma.json() == repeated.json()
    first = comma.json()[3]  # study 1
    assert first["00081030"] == {"vr": "LO", "Value": ["CHEST PA"]}


def test_uid_list_and_repeated_parameter(served: ServedStore) -> None:
    """A-11/B-11: a comma UID list, and the repeated form dicomweb-client sends for a list."""
    listed = get(f"{served.url}/studies", params={"StudyInstanceUID": f"{S1},{S4}"})
    repeated = get(f"{served.url}/studies", params=[("StudyInstanceUID", S1),
                                                     ("StudyInstanceUID", S4)])
    assert uids(listed, STUDY_UID) == uids(repeated, STUDY_UID) == [S4, S1]


@pytest.mark.parametrize(
    "query",
    ["limit=-1", "limit=abc", "offset=x", "fuzzymatching=yes", "includefield=NotAKeyword",
     "StudyDate=2020-13-45", "limit=1&limit=2", "emptyvaluematching=maybe"],
)
def test_invalid_values_are_400(served: ServedStore, query: str) -> None:
    """A-05/A-08/A-11: a supported parameter with an invalid value is 400, with a JSON body."""
    response = get(f"{served.url}/studies?{query}")
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["status"] == 400


def test_paging_warning(served: ServedStore) -> None:
    """D-01/D-02/D-03: 12 instances, cap 5: 5 returned and 'There are 7 additional results'."""
    response = get(f"{served.url}/instances")
    assert len(response.json()) == 5
    text = "There are 7 additional results that can be requested"
    assert response.headers["Warning"] == warning(served.url, text)


def test_limit_and_offset(served: ServedStore) -> None:
    """D-01: limit=3&offset=2 gives instances 3..5 and 7 more remain; the last page has none."""
    everything = get(f"{served.url}/instances", params={"limit": "5", "offset": "0"}).json()
    everything += get(f"{served.url}/instances", params={"offset": "5"}).json()
    everything += get(f"{served.url}/instances", params={"offset": "10"}).json()
    assert len({r["00080018"]["Value"][0] for r in everything}) == 12
    page = get(f"{served.url}/instances", params={"limit": "3", "offset": "2"})
    assert page.json() == everything[2:5]
    assert page.headers["Warning"] == warning(
        served.url, "There are 7 additional results that can be requested"
    )
    last = get(f"{served.url}/instances", params={"limit": "3", "offset": "10"})
    assert last.json() == everything[10:]
    assert "Warning" not in last.headers


def test_limit_above_the_cap(served: ServedStore) -> None:
    """D-07: limit over the server maximum is capped, with the Warning, not an error."""
    response = get(f"{served.url}/instances", params={"limit": "100"})
    assert len(response.json()) == 5
    assert response.headers["Warning"] == warning(
        served.url, "There are 7 additional results that can be requested"
    )


@pytest.mark.parametrize(
    "query", ["offset=5", "PatientID=NOBODY", "limit=0", "StudyDate=20500101-"]
)
def test_empty_result_is_204(served: ServedStore, query: str) -> None:
    """D-04/D-05/D-08: no results: 204 No Content with an empty body."""
    response = get(f"{served.url}/studies?{query}")
    assert response.status_code == 204
    assert response.content == b""


def test_search_under_unknown_study_is_204(served: ServedStore) -> None:
    """D-10: /studies/{unknown}/series is an empty result, not 404."""
    response = get(f"{served.url}/studies/1.2.3.4/series")
    assert response.status_code == 204


def test_scoped_searches(served: ServedStore) -> None:
    """Series of a study, instances of a study and of a series."""
    series = get(f"{served.url}/studies/{S1}/series")
    assert uids(series, "0020000E") == [factories.series_uid(1, n) for n in (1, 2, 3)]
    in_study = get(f"{served.url}/studies/{S2}/instances")
    assert uids(in_study, "00080018") == [factories.sop_uid(2, 1, n) for n in (1, 2)]
    in_series = get(f"{served.url}/studies/{S1}/series/{factories.series_uid(1, 2)}/instances")
    assert uids(in_series, "00080018") == [factories.sop_uid(1, 2, n) for n in (1, 2)]


def test_unsupported_matching_parameters_warn(served: ServedStore) -> None:
    """B-27/B-28: emptyvaluematching / multiplevaluematching are not supported: Warning 299."""
    response = get(
        f"{served.url}/studies",
        params={"emptyvaluematching": "true", "multiplevaluematching": "true"},
    )
    assert uids(response, STUDY_UID) == ALL_STUDIES
    assert response.headers["Warning"] == ", ".join([
        warning(served.url, "The emptyvaluematching parameter is not supported. "
                            "Empty Value Matching has not been performed."),
        warning(served.url, "The multiplevaluematching parameter is not supported. "
                            "Multiple Value Matching has not been performed."),
    ])


def test_fuzzymatching(served: ServedStore) -> None:
    """A-08/B-26: fuzzymatching=true is supported (PN prefix of a name component)."""
    response = get(f"{served.url}/studies", params={"PatientName": "joh", "fuzzymatching": "true"})
    assert uids(response, STUDY_UID) == [S1]
    assert "Warning" not in response.headers
