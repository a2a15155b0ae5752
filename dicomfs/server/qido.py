"""QIDO-RS query strings -> ``search_for_*`` arguments, and the warnings they carry.

Rules (PS3.18 §8.3, CONFORMANCE A and D):

* parameter names are case-sensitive (A-03): ``limit``, ``offset``, ``fuzzymatching``,
  ``includefield``, ``emptyvaluematching``, ``multiplevaluematching``, ``accept``, ``charset``;
* an attribute filter is a keyword, an 8-hex-digit tag (any case, A-01) or a dotted path of
  them (A-09); any other name is not supported: it is ignored and named in a Warning 299 (A-04);
* ``includefield`` works repeated and as a comma list (A-06); an attribute value with commas
  (``StudyInstanceUID=1.2.3,1.2.4``, ``ModalitiesInStudy=CT,PT``) and a repeated attribute (as
  dicomweb-client sends a Python list) become a list value: any of them matches (A-11, B-11,
  B-28 OR); so a literal comma cannot be searched for over HTTP;
* ``limit``/``offset`` must be non-negative integers and ``fuzzymatching`` ``true`` or
  ``false`` (A-05, A-08): anything else is 400; each may appear once;
* ``emptyvaluematching=true`` and ``multiplevaluematching=true`` are not supported: the search
  runs without them and the standard Warning 299 says so (B-27, B-28).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pydicom.datadict

from dicomfs.errors import InvalidQueryError

__all__ = ["SearchQuery", "parse_search_query"]

_TAG = re.compile(r"[0-9A-Fa-f]{8}")
# Any length (D-07: a limit above the maximum is capped, an offset past the end gives no
# results); 4000 digits keeps int() below CPython's conversion limit.
_UINT = re.compile(r"[0-9]{1,4000}")
_BOOLEAN = {"true": True, "false": False}
_ONCE = ("limit", "offset", "fuzzymatching", "emptyvaluematching", "multiplevaluematching")
_IGNORED_QUIETLY = frozenset({"accept", "charset"})
_UNSUPPORTED_TEXT = {
    "emptyvaluematching": (
        "The emptyvaluematching parameter is not supported. "
        "Empty Value Matching has not been performed."
    ),
    "multiplevaluematching": (
        "The multiplevaluematching parameter is not supported. "
        "Multiple Value Matching has not been performed."
    ),
}


@dataclass
class SearchQuery:
    """The arguments of one ``search_for_*`` call, and the Warning texts of the request."""

    limit: int | None = None
    offset: int = 0
    fuzzymatching: bool | None = None
    fields: list[str] = field(default_factory=list)
    filters: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def _is_attribute(name: str) -> bool:
    """A keyword, a tag or a dotted path of them (A-01, A-09); keywords are case-sensitive."""
    return bool(name) and all(
        _TAG.fullmatch(part) or pydicom.datadict.tag_for_keyword(part) is not None
        for part in name.split(".")
    )


def _boolean(name: str, value: str) -> bool:
    if value not in _BOOLEAN:
        raise InvalidQueryError(f"{name} must be true or false, not {value!r} (A-05, A-08)")
    return _BOOLEAN[value]


def _uint(name: str, value: str) -> int:
    if not _UINT.fullmatch(value):
        raise InvalidQueryError(f"{name} must be a non-negative integer, not {value!r} (A-05)")
    return int(value)


def parse_search_query(pairs: list[tuple[str, str]]) -> SearchQuery:
    """Turn decoded query pairs into search arguments.

    >>> q = parse_search_query([("PatientID", "P1"), ("includefield", "00081048,StudyID"),
    ...                         ("limit", "5"), ("Limit", "9")])
    >>> q.filters, q.fields, q.limit, q.warnings
    ({'PatientID': 'P1'}, ['00081048', 'StudyID'], 5, \
['The following query parameters are not supported and were ignored: Limit'])

    Raises
    ------
    InvalidQueryError
        A bad value of a known parameter, or a known parameter given twice.
    """
    query = SearchQuery()
    seen: set[str] = set()
    unsupported: list[str] = []
    values: dict[str, list[str]] = {}
    for name, value in pairs:
        if name in _ONCE:
            if name in seen:
                raise InvalidQueryError(f"{name} given more than once")
            seen.add(name)
        if name == "limit":
            query.limit = _uint(name, value)
        elif name == "offset":
            query.offset = _uint(name, value)
        elif name == "fuzzymatching":
            query.fuzzymatching = _boolean(name, value)
        elif name in _UNSUPPORTED_TEXT:
            if _boolean(name, value):
                query.warnings.append(_UNSUPPORTED_TEXT[name])
        elif name == "includefield":
            query.fields.extend(p.strip() for p in value.split(",") if p.strip())
        elif name in _IGNORED_QUIETLY:
            continue
        elif _is_attribute(name):
            values.setdefault(name, []).append(value)
        elif name not in unsupported:
            unsupported.append(name)
    for name, given in values.items():
        items = [item for value in given for item in (value.split(",") if value else [value])]
        query.filters[name] = items[0] if len(items) == 1 else items
    if unsupported:
        query.warnings.append(
            "The following query parameters are not supported and were ignored: "
            + ", ".join(unsupported)
        )
    return query
