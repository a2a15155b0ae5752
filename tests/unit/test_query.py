"""dicomfs.index.query / dicomfs.file.qido on hand-made index rows (in-memory SQLite).

The rows are inserted directly (schema from ``Base.metadata.create_all``: a throw-away test
index, the production schema comes from Alembic), so each test states exactly what is stored.
"""

from __future__ import annotations

import itertools
import json
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select
from sqlalchemy.dialects import postgresql

from dicomfs.errors import InvalidQueryError
from dicomfs.file import qido
from dicomfs.index.columns import instance_columns, series_columns, split_levels, study_columns
from dicomfs.index.engine import create_index_engine
from dicomfs.index.matching import parse_value
from dicomfs.index.models import Base, File, Instance, Series, Study

_ids = itertools.count(1)


def el(vr: str, *values: Any) -> dict[str, Any]:
    return {"Value": list(values), "vr": vr} if values else {"vr": vr}


def instance_json(study: str, series: str, sop: str, **extra: dict[str, Any]) -> dict[str, Any]:
    doc = {
        "00080016": el("UI", "1.2.840.10008.5.1.4.1.1.2"), "00080018": el("UI", sop),
        "0020000D": el("UI", study), "0020000E": el("UI", series),
        "00080060": el("CS", "CT"), "00200013": el("IS", 1),
    }
    doc.update(extra)
    return doc


def add(engine: Engine, doc: dict[str, Any]) -> None:
    """Insert one instance (and its study and series when new), as the indexer would."""
    study_doc, series_doc = split_levels(doc)
    n = next(_ids)
    with engine.begin() as conn:
        uid = doc["0020000D"]["Value"][0]
        if conn.execute(select(Study).where(Study.study_instance_uid == uid)).first() is None:
            row = study_columns(doc)
            conn.execute(insert(Study).values(**row, attributes=json.dumps(study_doc)))
        se = doc["0020000E"]["Value"][0]
        if conn.execute(select(Series).where(Series.series_instance_uid == se)).first() is None:
            row = series_columns(doc)
            conn.execute(insert(Series).values(**row, attributes=json.dumps(series_doc)))
        conn.execute(insert(File).values(id=n, path=f"f{n}", size=1, mtime_ns=1))
        conn.execute(insert(Instance).values(
            **instance_columns(doc), file_id=n, transfer_syntax_uid="1.2.840.10008.1.2",
            attributes=json.dumps(doc)))


@pytest.fixture
def engine() -> Any:
    engine = create_index_engine("sqlite://")
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


def ctx(engine: Engine) -> Any:
    return SimpleNamespace(repo=SimpleNamespace(engine=engine), base_url="file:///store")


def found(engine: Engine, level: str = "study", tag: str = "0020000D", **kwargs: Any) -> list[str]:
    return [r[tag]["Value"][0] for r in qido.search(ctx(engine), level, **kwargs)]  # type: ignore[arg-type]


def test_timezone_offset_moves_dates_and_times(engine: Engine) -> None:
    """B-21: with TimezoneOffsetFromUTC, the query's dates and times are in that offset; an
    entity with its own offset is compared by instant."""
    add(engine, instance_json("1.1", "1.1.1", "1.1.1.1",
                              **{"00080020": el("DA", "20200101"), "00080030": el("TM", "2300"),
                                 "00080201": el("SH", "-0500")}))
    assert found(engine, search_filters={"StudyDate": "20200101"}) == ["1.1"]
    # 2020-01-01 23:00 at -0500 is 2020-01-02 04:00 at +0000
    utc = {"TimezoneOffsetFromUTC": "+0000"}
    assert found(engine, search_filters={**utc, "StudyDate": "20200102"}) == ["1.1"]
    assert found(engine, search_filters={**utc, "StudyDate": "20200101"}) == []
    assert found(engine, search_filters={**utc, "StudyTime": "0300-0500"}) == ["1.1"]
    assert found(engine, search_filters={**utc, "StudyDate": "20200102-20200102",
                                         "StudyTime": "0400-0401"}) == ["1.1"]
    assert found(engine, search_filters={"StudyDate": "20200102-20200102",
                                         "StudyTime": "0400-0401"}) == []


def test_datetime_attribute_by_instant(engine: Engine) -> None:
    """B-21, B-17: a DT attribute (no column) is matched by meaning and by instant."""
    add(engine, instance_json("2.1", "2.1.1", "2.1.1.1",
                              **{"0008002A": el("DT", "20200101120000+0100")}))
    def hits(value: str, **more: str) -> list[str]:
        return found(engine, "instance", "00080018",
                     search_filters={"AcquisitionDateTime": value, **more})

    assert hits("2020") == ["2.1.1.1"]
    assert hits("20200101110000+0000") == ["2.1.1.1"]
    assert hits("20200101120000+0000") == []
    assert hits("202001011100-202001011130", TimezoneOffsetFromUTC="+0000") == ["2.1.1.1"]
    assert hits("20200102-") == []


def test_combined_date_time_without_stored_time(engine: Engine) -> None:
    """B-19: a study without StudyTime matches a combined range when its date is inside."""
    add(engine, instance_json("3.1", "3.1.1", "3.1.1.1", **{"00080020": el("DA", "20060706")}))
    assert found(engine, search_filters={"StudyDate": "20060705-20060707",
                                         "StudyTime": "1000-1800"}) == ["3.1"]
    assert found(engine, search_filters={"StudyDate": "20060707-20060708",
                                         "StudyTime": "1000-1800"}) == []


def test_nested_sequence_paths(engine: Engine) -> None:
    """A-09, B-23: dotted paths through two sequence levels, item by item."""
    code = {"00080100": el("SH", "T-D1100"), "00080102": el("SH", "SRT")}
    other = {"00080100": el("SH", "X"), "00080102": el("SH", "99LOCAL")}
    add(engine, instance_json("4.1", "4.1.1", "4.1.1.1", **{
        "00081032": {"vr": "SQ", "Value": [code, other]}}))
    assert found(engine, search_filters={"ProcedureCodeSequence.CodeValue": "T-D1100",
                                         "ProcedureCodeSequence.CodingSchemeDesignator": "SRT"}
                 ) == ["4.1"]
    assert found(engine, search_filters={"00081032.00080100": "T-D1100",
                                         "00081032.00080102": "99LOCAL"}) == []
    with pytest.raises(InvalidQueryError):
        found(engine, search_filters={"PatientID.CodeValue": "X"})


def test_private_tag_and_creator(engine: Engine) -> None:
    """A-10, J-12: a private element can be searched and returned, with its creator."""
    add(engine, instance_json("5.1", "5.1.1", "5.1.1.1", **{
        "00230010": el("LO", "AcmeCompany"), "00231002": el("LO", "SECRET")}))
    results = qido.search(ctx(engine), "instance", fields=["00231002"],  # type: ignore[arg-type]
                          search_filters={"00230010": "AcmeCompany"})
    assert results[0]["00231002"] == el("LO", "SECRET")
    assert results[0]["00230010"] == el("LO", "AcmeCompany")


def test_implicit_vr_is_served_as_explicit(engine: Engine) -> None:
    """C-08, E-06: AvailableTransferSyntaxUID never names Implicit VR Little Endian."""
    add(engine, instance_json("6.1", "6.1.1", "6.1.1.1"))
    result = qido.search(ctx(engine), "instance")  # type: ignore[arg-type]
    assert result[0]["00083002"] == el("UI", "1.2.840.10008.1.2.1")
    assert result[0]["00080056"] == el("CS", "ONLINE")


def test_specific_character_set_from_the_instance(engine: Engine) -> None:
    """J-10 (2025e): SpecificCharacterSet is returned as stored."""
    add(engine, instance_json("7.1", "7.1.1", "7.1.1.1",
                              **{"00080005": el("CS", "ISO_IR 100")}))
    result = qido.search(ctx(engine), "instance", fields=["SpecificCharacterSet"])  # type: ignore[arg-type]
    assert result[0]["00080005"] == el("CS", "ISO_IR 100")


def test_paging_is_total_with_equal_sort_keys(engine: Engine) -> None:
    """C-14, D-06: equal dates and times are ordered by UID; pages never overlap."""
    for n in (3, 1, 2):
        add(engine, instance_json(f"8.{n}", f"8.{n}.1", f"8.{n}.1.1",
                                  **{"00080020": el("DA", "20200101")}))
    pages = [found(engine, limit=1, offset=o) for o in range(4)]
    assert pages == [["8.1"], ["8.2"], ["8.3"], []]


@pytest.mark.parametrize("bad", [{"fuzzymatching": 1}, {"get_remaining": "yes"},
                                 {"limit": True}, {"fields": [3]},
                                 {"search_filters": {"limit": 3}},
                                 {"search_filters": ["PatientID"]},
                                 {"study_instance_uid": "1.2.*"},
                                 {"fields": 3}, {"fields": {"PatientID": 1}}, {"fields": [""]},
                                 {"fields": ","}, {"fields": {"PatientID"}}, {"limit": "5"},
                                 {"offset": 1.0}, {"fuzzymatching": "true"},
                                 {"search_filters": {"QueryRetrieveLevel": "SERIES"}},
                                 {"search_filters": {"PixelData": "*"}},
                                 {"search_filters": {".": "X"}},
                                 {"search_filters": {"TimezoneOffsetFromUTC": " "}},
                                 {"study_instance_uid": "1.2 "}, {"study_instance_uid": ""},
                                 {"study_instance_uid": "1.2,1.3"},
                                 {"study_instance_uid": "1.2\\1.3"}])
def test_bad_arguments(engine: Engine, bad: dict[str, Any]) -> None:
    """A-05: malformed arguments are a 400."""
    with pytest.raises(InvalidQueryError):
        qido.search(ctx(engine), "series", **bad)  # type: ignore[arg-type]


def test_series_scope_needs_study(engine: Engine) -> None:
    """A-05: a series scope without its study is malformed."""
    with pytest.raises(InvalidQueryError):
        qido.search(ctx(engine), "instance", series_instance_uid="1.2")  # type: ignore[arg-type]


def test_sql_compiles_for_postgresql() -> None:
    """The SQL side uses nothing SQLite-only: LIKE with ESCAPE, string_agg on PostgreSQL."""
    clause = parse_value("LO", "1*0%").clause(Study.patient_id)
    assert clause is not None
    sql = str(clause.compile(dialect=postgresql.dialect(),
                             compile_kwargs={"literal_binds": True}))
    assert sql == "studies.patient_id LIKE '1%%0!%%' ESCAPE '!'"
    agg = str(select(func.aggregate_strings(Series.modality, "\\")).compile(
        dialect=postgresql.dialect()))
    assert "string_agg" in agg


def test_time_ranges_with_the_checklist_examples(engine: Engine) -> None:
    """B-16, B-17, B-18 (SQL path, the study_time_key column): -12 matches 125959.999999,
    1000-1100 matches 110059, 080000-120000 matches 093000.123, 2230 matches 223000."""
    for n, tm in enumerate(("125959.999999", "110059", "093000.123", "223000", "130000"), 1):
        add(engine, instance_json(f"9.{n}", f"9.{n}.1", f"9.{n}.1.1",
                                  **{"00080020": el("DA", "20200101"), "00080030": el("TM", tm)}))
    assert found(engine, search_filters={"StudyTime": "-12"}) == ["9.3", "9.2", "9.1"]
    assert found(engine, search_filters={"StudyTime": "1000-1100"}) == ["9.2"]
    assert found(engine, search_filters={"StudyTime": "080000-120000"}) == ["9.3", "9.2"]
    assert found(engine, search_filters={"StudyTime": "2230"}) == ["9.4"]
    assert found(engine, search_filters={"StudyTime": "13-"}) == ["9.5", "9.4"]


def test_combined_date_time_on_series_keys(engine: Engine) -> None:
    """B-19 (Python path): SeriesDate/SeriesTime ranges of the same form are one DT range:
    2006-07-06 03:00 is inside 20060705-20060707 x 1000-1800, 2006-07-05 09:00 is not."""
    for n, (da, tm) in enumerate((("20060706", "0300"), ("20060705", "0900")), 1):
        add(engine, instance_json("10.1", f"10.1.{n}", f"10.1.{n}.1", **{
            "00080021": el("DA", da), "00080031": el("TM", tm)}))
    hits = found(engine, "series", "0020000E",
                 search_filters={"SeriesDate": "20060705-20060707", "SeriesTime": "1000-1800"})
    assert hits == ["10.1.1"]
    separate = found(engine, "series", "0020000E",
                     search_filters={"SeriesDate": "20060705-20060707", "SeriesTime": "0900"})
    assert separate == ["10.1.2"]


def test_paging_numbers_of_the_standard(engine: Engine) -> None:
    """D-01, D-05: 25 matches, limit=10 & offset=20 give 5; offset 25 gives []; the same
    when a key is matched in Python (PatientAge has no column)."""
    for n in range(25):
        add(engine, instance_json(f"11.{n:02d}", f"11.{n:02d}.1", f"11.{n:02d}.1.1",
                                  **{"00101010": el("AS", "045Y")}))
    every = [f"11.{n:02d}" for n in range(25)]
    assert found(engine, limit=10, offset=20) == every[20:]
    assert found(engine, limit=10, offset=20, search_filters={"PatientAge": "045Y"}) == every[20:]
    assert found(engine, offset=25) == []
    assert found(engine, offset=10**40, search_filters={"PatientAge": "045Y"}) == []
    assert found(engine, limit=10**40, offset=24) == every[24:]
    assert found(engine, limit=3, offset=21, get_remaining=True) == every[21:]


def test_binary_includefield_is_returned_only_when_stored(engine: Engine) -> None:
    """C-04, C-12: a short binary value the index keeps (InlineBinary) is returned; a long one
    (Pixel Data, never in the index) is left out rather than reported empty."""
    add(engine, instance_json("12.1", "12.1.1", "12.1.1.1", **{
        "00282000": {"vr": "OB", "InlineBinary": "AAEC"}}))
    result = qido.search(ctx(engine), "instance",  # type: ignore[arg-type]
                         fields=["ICCProfile", "PixelData"])
    assert result[0]["00282000"] == {"vr": "OB", "InlineBinary": "AAEC"}
    assert "7FE00010" not in result[0]


def test_private_key_on_study_and_series_searches(engine: Engine) -> None:
    """A-10 (the checklist's /studies example): 00230010=AcmeCompany&includefield=00231002 on a
    study search matches over the study's instances and returns the element with its creator;
    private keys must match in one instance; an absent element is returned empty."""
    acme = {"00230010": el("LO", "AcmeCompany"), "00231002": el("LO", "SECRET")}
    other = {"00230010": el("LO", "OtherCo"), "00231002": el("LO", "OTHER")}
    add(engine, instance_json("13.1", "13.1.1", "13.1.1.1", **acme))
    add(engine, instance_json("13.1", "13.1.2", "13.1.2.1", **other))
    add(engine, instance_json("13.2", "13.2.1", "13.2.1.1"))
    results = qido.search(ctx(engine), "study", fields=["00231002"],  # type: ignore[arg-type]
                          search_filters={"00230010": "AcmeCompany"})
    assert [(r["0020000D"], r["00230010"], r["00231002"]) for r in results] == [
        (el("UI", "13.1"), el("LO", "AcmeCompany"), el("LO", "SECRET"))]
    assert found(engine, search_filters={"00230010": "AcmeCompany", "00231002": "OTHER"}) == []
    assert found(engine, "series", "0020000E", search_filters={"00231002": "OTHER"}) == [
        "13.1.2"]
    every = qido.search(ctx(engine), "study", fields=["00231002"])  # type: ignore[arg-type]
    assert [r.get("00231002") for r in every] == [el("LO", "SECRET"), {"vr": "UN"}]
    assert found(engine, limit=1, offset=1, search_filters={"00231002": "*ET"}) == []
