"""Property: DICOM wildcard matching (PS3.4 C.2.2.2.4) agrees with an fnmatch oracle.

Both implementations are checked: the SQL LIKE clause on SQLite (``case_sensitive_like=ON``,
as the index engine sets it) and the Python predicate. CONFORMANCE B-03..B-07.
"""

from __future__ import annotations

import fnmatch

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert, select

from dicomfs.index.engine import create_index_engine
from dicomfs.index.matching import SingleValue, Wildcard, parse_value
from dicomfs.index.models import Base, Study

# Characters special to LIKE, to regexes, to fnmatch, and letters of both cases.
ALPHABET = "aAbB%_!.[]^\\$é王"
values = st.text(alphabet=ALPHABET, max_size=6)
patterns = st.text(alphabet=ALPHABET + "*?", min_size=1, max_size=6)

_engine = create_index_engine("sqlite://")
Base.metadata.create_all(_engine)


def oracle(pattern: str, value: str) -> bool:
    """fnmatchcase with its own metacharacter ``[`` escaped (DICOM has only * and ?)."""
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


def sql_matches(pattern: str, value: str) -> bool:
    matcher = parse_value("LO", pattern)
    assert isinstance(matcher, (Wildcard, SingleValue))
    clause = matcher.clause(Study.patient_id)
    with _engine.begin() as conn:
        conn.execute(delete(Study))
        conn.execute(insert(Study).values(study_instance_uid="1.2", patient_id=value,
                                          attributes="{}"))
        return conn.execute(select(Study.study_instance_uid).where(clause)).first() is not None


@settings(max_examples=200, deadline=None)
@given(pattern=patterns, value=values)
def test_wildcard_matches_like_fnmatch(pattern: str, value: str) -> None:
    """B-03, B-04, B-05, B-06, B-07: SQL and Python agree with the oracle."""
    if pattern == "*" or not value:
        return  # universal matching and empty values have their own rules (B-09, B-24)
    expected = oracle(pattern, value)
    assert parse_value("LO", pattern).matches([value]) is expected
    assert sql_matches(pattern, value) is expected
