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
from dicomfs.index.matching import AnyOf, SingleValue, Wildcard, parse_value
from dicomfs.index.models import Base, Study

# Characters special to LIKE, to regexes, to fnmatch, and letters of both cases.
# A backslash separates values in a query (B-28), never inside a stored LO value.
ALPHABET = "aAbB%_!.[]^$é王"
values = st.text(alphabet=ALPHABET, max_size=6)
patterns = st.text(alphabet=ALPHABET + "*?", min_size=1, max_size=6)
lists = st.lists(patterns, min_size=1, max_size=3)

_engine = create_index_engine("sqlite://")
Base.metadata.create_all(_engine)


def oracle(pattern: str, value: str) -> bool:
    """fnmatchcase with its own metacharacter ``[`` escaped (DICOM has only * and ?)."""
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


def sql_matches(pattern: str, value: str) -> bool:
    matcher = parse_value("LO", pattern)
    assert isinstance(matcher, (Wildcard, SingleValue, AnyOf))
    clause = matcher.clause(Study.patient_id)
    assert clause is not None
    with _engine.begin() as conn:
        conn.execute(delete(Study))
        conn.execute(insert(Study).values(study_instance_uid="1.2", patient_id=value,
                                          attributes="{}"))
        return conn.execute(select(Study.study_instance_uid).where(clause)).first() is not None


@settings(max_examples=200, deadline=None)
@given(pattern=patterns, value=values)
def test_wildcard_matches_like_fnmatch(pattern: str, value: str) -> None:
    """B-03, B-04, B-05, B-06, B-07: SQL and Python agree with the oracle."""
    if not pattern.strip("*"):
        assert parse_value("LO", pattern).universal  # only stars: universal (B-09)
        return
    if not value:
        return  # empty values have their own rule (B-24)
    expected = oracle(pattern, value)
    assert parse_value("LO", pattern).matches([value]) is expected
    assert sql_matches(pattern, value) is expected


@settings(max_examples=200, deadline=None)
@given(parts=lists, value=values)
def test_backslash_list_is_any_of(parts: list[str], value: str) -> None:
    """B-22, B-28 (IMPL: OR): values separated by a backslash match when any of them does;
    a value of only ``*`` is universal (B-09)."""
    if not value:
        return
    pattern = "\\".join(parts)
    expected = any(not p.strip("*") or oracle(p, value) for p in parts)
    matcher = parse_value("LO", pattern)
    assert matcher.matches([value]) is expected
    if any(not p.strip("*") for p in parts):
        assert matcher.universal
    else:
        assert sql_matches(pattern, value) is expected
