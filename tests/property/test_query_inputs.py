"""Property: whatever a caller passes to a search, the only error is InvalidQueryError.

Arbitrary values for every VR (strings with wildcards, spaces, commas, backslashes, dashes,
dots and digits, numbers, booleans, None, lists), arbitrary keys and paging arguments go
through :func:`dicomfs.file.qido.search` on a small in-memory index, which must answer with a
list or raise :class:`InvalidQueryError` (a ValueError, HTTP 400), never KeyError, TypeError,
OverflowError or a database error. CONFORMANCE A-01, A-04, A-05, A-12, B-08, B-15, L-03.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert

from dicomfs.errors import InvalidQueryError
from dicomfs.file import qido
from dicomfs.index.columns import instance_columns, series_columns, split_levels, study_columns
from dicomfs.index.engine import create_index_engine
from dicomfs.index.matching import Matcher, parse_value
from dicomfs.index.models import Base, File, Instance, Series, Study

VRS = ["AE", "AS", "AT", "CS", "DA", "DS", "DT", "FD", "FL", "IS", "LO", "LT", "OB", "PN", "SH",
       "SL", "SQ", "SS", "ST", "SV", "TM", "UC", "UI", "UL", "UN", "UR", "US", "UT", "UV"]
KEYS = ["PatientName", "PatientID", "StudyDate", "StudyTime", "StudyInstanceUID",
        "AccessionNumber", "ModalitiesInStudy", "NumberOfStudyRelatedSeries", "PatientAge",
        "PatientWeight", "TimezoneOffsetFromUTC", "SpecificCharacterSet", "IssuerOfPatientID",
        "OtherPatientIDsSequence.PatientID", "00230010", "0020000d", "Modality", "PixelData",
        "InstanceNumber", "AcquisitionDateTime", "ImageType", "Rows", "patientid", "",
        "00100000", "OtherPatientIDsSequence"]
text = st.text(alphabet="0123456789.-+*?,\\ ^=:AZaz_%é", max_size=12)
scalar = st.one_of(text, st.integers(min_value=-(2**70), max_value=2**70), st.floats(),
                   st.booleans(), st.none())
value = st.one_of(scalar, st.lists(scalar, max_size=3))

_engine = create_index_engine("sqlite://")
Base.metadata.create_all(_engine)


def _el(vr: str, *values: Any) -> dict[str, Any]:
    return {"Value": list(values), "vr": vr}


def _load() -> None:
    doc = {
        "00080016": _el("UI", "1.2.840.10008.5.1.4.1.1.2"), "00080018": _el("UI", "1.2.3.1"),
        "0020000D": _el("UI", "1.2.1"), "0020000E": _el("UI", "1.2.2"),
        "00080060": _el("CS", "CT"), "00200013": _el("IS", 1), "00080020": _el("DA", "20200101"),
        "00080030": _el("TM", "120000"), "00100010": _el("PN", {"Alphabetic": "DOE^JOHN"}),
        "00101010": _el("AS", "045Y"), "0008002A": _el("DT", "20200101120000+0100"),
        "00080008": _el("CS", "ORIGINAL", "PRIMARY"), "00230010": _el("LO", "Acme"),
        "00101002": {"vr": "SQ", "Value": [{"00100020": _el("LO", "X")}]},
    }
    study_doc, series_doc = split_levels(doc)
    with _engine.begin() as conn:
        conn.execute(insert(Study).values(**study_columns(doc), attributes=json.dumps(study_doc)))
        conn.execute(insert(Series).values(**series_columns(doc),
                                           attributes=json.dumps(series_doc)))
        conn.execute(insert(File).values(id=1, path="f", size=1, mtime_ns=1))
        conn.execute(insert(Instance).values(**instance_columns(doc), file_id=1,
                                             transfer_syntax_uid="1.2.840.10008.1.2.1",
                                             attributes=json.dumps(doc)))


_load()
_CTX = SimpleNamespace(repo=SimpleNamespace(engine=_engine), base_url="file:///store")


@settings(max_examples=300, deadline=None)
@given(vr=st.sampled_from(VRS), query=value, stored=st.lists(scalar, max_size=3))
def test_parse_value_raises_only_invalid_query_error(vr: str, query: Any, stored: Any) -> None:
    """A-05, B-08, B-15: a value is a matcher or InvalidQueryError; a matcher never raises."""
    try:
        matcher = parse_value(vr, query)
    except InvalidQueryError:
        return
    assert isinstance(matcher, Matcher)
    assert matcher.matches(stored) in (True, False)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    level=st.sampled_from(["study", "series", "instance"]),
    filters=st.dictionaries(st.sampled_from(KEYS), value, max_size=3),
    limit=st.one_of(st.none(), st.integers(min_value=-2, max_value=2**70), text, st.floats()),
    offset=st.one_of(st.none(), st.integers(min_value=-2, max_value=2**70), text),
    fields=st.one_of(st.none(), st.lists(st.sampled_from([*KEYS, "all"]), max_size=3), text),
)
def test_search_raises_only_invalid_query_error(
    level: str, filters: dict[str, Any], limit: Any, offset: Any, fields: Any
) -> None:
    """A-01, A-04, A-05, L-03: a search answers a list or raises InvalidQueryError (400)."""
    try:
        results = qido.search(_CTX, level, limit=limit, offset=offset,  # type: ignore[arg-type]
                              fields=fields, search_filters=filters)
    except InvalidQueryError as exc:
        assert exc.response.status_code == 400
        return
    assert isinstance(results, list)
    assert len(results) in (0, 1)
