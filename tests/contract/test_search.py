"""QIDO-RS contract: search_for_studies / series / instances over the standard store.

The standard store (tests/factories.py), in StudyDate order (our stable order, C-14):
study 5 (1999, =王^小東, A_B), 4 (20060705 09:00, SMITH^ANNA, 1000, CT+PT),
3 (20060706 03:00, Müller^Hans, 100%), 1 (2020, DOE^JOHN, CT CT SEG), 2 (2021, DOE^JANE, MR).
Tests that only hold for the file backend's choices are marked ``needs(...)``.
"""

from __future__ import annotations

from typing import Any

import factories
import pytest
from factories import series_uid, sop_uid, study_uid

import dicomfs
from dicomfs.errors import InvalidQueryError

S1, S2, S3, S4, S5 = (study_uid(n) for n in range(1, 6))
ALL_STUDIES = [S5, S4, S3, S1, S2]
STUDY_REQUIRED = {"00080020", "00080030", "00080050", "00080061", "00080090", "00100010",
                  "00100020", "00100030", "00100040", "0020000D", "00200010", "00201206",
                  "00201208"}


def uids(results: list[dict[str, Any]], tag: str = "0020000D") -> list[str]:
    return [r[tag]["Value"][0] for r in results]


def studies(client: dicomfs.DICOMClient, **filters: Any) -> list[str]:
    return uids(client.search_for_studies(search_filters=filters))


def series(client: dicomfs.DICOMClient, **filters: Any) -> list[str]:
    return uids(client.search_for_series(search_filters=filters), "0020000E")


def instances(client: dicomfs.DICOMClient, **filters: Any) -> list[str]:
    return uids(client.search_for_instances(search_filters=filters), "00080018")


# ---- A. parameters ---------------------------------------------------------------------------


def test_keyword_and_tag_forms_are_equivalent(client: dicomfs.DICOMClient) -> None:
    """A-01: PatientID, 00100020 and lower-case hex select the same attribute."""
    assert studies(client, PatientID="P1-0001") == [S1]
    assert studies(client, **{"00100020": "P1-0001"}) == [S1]
    assert studies(client, **{"0020000d": S3}) == [S3]


@pytest.mark.needs("strict-validation")
def test_unknown_keyword_raises(client: dicomfs.DICOMClient) -> None:
    """A-01, A-04 (IMPL): keywords are case-sensitive; an unknown one is a 400, not ignored."""
    for key in ("patientid", "NotAKeyword", "00100099", "Limit"):
        with pytest.raises(InvalidQueryError) as info:
            client.search_for_studies(search_filters={key: "X"})
        assert info.value.response.status_code == 400


@pytest.mark.needs("strict-validation")
@pytest.mark.parametrize(
    "kwargs",
    [
        {"limit": -1}, {"limit": "abc"}, {"offset": "x"}, {"offset": -2}, {"limit": 1.5},
        {"fuzzymatching": "yes"}, {"fields": ["NotAKeyword"]},
        {"search_filters": {"StudyDate": "2020-13-45"}},
        {"search_filters": {"StudyDate": "20201345"}},
        {"search_filters": {"StudyTime": "250000"}},
        {"search_filters": {"NumberOfStudyRelatedSeries": "three"}},
    ],
)
def test_invalid_values_raise(client: dicomfs.DICOMClient, kwargs: dict[str, Any]) -> None:
    """A-05: a supported parameter with an invalid value is a 400 (never a widened search)."""
    with pytest.raises(InvalidQueryError):
        client.search_for_studies(**kwargs)


def test_includefield_comma_list_equals_repeated(client: dicomfs.DICOMClient) -> None:
    """A-06: includefield as one comma-separated value equals the repeated form."""
    a = client.search_for_studies(fields=["00081030,00100040"])
    b = client.search_for_studies(fields=["00081030", "00100040"])
    assert a == b
    assert [r["00081030"].get("Value") for r in a] == [
        None, ["ABDOMEN"], ["HEAD"], ["CHEST PA"], ["chest ct"]]


@pytest.mark.needs("any-attribute")
def test_includefield_all_mixed_with_names_is_all(client: dicomfs.DICOMClient) -> None:
    """A-07 (IMPL): includefield=all together with names is treated as all."""
    assert client.search_for_studies(fields=["all", "PatientID"]) == client.search_for_studies(
        fields=["all"])


@pytest.mark.needs("sequence-matching")
def test_dotted_path_matches_sequence_items(client: dicomfs.DICOMClient) -> None:
    """A-09: keyword and tag dotted paths select keys inside sequence items."""
    assert series(client, **{"RequestAttributesSequence.ScheduledProcedureStepID": "B"}) == [
        series_uid(1, 1)]
    assert series(client, **{"00400275.00400009": "A"}) == [series_uid(1, 1)]
    assert series(client, **{"00400275.00400009": "C"}) == []


def test_uid_list_string_and_python_list(client: dicomfs.DICOMClient) -> None:
    """A-11, B-11: a comma-separated UID list and a Python list both mean any of the UIDs."""
    assert studies(client, StudyInstanceUID=f"{S1},{S3}") == [S3, S1]
    assert studies(client, StudyInstanceUID=[S1, S3]) == [S3, S1]
    assert instances(client, SOPClassUID=[factories.SEG_STORAGE, factories.ENHANCED_MR_STORAGE]) \
        == [sop_uid(1, 3, 1), sop_uid(2, 1, 2)]


@pytest.mark.needs("strict-validation")
def test_same_attribute_twice_raises(client: dicomfs.DICOMClient) -> None:
    """A-11: an attribute appears at most once per query (keyword and tag count as one)."""
    with pytest.raises(InvalidQueryError):
        client.search_for_studies(search_filters={"PatientID": "A_B", "00100020": "A_B"})


# ---- B. matching -----------------------------------------------------------------------------


@pytest.mark.needs("case-sensitive")
def test_single_value_matching_is_case_sensitive(client: dicomfs.DICOMClient) -> None:
    """B-01: exact, case-sensitive single value matching for non-PN VRs."""
    assert studies(client, AccessionNumber="abc") == [S5]
    assert studies(client, AccessionNumber="ABC") == []
    assert series(client, Modality="ct") == []
    assert series(client, Modality="CT") == [series_uid(4, 1), series_uid(1, 1), series_uid(1, 2)]


@pytest.mark.needs("pn-case-insensitive", "percent-decoded-queries")
def test_person_name_is_case_insensitive(client: dicomfs.DICOMClient) -> None:
    """B-02 (IMPL): PN matching is case-insensitive, for literal values and wildcards."""
    assert studies(client, PatientName="doe^john") == [S1]
    assert studies(client, PatientName="müller*") == [S3]
    assert studies(client, ReferringPhysicianName="who^*") == [S1]


def test_star_wildcard(client: dicomfs.DICOMClient) -> None:
    """B-03: * matches any run, including none."""
    assert studies(client, PatientName="DOE*") == [S1, S2]


@pytest.mark.needs("percent-decoded-queries")
def test_star_wildcard_after_component_separator(client: dicomfs.DICOMClient) -> None:
    """B-03: * after a PN component separator (^, sent percent-encoded)."""
    assert studies(client, PatientName="DOE^JOHN*") == [S1]


def test_question_mark_wildcard(client: dicomfs.DICOMClient) -> None:
    """B-04: ? matches exactly one character."""
    assert studies(client, AccessionNumber="ACC00?1") == [S1]
    assert studies(client, AccessionNumber="ACC0?") == []
    assert studies(client, AccessionNumber="ACC0??") == []
    assert studies(client, AccessionNumber="ACC0???") == [S4, S3, S1]


def test_star_and_question_mark_together(client: dicomfs.DICOMClient) -> None:
    """B-05: * and ? work together in one value."""
    assert studies(client, PatientID="P?-*") == [S1, S2]
    assert studies(client, PatientID="?1-*2") == [S2]


@pytest.mark.needs("case-sensitive")
def test_wildcards_are_case_sensitive_except_pn(client: dicomfs.DICOMClient) -> None:
    """B-06: StudyDescription=chest* matches 'chest ct' but not 'CHEST PA'."""
    assert studies(client, StudyDescription="chest*") == [S2]
    assert studies(client, StudyDescription="CHEST*") == [S1]


@pytest.mark.needs("case-sensitive")
def test_sql_metacharacters_are_literals(client: dicomfs.DICOMClient) -> None:
    """B-07: % and _ are literal characters, never SQL wildcards."""
    assert studies(client, PatientID="100%") == [S3]
    assert studies(client, PatientID="10%") == []
    assert studies(client, PatientID="A_B") == [S5]
    assert studies(client, PatientID="A?B") == [S5]
    assert studies(client, PatientID="1_00") == []
    assert studies(client, PatientID="100*") == [S4, S3]


@pytest.mark.needs("strict-validation")
def test_wildcards_on_non_wildcard_vr_raise(client: dicomfs.DICOMClient) -> None:
    """B-08 (IMPL): * on UI, DA, TM or IS is a malformed value: 400, never prefix matching."""
    for key, value in (("StudyInstanceUID", "1.2.*"), ("StudyDate", "2020*"),
                       ("StudyTime", "09*"), ("NumberOfStudyRelatedSeries", "?")):
        with pytest.raises(InvalidQueryError):
            client.search_for_studies(search_filters={key: value})
    with pytest.raises(InvalidQueryError):
        client.search_for_instances(search_filters={"SOPInstanceUID": "1.2.*"})


def test_universal_matching_returns_the_attribute(client: dicomfs.DICOMClient) -> None:
    """B-09: an empty value or * matches every entity, and the attribute is returned."""
    for value in ("", "*"):
        results = client.search_for_studies(search_filters={"StudyDescription": value})
        assert uids(results) == ALL_STUDIES
        assert results[0]["00081030"] == {"vr": "LO"}
        assert results[3]["00081030"]["Value"] == ["CHEST PA"]


def test_date_ranges(client: dicomfs.DICOMClient) -> None:
    """B-12, B-13, B-14: closed ranges include both ends; open start and open end."""
    assert studies(client, StudyDate="20060705-20060706") == [S4, S3]
    assert studies(client, StudyDate="20200315-") == [S1, S2]
    assert studies(client, StudyDate="-20060705") == [S5, S4]
    assert studies(client, StudyDate="20060706") == [S3]
    assert studies(client, PatientBirthDate="19600101-19651231") == [S1, S2]


@pytest.mark.needs("strict-validation")
def test_degenerate_ranges_raise(client: dicomfs.DICOMClient) -> None:
    """B-15 (IMPL): '-' alone and reversed ranges are 400."""
    for value in ("-", "20201231-20200101", "2020-", "20200101-2020"):
        with pytest.raises(InvalidQueryError):
            client.search_for_studies(search_filters={"StudyDate": value})
    with pytest.raises(InvalidQueryError):
        client.search_for_studies(search_filters={"StudyTime": "1200-0800"})


@pytest.mark.needs("time-by-meaning")
def test_time_ranges_by_meaning(client: dicomfs.DICOMClient) -> None:
    """B-16, B-17: time ranges are inclusive, by meaning; a low-precision upper bound covers
    its whole unit."""
    assert studies(client, StudyTime="080000-120000") == [S4, S1]
    assert studies(client, StudyTime="-09") == [S4, S3, S1]
    assert studies(client, StudyTime="0930-0930") == [S1]
    assert studies(client, StudyTime="223000-") == [S5, S2]


@pytest.mark.needs("time-by-meaning")
def test_single_time_value_by_meaning(client: dicomfs.DICOMClient) -> None:
    """B-18: StudyTime=2230 matches stored 223000; 235959 matches 235959.5."""
    assert studies(client, StudyTime="2230") == [S2]
    assert studies(client, StudyTime="235959") == [S5]
    assert studies(client, StudyTime="235959.5") == [S5]


@pytest.mark.needs("combined-datetime")
def test_combined_date_time_matching(client: dicomfs.DICOMClient) -> None:
    """B-19: two ranges of the same form are one DT range (PS3.4 C.2.2.2.5.4 example)."""
    assert studies(client, StudyDate="20060705-20060707", StudyTime="1000-1800") == [S3]
    assert studies(client, StudyDate="20060705-", StudyTime="0800-") == [S4, S3, S1, S2]
    assert studies(client, StudyDate="-20060706", StudyTime="-0200") == [S5, S4]
    # different forms: each matched on its own
    assert studies(client, StudyDate="20060705-20060707", StudyTime="0300") == [S3]


@pytest.mark.needs("combined-datetime")
def test_timezone_offset_is_not_a_match_key(client: dicomfs.DICOMClient) -> None:
    """B-21: TimezoneOffsetFromUTC qualifies the query; with no offset on the entities nothing
    moves, and it never filters by itself."""
    assert studies(client, TimezoneOffsetFromUTC="+0100") == ALL_STUDIES
    assert studies(client, TimezoneOffsetFromUTC="+0100", StudyDate="20060706") == [S3]


@pytest.mark.needs("multi-value-matching")
def test_multi_valued_attributes_match_any_value(client: dicomfs.DICOMClient) -> None:
    """B-22: ImageType=AXIAL matches ORIGINAL\\PRIMARY\\AXIAL."""
    assert instances(client, ImageType="AXIAL", StudyInstanceUID=S4) == [
        sop_uid(4, 1, 1), sop_uid(4, 2, 1)]


def test_modalities_in_study_matches_any_modality(client: dicomfs.DICOMClient) -> None:
    """B-22: ModalitiesInStudy=CT matches a CT+PT study whose result lists both."""
    results = client.search_for_studies(search_filters={"ModalitiesInStudy": "CT"})
    assert uids(results) == [S4, S1]
    assert results[0]["00080061"] == {"Value": ["CT", "PT"], "vr": "CS"}
    assert studies(client, ModalitiesInStudy="PT") == [S4]


@pytest.mark.needs("sequence-matching")
def test_sequence_matching_is_item_by_item(client: dicomfs.DICOMClient) -> None:
    """B-23: every key inside the sequence must match within the same item."""
    seq = "RequestAttributesSequence"
    assert series(client, **{f"{seq}.ScheduledProcedureStepID": "A",
                             f"{seq}.RequestedProcedureID": "Y"}) == []
    assert series(client, **{f"{seq}.ScheduledProcedureStepID": "A",
                             f"{seq}.RequestedProcedureID": "X"}) == [series_uid(1, 1)]
    assert instances(client, **{f"{seq}.RequestedProcedureID": "Y"}) == [
        sop_uid(1, 1, 1), sop_uid(1, 1, 2), sop_uid(1, 1, 3)]


def test_empty_value_does_not_match_non_empty_key(client: dicomfs.DICOMClient) -> None:
    """B-24 (IMPL): a study with an empty AccessionNumber does not match AccessionNumber=X."""
    assert studies(client, AccessionNumber="123") == []
    assert studies(client, AccessionNumber="*") == ALL_STUDIES
    assert studies(client, StudyDescription="?*") == [S4, S3, S1, S2]


@pytest.mark.needs("charset-not-a-match-key", "percent-decoded-queries")
def test_specific_character_set_is_never_a_match_key(client: dicomfs.DICOMClient) -> None:
    """B-25: SpecificCharacterSet in a query filters nothing."""
    assert studies(client, SpecificCharacterSet="ISO_IR 100") == ALL_STUDIES


@pytest.mark.needs("fuzzy")
def test_fuzzy_matching_is_prefix_of_any_name_component(client: dicomfs.DICOMClient) -> None:
    """B-26 (API.md): fuzzymatching=True: a case-insensitive prefix of any name component."""
    def fuzzy(name: str) -> list[str]:
        return uids(client.search_for_studies(fuzzymatching=True,
                                              search_filters={"PatientName": name}))

    assert fuzzy("jan") == [S2]
    assert fuzzy("hans") == [S3]
    assert fuzzy("ohn") == []
    assert fuzzy("小") == [S5]
    assert fuzzy("j?h") == [S1]
    assert fuzzy("j*") == [S1, S2]
    assert fuzzy("doe^john") == [S1]
    assert studies(client, PatientName="jan") == []


def test_list_value_means_or(client: dicomfs.DICOMClient) -> None:
    """B-28 (IMPL): a list (or comma list for CS) is OR, not AND."""
    assert studies(client, ModalitiesInStudy="CT,PT") == [S4, S1]
    assert studies(client, ModalitiesInStudy=["SEG", "MR"]) == [S3, S1, S2]


@pytest.mark.needs("percent-decoded-queries")
def test_list_value_with_percent_sign(client: dicomfs.DICOMClient) -> None:
    """B-28 (IMPL): a list item with % (sent percent-encoded) is one of the OR'ed values."""
    assert studies(client, PatientID=["100%", "A_B"]) == [S5, S3]


def test_relational_search(client: dicomfs.DICOMClient) -> None:
    """B-29: /series and /instances match on study- and patient-level attributes."""
    assert series(client, PatientID="1000") == [series_uid(4, 1), series_uid(4, 2)]
    assert instances(client, StudyDate="20060705") == [sop_uid(4, 1, 1), sop_uid(4, 2, 1)]


@pytest.mark.needs("percent-decoded-queries")
def test_relational_search_by_person_name(client: dicomfs.DICOMClient) -> None:
    """B-29: /instances matches a patient-level PN (with ^, sent percent-encoded)."""
    assert instances(client, PatientName="DOE^JANE", Modality="MR") == [
        sop_uid(2, 1, 1), sop_uid(2, 1, 2)]


@pytest.mark.needs("strict-validation")
def test_study_key_in_study_scoped_series_search_is_applied(client: dicomfs.DICOMClient) -> None:
    """B-30 (IMPL): a Study-IE key in /studies/{uid}/series is applied to the study."""
    def scoped(description: str) -> list[str]:
        return uids(client.search_for_series(S1, search_filters={"StudyDescription": description}),
                    "0020000E")

    assert scoped("CHEST PA") == [series_uid(1, 1), series_uid(1, 2), series_uid(1, 3)]
    assert scoped("HEAD") == []


@pytest.mark.needs("strict-validation")
def test_lower_level_key_raises(client: dicomfs.DICOMClient) -> None:
    """B-30, A-05 (IMPL): a series- or instance-level key on a study search is a 400."""
    with pytest.raises(InvalidQueryError):
        client.search_for_studies(search_filters={"Modality": "CT"})
    with pytest.raises(InvalidQueryError):
        client.search_for_series(search_filters={"SOPInstanceUID": sop_uid(1, 1, 1)})


@pytest.mark.needs("any-attribute")
def test_any_top_level_attribute_can_be_searched(client: dicomfs.DICOMClient) -> None:
    """B-01, B-22: attributes without an index column are matched too (from the JSON)."""
    assert len(instances(client, BitsStored="16")) == 12
    assert instances(client, NumberOfFrames="3") == [sop_uid(2, 1, 2)]
    assert studies(client, PatientName="王^小東") == [S5]
    assert studies(client, NumberOfStudyRelatedInstances="1") == [S5, S3]
    assert studies(client, SOPClassesInStudy=factories.SEG_STORAGE) == [S1]
    assert series(client, NumberOfSeriesRelatedInstances="2") == [
        series_uid(1, 2), series_uid(2, 1)]
    assert series(client, SeriesDescription="SERIES 3") == [series_uid(1, 3)]


# ---- C. response content ---------------------------------------------------------------------


def test_each_study_once_with_required_attributes(client: dicomfs.DICOMClient) -> None:
    """C-01, C-02, C-04: one result per study, every required attribute present (empty when
    unknown)."""
    results = client.search_for_studies()
    assert uids(results) == ALL_STUDIES
    for r in results:
        assert STUDY_REQUIRED <= set(r)
    by_uid = {r["0020000D"]["Value"][0]: r for r in results}
    assert by_uid[S2]["00080050"] == {"vr": "SH"}
    assert by_uid[S4]["00100030"] == {"vr": "DA"}


def test_computed_study_attributes(client: dicomfs.DICOMClient) -> None:
    """C-05, C-06: counts are computed IS numbers; ModalitiesInStudy is distinct."""
    r = client.search_for_studies(search_filters={"StudyInstanceUID": S1})[0]
    assert r["00201206"] == {"Value": [3], "vr": "IS"}
    assert r["00201208"] == {"Value": [6], "vr": "IS"}
    assert r["00080061"] == {"Value": ["CT", "SEG"], "vr": "CS"}


def test_series_results(client: dicomfs.DICOMClient) -> None:
    """C-07, C-09: series results hold series keys, the count, and (for /series) study keys."""
    results = client.search_for_series(search_filters={"StudyInstanceUID": S1})
    assert uids(results, "0020000E") == [series_uid(1, 1), series_uid(1, 2), series_uid(1, 3)]
    assert [r["00201209"]["Value"] for r in results] == [[3], [2], [1]]
    assert [r["00080060"]["Value"] for r in results] == [["CT"], ["CT"], ["SEG"]]
    assert [r["00200011"]["Value"] for r in results] == [[1], [2], [3]]


@pytest.mark.needs("relational-attributes")
def test_series_results_carry_study_attributes(client: dicomfs.DICOMClient) -> None:
    """C-09: /series results also hold the study attributes of Table 10.6.3-3."""
    results = client.search_for_series(search_filters={"StudyInstanceUID": S1})
    assert results[0]["00100020"]["Value"] == ["P1-0001"]
    assert results[0]["00201208"]["Value"] == [6]


def test_instance_results(client: dicomfs.DICOMClient) -> None:
    """C-08, C-09: instance keys, Rows/Columns/BitsAllocated/NumberOfFrames, study and series
    keys."""
    results = client.search_for_instances(S2)
    assert uids(results, "00080018") == [sop_uid(2, 1, 1), sop_uid(2, 1, 2)]
    multi = results[1]
    assert multi["00080016"]["Value"] == [factories.ENHANCED_MR_STORAGE]
    assert multi["00200013"]["Value"] == [2]
    assert multi["00280008"]["Value"] == [3]
    assert multi["00280010"]["Value"] == [4] and multi["00280100"]["Value"] == [16]
    assert multi["0020000E"]["Value"] == [series_uid(2, 1)]
    assert multi["00080060"]["Value"] == ["MR"]


@pytest.mark.needs("case-sensitive")
def test_match_keys_are_echoed(client: dicomfs.DICOMClient) -> None:
    """C-10: a match key not in the default set is returned."""
    results = client.search_for_studies(search_filters={"StudyDescription": "CHEST*"})
    assert [r["00081030"]["Value"] for r in results] == [["CHEST PA"]]


@pytest.mark.needs("level-scoped-includefield")
def test_lower_level_includefield_not_returned(client: dicomfs.DICOMClient) -> None:
    """C-11: includefield=Rows at study level adds nothing."""
    results = client.search_for_studies(fields=["Rows"])
    assert all("00280010" not in r for r in results)
    results = client.search_for_series(fields=["00280010"])
    assert all("00280010" not in r for r in results)


@pytest.mark.needs("any-attribute")
def test_includefield_all(client: dicomfs.DICOMClient) -> None:
    """C-12: includefield=all returns every stored attribute of the level and above."""
    r = client.search_for_studies(fields=["all"], search_filters={"PatientID": "P1-0001"})[0]
    assert r["00081030"]["Value"] == ["CHEST PA"]
    assert "00080008" not in r and "00080060" not in r
    i = client.search_for_instances(S3, fields=["all"])[0]
    assert i["00080008"]["Value"] == ["ORIGINAL", "PRIMARY", "AXIAL"]
    assert i["00281053"]["Value"] == [1] and i["00081030"]["Value"] == ["HEAD"]
    assert "7FE00010" not in i


def test_retrieve_url(client: dicomfs.DICOMClient) -> None:
    """C-13: RetrieveURL points at the WADO-RS resource of the entity, VR UR."""
    base = client.base_url.rstrip("/")
    s = client.search_for_studies(search_filters={"StudyInstanceUID": S3})[0]
    assert s["00081190"] == {"Value": [f"{base}/studies/{S3}"], "vr": "UR"}
    se = client.search_for_series(S3)[0]
    assert se["00081190"]["Value"] == [f"{base}/studies/{S3}/series/{series_uid(3, 1)}"]
    i = client.search_for_instances(S3)[0]
    assert i["00081190"]["Value"] == [
        f"{base}/studies/{S3}/series/{series_uid(3, 1)}/instances/{sop_uid(3, 1, 1)}"]


def test_keys_sorted_and_counts_are_numbers(client: dicomfs.DICOMClient) -> None:
    """J-01, J-07, C-05: tags ascending; counts are JSON numbers."""
    for r in client.search_for_instances():
        assert list(r) == sorted(r)
    for r in client.search_for_studies():
        assert list(r) == sorted(r)
        assert isinstance(r["00201208"]["Value"][0], int)


@pytest.mark.needs("relational-attributes")
def test_instance_results_carry_study_counts(client: dicomfs.DICOMClient) -> None:
    """C-09, C-05: /instances results hold the study attributes, counts as JSON numbers."""
    for r in client.search_for_instances():
        assert isinstance(r["00201208"]["Value"][0], int)


@pytest.mark.needs("result-order")
def test_searches_are_idempotent(client: dicomfs.DICOMClient) -> None:
    """C-14: identical searches return the same results in the same order."""
    assert client.search_for_instances() == client.search_for_instances()
    assert uids(client.search_for_instances(), "00080018")[:4] == [
        sop_uid(5, 1, 1), sop_uid(4, 1, 1), sop_uid(4, 2, 1), sop_uid(3, 1, 1)]


# ---- D. paging -------------------------------------------------------------------------------


@pytest.mark.needs("result-order")
def test_limit_and_offset(client: dicomfs.DICOMClient) -> None:
    """D-01, D-06: paging over the stable order."""
    assert uids(client.search_for_studies(limit=2, offset=1)) == [S4, S3]
    assert uids(client.search_for_studies(offset=3)) == [S1, S2]
    pages = [uids(client.search_for_studies(limit=2, offset=o)) for o in (0, 2, 4, 6)]
    assert pages == [[S5, S4], [S3, S1], [S2], []]


@pytest.mark.needs("result-order")
def test_limit_and_offset_with_python_filters(client: dicomfs.DICOMClient) -> None:
    """D-01: paging applies after every filter, including those matched in Python."""
    results = client.search_for_instances(limit=2, offset=1, search_filters={"BitsStored": "16"})
    assert uids(results, "00080018") == [sop_uid(4, 1, 1), sop_uid(4, 2, 1)]


def test_offset_past_end_is_empty(client: dicomfs.DICOMClient) -> None:
    """D-05: an offset at or past the number of matches gives []."""
    assert client.search_for_studies(offset=5) == []
    assert client.search_for_studies(offset=500) == []


@pytest.mark.needs("limit-zero-empty")
def test_limit_zero_is_empty(client: dicomfs.DICOMClient) -> None:
    """D-08 (IMPL): limit=0 gives [], not 'unlimited'."""
    assert client.search_for_studies(limit=0) == []


def test_get_remaining_returns_everything(client: dicomfs.DICOMClient) -> None:
    """D-06: get_remaining=True returns every result."""
    assert len(client.search_for_instances(get_remaining=True)) == 12


def test_unknown_scope_is_empty(client: dicomfs.DICOMClient) -> None:
    """D-10: a search under an unknown study or series gives [], not 404."""
    assert client.search_for_series("1.2.3.4") == []
    assert client.search_for_instances("1.2.3.4") == []
    assert client.search_for_instances(S1, "1.2.3.4") == []


def test_scoped_searches(client: dicomfs.DICOMClient) -> None:
    """C-09: study- and series-scoped searches."""
    assert uids(client.search_for_series(S4), "0020000E") == [series_uid(4, 1), series_uid(4, 2)]
    assert uids(client.search_for_instances(S1, series_uid(1, 2)), "00080018") == [
        sop_uid(1, 2, 1), sop_uid(1, 2, 2)]
    assert uids(client.search_for_instances(S1, search_filters={"Modality": "SEG"}),
                "00080018") == [sop_uid(1, 3, 1)]


# ---- audit: edge cases of the checklist items (docs/conformance.md "Traceability: QIDO") ----

BAD_QUERIES: list[tuple[str, dict[str, Any]]] = [
    ("A-05 limit as a string", {"limit": "5"}),
    ("A-05 offset as a string", {"offset": "2"}),
    ("A-05 offset as a float", {"offset": 2.0}),
    ("A-05 limit as a bool", {"limit": True}),
    ("A-05 fields not a list", {"fields": 3}),
    ("A-05 fields a mapping", {"fields": {"PatientID": 1}}),
    ("A-05 empty includefield", {"fields": [""]}),
    ("A-05 empty includefield in a comma list", {"fields": ["PatientID,"]}),
    ("A-01 empty key", {"search_filters": {"": "X"}}),
    ("A-09 empty path element", {"search_filters": {"PatientID.": "X"}}),
    ("A-09 path through a non-sequence", {"search_filters": {"PatientID.PatientName": "X"}}),
    ("A-01 0x prefix", {"search_filters": {"0x00100020": "X"}}),
    ("A-01 group length", {"search_filters": {"00100000": "X"}}),
    ("A-01 file meta", {"search_filters": {"00020010": "X"}}),
    ("A-04 QueryRetrieveLevel", {"search_filters": {"QueryRetrieveLevel": "STUDY"}}),
    ("A-05 None value", {"search_filters": {"PatientID": None}}),
    ("A-05 bool value", {"search_filters": {"PatientID": True}}),
    ("A-05 mapping value", {"search_filters": {"PatientID": {"a": 1}}}),
    ("A-05 empty list", {"search_filters": {"PatientID": []}}),
    ("A-11 empty UID in a list", {"search_filters": {"StudyInstanceUID": [S1, ""]}}),
    ("A-11 empty UID in a comma list", {"search_filters": {"StudyInstanceUID": f"{S1},"}}),
    ("B-28 empty CS in a comma list", {"search_filters": {"ModalitiesInStudy": "CT,"}}),
    ("A-12 only spaces", {"search_filters": {"PatientID": "   "}}),
    ("A-12 UID with a space", {"search_filters": {"StudyInstanceUID": f"{S1} "}}),
    ("B-08 star in a UID list", {"search_filters": {"StudyInstanceUID": [S1, "*"]}}),
    ("B-08 two stars on a UID", {"search_filters": {"StudyInstanceUID": "**"}}),
    ("A-05 IS with an underscore", {"search_filters": {"NumberOfStudyRelatedSeries": "1_0"}}),
    ("A-05 IS as a float", {"search_filters": {"NumberOfStudyRelatedSeries": 1.0}}),
    ("A-05 IS out of range", {"search_filters": {"NumberOfStudyRelatedSeries": 2**40}}),
    ("A-05 DS nan", {"search_filters": {"PatientWeight": "nan"}}),
    ("A-05 DS inf", {"search_filters": {"PatientWeight": float("inf")}}),
    ("A-05 AS malformed", {"search_filters": {"PatientAge": "45"}}),
    ("A-05 PN with four groups", {"search_filters": {"PatientName": "A=B=C=D"}}),
    ("A-05 TM with a colon", {"search_filters": {"StudyTime": "12:00"}}),
    ("B-15 DA year 0", {"search_filters": {"StudyDate": "00000101"}}),
    ("B-21 offset out of range", {"search_filters": {"TimezoneOffsetFromUTC": "+2500"}}),
    ("B-21 offset with a colon", {"search_filters": {"TimezoneOffsetFromUTC": "+01:00"}}),
]


@pytest.mark.needs("strict-validation")
@pytest.mark.parametrize("kwargs", [k for _, k in BAD_QUERIES], ids=[n for n, _ in BAD_QUERIES])
def test_every_malformed_input_is_invalid_query_error(
    client: dicomfs.DICOMClient, kwargs: dict[str, Any]
) -> None:
    """A-01, A-04, A-05, A-09, A-11, A-12, B-08, B-15, L-03: every malformed argument raises
    InvalidQueryError (a ValueError and an HTTPError with status 400), never another type."""
    with pytest.raises(InvalidQueryError) as info:
        client.search_for_studies(**kwargs)
    assert isinstance(info.value, ValueError)
    assert info.value.response.status_code == 400


@pytest.mark.needs("strict-validation")
def test_bulk_data_is_neither_a_key_nor_returned_empty(client: dicomfs.DICOMClient) -> None:
    """A-05, C-04: Pixel Data cannot be a match key (400), and includefield=PixelData never
    claims that the instance has none (the index does not keep bulk data)."""
    with pytest.raises(InvalidQueryError):
        client.search_for_instances(search_filters={"PixelData": ""})
    results = client.search_for_instances(S3, fields=["PixelData"])
    assert [sorted(r).count("7FE00010") for r in results] == [0]


@pytest.mark.needs("strict-validation")  # Orthanc 1.10 answers 400 to a 31-digit limit
def test_huge_limit_and_offset(client: dicomfs.DICOMClient) -> None:
    """D-05, D-07: a limit above any maximum is not an error; an offset past the end is []."""
    assert sorted(uids(client.search_for_studies(limit=10**30))) == sorted(ALL_STUDIES)
    assert client.search_for_studies(offset=10**30) == []


def test_get_remaining_with_a_limit_returns_the_rest(client: dicomfs.DICOMClient) -> None:
    """D-06, L-01: with get_remaining, limit is a page size (dicomweb-client pages with
    offset += len(page) until an empty page): every result from offset on comes back."""
    assert sorted(uids(client.search_for_studies(limit=2, get_remaining=True))) == sorted(
        ALL_STUDIES)
    assert len(client.search_for_studies(limit=2, offset=3, get_remaining=True)) == 2


@pytest.mark.needs("limit-zero-empty")
def test_get_remaining_with_limit_zero_is_empty(client: dicomfs.DICOMClient) -> None:
    """D-06, D-08 (IMPL): limit=0 stays [] with get_remaining (the first page is empty)."""
    assert client.search_for_studies(limit=0, get_remaining=True) == []


def test_no_match_is_an_empty_list(client: dicomfs.DICOMClient) -> None:
    """D-04, L-01: no match gives [] (a list), at every level."""
    assert client.search_for_studies(search_filters={"PatientID": "NOBODY"}) == []
    assert client.search_for_series(search_filters={"Modality": "XA"}) == []
    assert client.search_for_instances(search_filters={"SOPInstanceUID": "1.2.3"}) == []


@pytest.mark.needs("strict-validation")
def test_insignificant_spaces_are_removed(client: dicomfs.DICOMClient) -> None:
    """A-12 (IMPL): trailing spaces (and, for LO, SH, CS, AE, IS, DS, leading ones) are padding
    (PS3.5 6.2): the value is compared without them."""
    assert studies(client, PatientID="P1-0001 ") == [S1]
    assert studies(client, PatientID=" P1-0001") == [S1]
    assert studies(client, StudyDate="20200315 ") == [S1]
    assert studies(client, PatientName="DOE^JOHN ") == [S1]


def test_only_stars_is_universal(client: dicomfs.DICOMClient) -> None:
    """B-09: '*' matches any run including the empty one, so '**' is universal too (the study
    with an empty StudyDescription matches); '?*' needs one character."""
    assert studies(client, StudyDescription="**") == ALL_STUDIES
    assert studies(client, StudyDescription="?*") == [S4, S3, S1, S2]


@pytest.mark.needs("percent-decoded-queries")
def test_backslash_separates_values(client: dicomfs.DICOMClient) -> None:
    """B-22, B-28 (IMPL: OR): a backslash, DICOM's value delimiter, separates values like a
    list does (not for LT, ST, UT, UR, whose values may hold one)."""
    assert studies(client, ModalitiesInStudy="SEG\\PT") == [S4, S1]
    assert studies(client, PatientID="100%\\A_B") == [S5, S3]
    assert studies(client, StudyInstanceUID=f"{S1}\\{S2}") == [S1, S2]


@pytest.mark.needs("strict-validation")
def test_acr_nema_dates_are_read(client: dicomfs.DICOMClient) -> None:
    """B-12 (IMPL): the ACR-NEMA form YYYY.MM.DD (PS3.5 DA, backward compatibility) is a date,
    alone and in ranges."""
    assert studies(client, StudyDate="2020.03.15") == [S1]
    assert studies(client, StudyDate="2006.07.05-2006.07.06") == [S4, S3]


def test_numbers_as_filter_values(client: dicomfs.DICOMClient) -> None:
    """A-05, B-01: an int is accepted for IS and string VRs; a list of ints is OR."""
    assert instances(client, StudyInstanceUID=S2, InstanceNumber=2) == [sop_uid(2, 1, 2)]
    assert series(client, StudyInstanceUID=S1, SeriesNumber=[1, 3]) == [
        series_uid(1, 1), series_uid(1, 3)]
    assert studies(client, PatientID=1000) == [S4]


@pytest.mark.needs("percent-decoded-queries")
def test_non_ascii_value_matches_latin1_file(client: dicomfs.DICOMClient) -> None:
    """A-14, J-10: Müller* matches Müller^Hans stored in ISO_IR 100; the result is decoded
    and keeps its SpecificCharacterSet."""
    results = client.search_for_studies(search_filters={"PatientName": "Müller*"})
    assert uids(results) == [S3]
    assert results[0]["00100010"] == {"Value": [{"Alphabetic": "Müller^Hans"}], "vr": "PN"}
    assert results[0]["00080005"] == {"Value": ["ISO_IR 100"], "vr": "CS"}


@pytest.mark.needs("combined-datetime")
def test_universal_timezone_offset(client: dicomfs.DICOMClient) -> None:
    """B-09, B-21: TimezoneOffsetFromUTC='*' or '' qualifies nothing and is returned."""
    for value in ("*", ""):
        results = client.search_for_studies(search_filters={"TimezoneOffsetFromUTC": value})
        assert uids(results) == ALL_STUDIES
        assert results[0]["00080201"] == {"vr": "SH"}


@pytest.mark.needs("strict-validation")
def test_private_and_retired_keys(client: dicomfs.DICOMClient) -> None:
    """A-01, A-10: a private tag (any case) and a retired keyword are keys; neither is stored
    in the standard store, so nothing matches."""
    assert instances(client, **{"0023100a": "X"}) == []
    assert instances(client, OtherPatientIDs="X") == []


@pytest.mark.needs("delete")
def test_required_attributes_present_when_absent_and_counts_follow_changes(
    writable_client: dicomfs.DICOMClient,
) -> None:
    """C-04, C-05, C-06, C-07, C-08: an instance without the optional required attributes
    still gives every required attribute, {"vr": ...} without Value; counts and
    ModalitiesInStudy change at once after a store and after a delete."""
    c = writable_client
    bare = {k: None for k in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex",
                              "StudyDate", "StudyTime", "AccessionNumber", "StudyID",
                              "ReferringPhysicianName", "Modality", "SeriesNumber",
                              "InstanceNumber")}
    c.store_instances([factories.make_instance(9, 1, 1, **bare)])
    empty = {"00080020": "DA", "00080030": "TM", "00080050": "SH", "00080061": "CS",
             "00080090": "PN", "00100010": "PN", "00100020": "LO", "00100030": "DA",
             "00100040": "CS", "00200010": "SH", "00080060": "CS", "00200011": "IS",
             "00200013": "IS"}
    study = c.search_for_studies()[0]
    assert {t: study[t] for t in STUDY_REQUIRED if "Value" not in study[t]} == {
        t: {"vr": vr} for t, vr in empty.items() if t in STUDY_REQUIRED}
    se = c.search_for_series()[0]
    assert (se["00080060"], se["00200011"], se["00201209"]) == (
        {"vr": "CS"}, {"vr": "IS"}, {"Value": [1], "vr": "IS"})
    inst = c.search_for_instances()[0]
    assert {t: inst[t] for t in empty if "Value" not in inst[t]} == {
        t: {"vr": vr} for t, vr in empty.items()}

    def counts() -> tuple[Any, ...]:
        s = c.search_for_studies()[0]
        return s["00201206"]["Value"], s["00201208"]["Value"], s["00080061"].get("Value")

    assert counts() == ([1], [1], None)
    c.store_instances([factories.make_instance(9, 2, 1, Modality="CT"),
                       factories.make_instance(9, 2, 2, Modality="CT"),
                       factories.make_instance(9, 3, 1, Modality="SEG")])
    assert counts() == ([3], [4], ["CT", "SEG"])
    c.delete_series(study_uid(9), series_uid(9, 3))
    assert counts() == ([2], [3], ["CT"])
    c.delete_instance(study_uid(9), series_uid(9, 2), sop_uid(9, 2, 1))
    assert counts() == ([2], [2], ["CT"])
    assert [r["00201209"]["Value"] for r in c.search_for_series()] == [[1], [1]]


@pytest.mark.needs("delete")
def test_study_values_latest_wins(writable_client: dicomfs.DICOMClient) -> None:
    """C-15 (IMPL): instances disagree on PatientName: the most recently stored wins, and the
    remaining instance's value comes back after a delete."""
    c = writable_client
    c.store_instances([factories.make_instance(8, 1, 1, PatientName="FIRST^NAME")])
    c.store_instances([factories.make_instance(8, 1, 2, PatientName="SECOND^NAME")])
    assert c.search_for_studies()[0]["00100010"]["Value"] == [{"Alphabetic": "SECOND^NAME"}]
    assert studies(c, PatientName="FIRST*") == []
    c.delete_instance(study_uid(8), series_uid(8, 1), sop_uid(8, 1, 2))
    assert c.search_for_studies()[0]["00100010"]["Value"] == [{"Alphabetic": "FIRST^NAME"}]
