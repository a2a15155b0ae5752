"""DICOMweb URLs and query strings, validated before anything is sent.

Query values keep RFC 3986's query characters raw (``*``, ``,``, ``?``, ``:``, ``/``...) and
percent-encode the rest as UTF-8, including the form delimiters ``&``, ``=``, ``+`` and ``%``, the
space and ``^`` (not a URI character; urllib3 would encode it anyway). Orthanc 1.10, which does
not percent-decode query values, therefore matches wildcards and UID lists but not values with
``^``, spaces or non-ASCII characters (docs/web-client.md).

>>> encode_query([("PatientName", "DOE^J*"), ("StudyDate", "20200101-"), ("PatientID", "A B+C")])
'PatientName=DOE%5EJ*&StudyDate=20200101-&PatientID=A%20B%2BC'
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlsplit

import pydicom.datadict

from dicomfs.errors import BadRequestError, InvalidQueryError

__all__ = [
    "ServiceURL",
    "encode_query",
    "search_params",
    "validate_uid",
]

_MAX_UID_LENGTH = 64
# PS3.5 9.1: components are digits without a leading zero (a lone "0" is allowed).
_UID = re.compile(r"(?:0|[1-9][0-9]*)(?:\.(?:0|[1-9][0-9]*))*")
_PERMISSIVE_UID = re.compile(r"[^/@?#\s]+")
_TAG = re.compile(r"[0-9A-Fa-f]{8}")
# Characters sent raw in query names and values; everything else is percent-encoded (UTF-8).
_QUERY_SAFE = "*?,.-_~:/@!$()'"


def validate_uid(uid: object, permissive: bool, name: str = "UID") -> str:
    """Return ``uid`` if it is a valid DICOM UID (or, when ``permissive``, a safe path segment).

    Raises
    ------
    InvalidQueryError
        (a ``BadRequestError``, as the file client raises) Not a string; a malformed UID (too
        long, not digits and dots, a component with a leading zero); when ``permissive``, not
        usable as a URL path segment.
    """
    if not isinstance(uid, str):
        raise InvalidQueryError(f"{name} must be a string, not {type(uid).__name__}")
    if permissive:
        if _PERMISSIVE_UID.fullmatch(uid) is None:
            raise InvalidQueryError(f"{name} {uid!r} cannot be used in a URL")
    elif len(uid) > _MAX_UID_LENGTH or _UID.fullmatch(uid) is None:
        raise InvalidQueryError(
            f"{name} {uid!r} is not a valid DICOM UID (digits and dots, no leading zeros, <= 64)"
        )
    return uid


def encode_query(params: Sequence[tuple[str, str]]) -> str:
    """Encode ``(name, value)`` pairs as a query string (without the leading ``?``)."""
    return "&".join(
        f"{quote(name, safe=_QUERY_SAFE)}={quote(value, safe=_QUERY_SAFE)}"
        for name, value in params
    )


def _check_attribute(key: object, what: str) -> str:
    """A keyword, an 8-hex-digit tag, or a dotted path of them (sequence matching, A-09)."""
    if not isinstance(key, str) or not key:
        raise InvalidQueryError(f"{what} must be a keyword or a tag, not {key!r}")
    for element in key.split("."):
        if _TAG.fullmatch(element):
            continue
        if pydicom.datadict.tag_for_keyword(element) is None:
            raise InvalidQueryError(f"{what}: unknown DICOM keyword or tag {element!r}")
    return key


def _scalar(value: object, key: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise InvalidQueryError(
            f"search filter {key}: a value must be a string or a number, not {value!r}"
        )
    return value if isinstance(value, str) else str(value)


def _filter_value(value: object, key: str) -> str:
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [_scalar(v, key) for v in value]
        if not items:
            raise InvalidQueryError(f"search filter {key}: an empty list matches nothing")
        if any("," in item for item in items):
            raise InvalidQueryError(
                f"search filter {key}: a list item containing ',' cannot be sent as a list"
            )
        return ",".join(items)  # one comma-separated value (UID list, CONFORMANCE A-11)
    return _scalar(value, key)


def search_params(
    fuzzymatching: bool | None,
    limit: int | None,
    offset: int | None,
    fields: Sequence[str] | None,
    search_filters: Mapping[str, Any] | None,
    additional_params: Mapping[str, Any] | None = None,
) -> list[tuple[str, str]]:
    """Build the QIDO-RS query parameters, validating every argument.

    Raises
    ------
    InvalidQueryError
        Negative or non-integer limit/offset, non-boolean fuzzymatching, unknown keyword or tag,
        or a value that is not a string, a number or a list of them.
    """
    params: list[tuple[str, str]] = []
    if fuzzymatching is not None:
        if not isinstance(fuzzymatching, bool):
            raise InvalidQueryError("fuzzymatching must be True or False")
        params.append(("fuzzymatching", "true" if fuzzymatching else "false"))
    for name, number in (("limit", limit), ("offset", offset)):
        if number is None:
            continue
        if isinstance(number, bool) or not isinstance(number, int) or number < 0:
            raise InvalidQueryError(f"{name} must be a non-negative integer, not {number!r}")
        params.append((name, str(number)))
    if fields is not None:
        if isinstance(fields, str):
            fields = [fields]
        if not isinstance(fields, (list, tuple)):
            raise InvalidQueryError(f"fields must be a list of keywords or tags, not {fields!r}")
        seen: set[str] = set()
        # a comma-separated includefield is the same as the repeated form.
        split = [
            part for field in fields
            for part in (field.split(",") if isinstance(field, str) else [field])
        ]
        for field in split:
            if field != "all":
                _check_attribute(field, "fields")
            if field not in seen:
                seen.add(field)
                params.append(("includefield", field))
    if search_filters is not None:
        if not isinstance(search_filters, Mapping):
            raise InvalidQueryError("search_filters must be a mapping of keyword/tag to value")
        for key, value in search_filters.items():
            _check_attribute(key, "search_filters")
            params.append((key, _filter_value(value, key)))
    params.extend(extra_params(additional_params))
    return params


def extra_params(additional_params: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """``additional_params`` as pairs (a list value repeats the parameter), sent unchecked."""
    if not additional_params:
        return []
    pairs: list[tuple[str, str]] = []
    for key, value in additional_params.items():
        values = value if isinstance(value, (list, tuple)) else [value]
        for item in values:
            if isinstance(item, bool):
                item = "true" if item else "false"
            pairs.append((str(key), str(item)))
    return pairs


class ServiceURL:
    """The URLs of one DICOMweb service: base URL plus optional per-service path prefixes."""

    SERVICES = ("qido", "wado", "stow", "delete")

    def __init__(self, url: str, prefixes: Mapping[str, str | None], permissive_uid: bool) -> None:
        if not isinstance(url, str):
            raise BadRequestError(f"url must be a string, not {type(url).__name__}")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise BadRequestError(f"not an http(s) URL: {url!r}")
        if parts.query or parts.fragment:
            raise BadRequestError(f"the service URL cannot have a query or fragment: {url!r}")
        for service, prefix in prefixes.items():
            if prefix is not None and (not isinstance(prefix, str) or not prefix.strip("/")):
                raise BadRequestError(f"{service}_url_prefix must be a non-empty string")
        self.base_url = url.rstrip("/")
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.url_prefix = parts.path.rstrip("/")
        self.prefixes = {s: (p.strip("/") if p else None) for s, p in prefixes.items()}
        self.permissive_uid = permissive_uid

    def root(self, service: str) -> str:
        """The root URL of a service (``qido``, ``wado``, ``stow`` or ``delete``)."""
        prefix = self.prefixes.get(service)
        return f"{self.base_url}/{prefix}" if prefix else self.base_url

    def resource(
        self,
        service: str,
        study: str | None = None,
        series: str | None = None,
        instance: str | None = None,
        *,
        level: str | None = None,
    ) -> str:
        """``{root}/studies/{study}/series/{series}/instances/{instance}``, UIDs validated.

        ``level`` appends a search level (``studies``, ``series`` or ``instances``).
        """
        url = self.root(service)
        path: list[tuple[str, str | None, str]] = [
            ("studies", study, "study_instance_uid"),
            ("series", series, "series_instance_uid"),
            ("instances", instance, "sop_instance_uid"),
        ]
        missing_parent = False
        for segment, uid, name in path:
            if uid is None:
                missing_parent = True
                continue
            if missing_parent:
                raise BadRequestError(f"{name} given without the UIDs above it")
            validate_uid(uid, self.permissive_uid, name)
            url += f"/{segment}/{quote(uid, safe='.')}"
        if level is not None:
            url += f"/{level}"
        return url
