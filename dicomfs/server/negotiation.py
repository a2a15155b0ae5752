"""Which media types a request accepts, from its ``accept`` query parameter or Accept header.

The parsing and the choice of what to send are :mod:`dicomfs.media`'s; this module only turns
the HTTP inputs into :class:`~dicomfs.media.MediaRange` lists for a resource, with the server's
rules (PS3.18 §8.7.8.1):

* the ``accept`` query parameter, when present, is used instead of the Accept header, and its
  media types may not be wildcards (E-17, 400 otherwise);
* no Accept header at all is 406 (E-08);
* entries that are not valid for the resource are ignored (an Accept header lists what the
  client can take); when nothing valid is left the answer is 406;
* DICOM and rendered types together (``application/dicom`` with ``image/jpeg`` on an instance
  or rendered resource) is 400 (E-09);
* malformed entries (bad syntax, bad q) are 400.

``Accept: application/json`` is a synonym of ``application/dicom+json`` (K-05).
"""

from __future__ import annotations

import re
from urllib.request import parse_http_list

from dicomfs import media
from dicomfs._types import MediaTypes
from dicomfs.errors import BadRequestError, NotAcceptableError
from dicomfs.media import MediaRange

__all__ = ["acceptable", "media_types"]

_DICOM = frozenset({"application/dicom", "application/dicom+json", "application/dicom+xml"})
_RENDERED = frozenset({"image/jpeg", "image/png", "image/gif", "image/jp2", "text/html",
                       "text/plain", "text/xml", "video/mpeg", "video/mp4", "video/h265"})
_Q_RE = re.compile(r"(0(\.[0-9]{0,3})?|1(\.0{0,3})?)\Z")


def _entries(value: str) -> list[str]:
    return [entry.strip() for entry in parse_http_list(value) if entry.strip()]


def _q(text: str | None, entry: str) -> float:
    if text is None:
        return 1.0
    if not _Q_RE.match(text.strip()):
        raise BadRequestError(f"invalid q value in {entry!r}")
    return float(text)


def _one(entry: str, resource: str) -> tuple[MediaRange | None, str]:
    """``(range, media type)``: the range when valid for the resource, else None."""
    media_type, params = media.parse_content_type(entry)  # BadRequestError: malformed
    q = _q(params.get("q"), entry)
    if media_type == "multipart/related":
        default = media.DEFAULT_MEDIA_TYPES[resource][0].media_type
        media_type = params.get("type", default).lower()
    rng = MediaRange(media_type, params.get("transfer-syntax"), q)
    try:
        media.parse_media_types([rng], resource)
    except BadRequestError:
        return None, media_type
    return rng, media_type


def acceptable(
    query: list[tuple[str, str]], accept_header: str | None, resource: str
) -> list[MediaRange]:
    """The acceptable media types of a request for a resource, best first by order given.

    Parameters
    ----------
    query: list[tuple[str, str]]
        The decoded query parameters (``accept`` is looked for, E-17).
    accept_header: str or None
        The Accept header.
    resource: str
        ``instance``, ``frame``, ``bulkdata``, ``rendered`` or ``metadata``.

    Returns
    -------
    list[MediaRange]
        The valid entries with a weight above 0, highest weight first (see
        :func:`media_types` for the client's argument).

    Raises
    ------
    BadRequestError
        Malformed entries, wildcards in ``accept``, DICOM and rendered types mixed (E-09).
    NotAcceptableError
        No Accept at all (E-08), or nothing valid for the resource.
    """
    from_query = [value for name, value in query if name == "accept"]
    if from_query:
        entries = [e for value in from_query for e in _entries(value)]
        for entry in entries:
            media_type, params = media.parse_content_type(entry)
            inner = params.get("type", media_type) if media_type == "multipart/related" else ""
            if "*" in media_type or "*" in inner:
                raise BadRequestError(f"the accept parameter may not hold wildcards: {entry!r}")
    elif accept_header is None or not accept_header.strip():
        raise NotAcceptableError("the request has no Accept header (E-08)")
    else:
        entries = _entries(accept_header)
    valid: list[MediaRange] = []
    others: list[str] = []
    for entry in entries:
        rng, media_type = _one(entry, resource)
        if rng is None:
            others.append(media_type)
        else:
            valid.append(rng)
    if valid and others:
        kinds = {r.media_type for r in valid}
        if resource == "instance" and any(t in _RENDERED for t in others):
            raise BadRequestError(f"DICOM and rendered media types mixed: {entries} (E-09)")
        if resource == "rendered" and any(t in _DICOM for t in others) and kinds - {"*/*"}:
            raise BadRequestError(f"rendered and DICOM media types mixed: {entries} (E-09)")
    valid = sorted((r for r in valid if r.q > 0), key=lambda r: -r.q)  # stable: E-10
    if not valid:
        raise NotAcceptableError(
            f"none of {entries} can be served for a {resource} resource"
        )
    return valid


def media_types(ranges: list[MediaRange]) -> MediaTypes:
    """Ranges as the ``media_types`` argument of a client: ``"type"`` or ``(type, syntax)``,
    best first (weights are applied by the order)."""
    return tuple(
        r.media_type if r.transfer_syntax is None else (r.media_type, r.transfer_syntax)
        for r in ranges
    )
