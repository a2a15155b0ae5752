"""Table-driven tests of dicomfs.index.matching: (VR, query, stored values, expected).

Each row is checked with the pure-Python predicate over DICOM JSON values; SQL clauses are
checked against the same rows in tests/unit/test_query.py and tests/property/.
"""

from __future__ import annotations

from typing import Any

import pytest

from dicomfs.errors import InvalidQueryError
from dicomfs.index.matching import (
    CombinedDateTime,
    DateTimeRange,
    UIDList,
    Universal,
    combine_date_time,
    dt_bounds,
    like_pattern,
    parse_value,
    tm_bounds,
)

PN = {"Alphabetic": "DOE^JOHN"}
IDEO = {"Ideographic": "王^小東"}
BOTH = {"Alphabetic": "Wang^XiaoDong", "Ideographic": "王^小東"}

# (vr, query, stored Value list or None, expected, id)
TABLE: list[tuple[str, Any, list[Any] | None, bool, str]] = [
    # B-01 single value, case-sensitive
    ("SH", "ABC", ["ABC"], True, "B-01 exact"),
    ("SH", "abc", ["ABC"], False, "B-01 case"),
    ("CS", "ct", ["CT"], False, "B-01 CS case"),
    ("LO", "CHEST", ["CHEST PA"], False, "B-01 no substring"),
    # B-02 PN case-insensitive, by component group
    ("PN", "doe^john", [PN], True, "B-02 PN case"),
    ("PN", "DOE", [PN], False, "B-02 PN whole value"),
    ("PN", "王^小東", [IDEO], True, "B-02 ideographic group"),
    ("PN", "wang^xiaodong", [BOTH], True, "B-02 alphabetic of two groups"),
    ("PN", "Wang^XiaoDong=王^小東", [BOTH], True, "B-02 full value"),
    ("PN", "王*", [BOTH], True, "B-02 wildcard on a group"),
    # B-03..B-07 wildcards
    ("PN", "DOE*", [PN], True, "B-03 star"),
    ("PN", "DOE*", [{"Alphabetic": "DOE"}], True, "B-03 star matches none"),
    ("SH", "A?C", ["ABC"], True, "B-04 question"),
    ("SH", "A?C", ["AC"], False, "B-04 not zero"),
    ("SH", "A?C", ["ABBC"], False, "B-04 not two"),
    ("LO", "P?-*", ["P1-0001"], True, "B-05 both"),
    ("LO", "chest*", ["CHEST PA"], False, "B-06 case"),
    ("LO", "100%", ["1000"], False, "B-07 percent"),
    ("LO", "100%", ["100%"], True, "B-07 percent literal"),
    ("LO", "A_B", ["AXB"], False, "B-07 underscore"),
    ("LO", "a.c", ["abc"], False, "B-07 regex dot"),
    ("LO", "[ab]", ["a"], False, "B-07 bracket"),
    ("LO", "[ab]", ["[ab]"], True, "B-07 bracket literal"),
    # B-09 universal
    ("LO", "", None, True, "B-09 empty matches absent"),
    ("LO", "*", None, True, "B-09 star matches absent"),
    ("DA", "", ["20200101"], True, "B-09 DA empty"),
    # B-11 UID list
    ("UI", "1.2.3,1.2.4", ["1.2.4"], True, "B-11 list"),
    ("UI", ["1.2.3", "1.2.5"], ["1.2.4"], False, "B-11 python list"),
    # B-12..B-14 dates
    ("DA", "20200101-20201231", ["20201231"], True, "B-12 closed end"),
    ("DA", "20200101-20201231", ["20200101"], True, "B-12 closed start"),
    ("DA", "20200101-20201231", ["20210101"], False, "B-12 outside"),
    ("DA", "20200101-", ["29991231"], True, "B-13 open"),
    ("DA", "20200101-", ["20191231"], False, "B-13 before"),
    ("DA", "-20200101", ["20200101"], True, "B-14 open start"),
    ("DA", "-20200101", ["20200102"], False, "B-14 after"),
    # B-16..B-18 time by meaning
    ("TM", "080000-120000", ["093000.123"], True, "B-16 fraction"),
    ("TM", "080000-120000", ["120001"], False, "B-16 past end"),
    ("TM", "080000-120000", ["120000.5"], True, "B-17 second ceiling"),
    ("TM", "-12", ["125959.999999"], True, "B-17 hour ceiling"),
    ("TM", "1000-1100", ["110059"], True, "B-17 minute ceiling"),
    ("TM", "1000-1100", ["110100"], False, "B-17 next minute"),
    ("TM", "2230", ["223000"], True, "B-18 single"),
    ("TM", "223000", ["2230"], True, "B-18 stored lower precision"),
    ("TM", "2230", ["223100"], False, "B-18 other minute"),
    ("TM", "0930", ["09:30:00"], True, "B-18 ACR-NEMA stored"),
    ("DT", "2020", ["20201231235959"], True, "B-17 DT year"),
    ("DT", "202002", ["20200229120000"], True, "B-17 DT leap month"),
    ("DT", "20200101-20200102", ["20200102230000"], True, "B-17 DT day ceiling"),
    ("DT", "20200101120000+0100", ["20200101110000+0000"], True, "B-21 same instant"),
    ("DT", "20200101120000+0100", ["20200101120000+0000"], False, "B-21 other instant"),
    ("DT", "20200101120000-0500", ["20200101170000+0000"], True, "B-21 negative offset"),
    # B-22 multi-valued
    ("CS", "AXIAL", ["ORIGINAL", "PRIMARY", "AXIAL"], True, "B-22 any value"),
    ("CS", "AXIAL", ["ORIGINAL", None, "LOCALIZER"], False, "B-22 no value"),
    # B-24 empty never matches a non-empty key
    ("SH", "123", None, False, "B-24 absent"),
    ("SH", "123", [""], False, "B-24 empty"),
    ("SH", "*", [""], True, "B-24 universal still matches"),
    # numbers
    ("IS", "3", [3], True, "IS number"),
    ("IS", "3", ["3"], True, "IS string"),
    ("DS", "1.5", ["1.50"], True, "DS by value"),
    ("US", "16", [8], False, "US other"),
    # lists (API.md: OR)
    ("LO", ["A", "B"], ["B"], True, "list OR"),
    ("CS", "CT,PT", ["PT"], True, "B-28 CS comma list"),
    ("LO", "A,B", ["A,B"], True, "LO comma is literal"),
    ("AS", "045Y", ["045Y"], True, "AS exact"),
    # audit: padding, universal stars, backslash lists, ACR-NEMA dates, numbers
    ("LO", "ABC ", ["ABC"], True, "A-12 trailing space is padding"),
    ("SH", " ABC", ["ABC"], True, "A-12 SH leading space insignificant"),
    ("PN", "DOE^JOHN ", [PN], True, "A-12 PN trailing space"),
    ("LT", " ABC", ["ABC"], False, "A-12 LT leading space significant"),
    ("DA", "20200101 ", ["20200101"], True, "A-12 DA trailing space"),
    ("LO", "**", None, True, "B-09 stars only is universal"),
    ("LO", "**", [""], True, "B-09 stars only matches empty"),
    ("LO", "?*", [""], False, "B-09 ?* needs a character"),
    ("LO", ["X", "*"], None, True, "B-09 star in a list"),
    ("CS", "CT\\PT", ["PT"], True, "B-28 backslash list"),
    ("UI", "1.2.3\\1.2.4", ["1.2.4"], True, "B-11 backslash UID list"),
    ("LT", "A\\B", ["A\\B"], True, "LT backslash is literal"),
    ("DA", "2020.01.01", ["20200101"], True, "DA ACR-NEMA query"),
    ("DA", "2020.01.01-2020.12.31", ["20200601"], True, "DA ACR-NEMA range"),
    ("DA", "20200101", ["2020.01.01"], True, "DA ACR-NEMA stored"),
    ("IS", 1, [1], True, "A-05 int value"),
    ("IS", "+1", ["1"], True, "IS explicit sign"),
    ("IS", " 7", [7], True, "IS leading space"),
    ("DS", "1e0", ["1.0"], True, "DS exponent"),
    ("DS", 0.5, [".5"], True, "DS float value"),
    ("US", 65535, [65535], True, "US maximum"),
    ("PN", "*=王^小東", [IDEO], True, "B-02 PN groups with wildcard"),
]


@pytest.mark.parametrize(("vr", "query", "stored", "expected"),
                         [row[:4] for row in TABLE], ids=[row[4] for row in TABLE])
def test_matching_table(vr: str, query: Any, stored: list[Any] | None, expected: bool) -> None:
    """B-01..B-28: the Python predicate of each matching type (PS3.4 C.2.2.2)."""
    assert parse_value(vr, query).matches(stored) is expected


FUZZY = [
    ("jan", {"Alphabetic": "DOE^JANE"}, True),
    ("ohn", PN, False),
    ("j?h", PN, True),
    ("小", IDEO, True),
    ("doe^john", PN, True),
    ("WANG", BOTH, True),
    ("xiao", BOTH, True),
]


@pytest.mark.parametrize(("query", "stored", "expected"), FUZZY)
def test_fuzzy_person_name(query: str, stored: dict[str, str], expected: bool) -> None:
    """B-26 (API.md): fuzzy = also a case-insensitive prefix of any name component."""
    assert parse_value("PN", query, fuzzy=True).matches([stored]) is expected


BAD = [
    ("DA", "20201345"), ("DA", "2020-13-45"), ("DA", "-"), ("DA", "20201231-20200101"),
    ("DA", "2020*"), ("DA", "2020"), ("DA", "20200101-20200102-20200103"),
    ("TM", "250000"), ("TM", "1260"), ("TM", "12-10"), ("TM", "09*"), ("TM", "-"),
    ("DT", "20201301"), ("DT", "20200101-20191231"), ("DT", "2020+2500"),
    ("UI", "1.2.*"), ("UI", "1.2.a"), ("UI", "1." + "2" * 70),
    ("IS", "abc"), ("IS", "1*"), ("DS", "x"), ("US", "1.5"),
    ("SQ", "X"), ("OB", "X"), ("AT", "0010"),
    ("LO", True), ("LO", {"a": 1}), ("LO", []), ("LO", [["A"]]), ("LO", "A\x00"),
    # audit
    ("LO", None), ("LO", b"A"), ("LO", {"A"}), ("LO", "   "), ("PN", " "), ("UI", "1.2 "),
    ("CS", "CT,"), ("CS", ","), ("UI", ["1.2", ""]), ("LO", ["A", ""]), ("UI", ["1.2", "*"]),
    ("UI", "**"), ("DA", "**"), ("IS", "1_0"), ("IS", "1.0"), ("IS", 1.0), ("IS", 2**31),
    ("IS", "1234567890123"), ("US", -1), ("US", 65536), ("SS", "40000"), ("DS", "nan"),
    ("DS", "inf"), ("DS", float("nan")), ("DS", "1,5e"), ("AS", "45"), ("AS", "045y"),
    ("PN", "A=B=C=D"), ("DA", "2020.1.1"), ("DA", "00000101"), ("TM", "12:00"),
    ("TM", "120000."), ("TM", "1"), ("DT", "0000"),
]


@pytest.mark.parametrize(("vr", "query"), BAD)
def test_malformed_values_raise(vr: str, query: Any) -> None:
    """A-05, B-08 (IMPL: 400), B-15 (IMPL: 400): malformed values are never silently dropped."""
    with pytest.raises(InvalidQueryError):
        parse_value(vr, query)


def test_universal_and_uid_list_shapes() -> None:
    """B-09, B-11: empty and * are universal; a UID list is deduplicated in order."""
    assert parse_value("PN", "") == Universal()
    assert parse_value("UI", "1.2,1.3,1.2") == UIDList(("1.2", "1.3"))
    for vr in ("AE", "CS", "LO", "LT", "PN", "SH", "ST", "UC", "UR", "UT", "UI", "DA", "TM",
               "DT", "IS", "DS", "US", "AS", "AT", "SQ"):
        assert parse_value(vr, "*") == Universal(), vr
        assert parse_value(vr, "") == Universal(), vr
    assert parse_value("SH", "***") == Universal()
    assert parse_value("SH", [""]) == Universal()
    assert parse_value("UI", ["1.2"]) == UIDList(("1.2",))


def test_like_pattern_escapes_literals() -> None:
    """B-05, B-07: * -> %, ? -> _, literal % _ ! escaped with !."""
    assert like_pattern("a*b?c%d_e!f") == "a%b_c!%d!_e!!f"


def test_bounds_by_meaning() -> None:
    """B-16, B-17: floor and ceiling of partial TM and DT values."""
    assert tm_bounds("12") == ("120000.000000", "125959.999999")
    assert tm_bounds("093000.5") == ("093000.500000", "093000.599999")
    assert dt_bounds("2021") == ("20210101000000.000000", "20211231235959.999999", None)
    assert dt_bounds("20240229+0100") == ("20240229000000.000000", "20240229235959.999999", 60)


def test_combined_date_time_needs_same_form() -> None:
    """B-19: only two ranges of the same form combine into one DT range."""
    date = parse_value("DA", "20060705-20060707")
    time = parse_value("TM", "1000-1800")
    combined = combine_date_time(date, time)
    assert combined == CombinedDateTime("20060705100000.000000", "20060707180059.999999")
    assert combined.matches_pair(["20060706"], ["030000"]) is True
    assert combined.matches_pair(["20060705"], ["090000"]) is False
    assert combined.matches_pair(["20060706"], None) is True  # no time: the date decides
    assert combine_date_time(date, parse_value("TM", "1000")) is None
    assert combine_date_time(parse_value("DA", "20060705-"), time) is None
    open_end = combine_date_time(parse_value("DA", "20060705-"), parse_value("TM", "1000-"))
    assert open_end == CombinedDateTime("20060705100000.000000", None)


def test_dt_range_with_offsets() -> None:
    """B-21: a DT range whose bounds carry offsets compares instants."""
    m = parse_value("DT", "20200101120000+0100-20200101130000+0100")
    assert isinstance(m, DateTimeRange)
    assert m.matches(["20200101113000+0000"]) is True
    assert m.matches(["20200101123000+0000"]) is False
    assert m.matches(["20200101123000"], stored_offset=60) is True
