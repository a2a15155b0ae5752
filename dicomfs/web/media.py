"""Accept header values for each kind of DICOMweb resource, validated before anything is sent.

``media_types`` is what the protocol methods take: a tuple of media types, each a string or a
``(media_type, transfer_syntax_uid)`` pair, ``"*"`` as a wildcard transfer syntax.
A media type that is not valid for the resource, or a mix of resource categories, raises
:class:`~dicomfs.errors.BadRequestError` (a ``ValueError``, as dicomweb-client raises),
CONFORMANCE E-09 and L-04.

>>> accept_for_instances(None)
'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.1'
>>> accept_for_frames((("image/jpeg", "1.2.840.10008.1.2.4.50"), "application/octet-stream"))
... # doctest: +NORMALIZE_WHITESPACE
'multipart/related; type="image/jpeg"; transfer-syntax=1.2.840.10008.1.2.4.50,
 multipart/related; type="application/octet-stream"'
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from dicomfs.errors import BadRequestError

__all__ = [
    "DICOM_JSON_ACCEPT",
    "DICOM_TRANSFER_SYNTAXES",
    "EXPLICIT_VR_LITTLE_ENDIAN",
    "PIXEL_MEDIA_TYPES",
    "RENDERED_MEDIA_TYPES",
    "accept_for_bulkdata",
    "accept_for_frames",
    "accept_for_instances",
    "accept_for_rendered",
    "normalize_media_types",
]

EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1"
DICOM_JSON_ACCEPT = "application/dicom+json, application/json"

#: Transfer syntax -> the media types of a frame or bulk data item in it (first: canonical).
PIXEL_MEDIA_TYPES: dict[str, tuple[str, ...]] = {
    EXPLICIT_VR_LITTLE_ENDIAN: ("application/octet-stream",),
    "1.2.840.10008.1.2.5": ("image/dicom-rle", "image/x-dicom-rle"),
    "1.2.840.10008.1.2.4.50": ("image/jpeg",),
    "1.2.840.10008.1.2.4.51": ("image/jpeg",),
    "1.2.840.10008.1.2.4.57": ("image/jpeg",),
    "1.2.840.10008.1.2.4.70": ("image/jpeg",),
    "1.2.840.10008.1.2.4.80": ("image/jls", "image/x-jls"),
    "1.2.840.10008.1.2.4.81": ("image/jls", "image/x-jls"),
    "1.2.840.10008.1.2.4.90": ("image/jp2",),
    "1.2.840.10008.1.2.4.91": ("image/jp2",),
    "1.2.840.10008.1.2.4.92": ("image/jpx",),
    "1.2.840.10008.1.2.4.93": ("image/jpx",),
    "1.2.840.10008.1.2.4.201": ("image/jphc",),
    "1.2.840.10008.1.2.4.202": ("image/jphc",),
    "1.2.840.10008.1.2.4.203": ("image/jphc",),
    "1.2.840.10008.1.2.4.110": ("image/jxl",),
    "1.2.840.10008.1.2.4.111": ("image/jxl",),
    "1.2.840.10008.1.2.4.112": ("image/jxl",),
    "1.2.840.10008.1.2.4.100": ("video/mpeg2",),
    "1.2.840.10008.1.2.4.101": ("video/mpeg2",),
    "1.2.840.10008.1.2.4.102": ("video/mp4",),
    "1.2.840.10008.1.2.4.103": ("video/mp4",),
    "1.2.840.10008.1.2.4.104": ("video/mp4",),
    "1.2.840.10008.1.2.4.105": ("video/mp4",),
    "1.2.840.10008.1.2.4.106": ("video/mp4",),
    "1.2.840.10008.1.2.4.107": ("video/H265",),
    "1.2.840.10008.1.2.4.108": ("video/H265",),
}

#: Transfer syntaxes a DICOMweb server may send instances in (never Implicit VR / Big Endian, E-06).
DICOM_TRANSFER_SYNTAXES: frozenset[str] = frozenset(
    {*PIXEL_MEDIA_TYPES, "1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.4.53"}
    | {"1.2.840.10008.1.2.4.55", "1.2.840.10008.1.2.4.59", "1.2.840.10008.1.2.4.61"}
)

_PIXEL_TYPES = frozenset(mt for types in PIXEL_MEDIA_TYPES.values() for mt in types)

#: Media types of rendered resources (single part, no transfer syntax).
RENDERED_MEDIA_TYPES: frozenset[str] = frozenset(
    {
        "image/jpeg", "image/png", "image/gif", "image/jp2", "image/*",
        "video/mpeg", "video/mp4", "video/H265", "video/gif", "video/*",
        "text/html", "text/plain", "text/xml", "text/rtf", "application/pdf",
    }
)

MediaItem = tuple[str, "str | None"]


def normalize_media_types(media_types: object) -> list[MediaItem]:
    """Check the shape of ``media_types`` and return ``[(media_type, transfer_syntax|None)]``.

    Raises
    ------
    BadRequestError
        Not a non-empty tuple/list of strings or ``(str, str)`` pairs, or a malformed media type.
    """
    if isinstance(media_types, (str, bytes)) or not isinstance(media_types, Sequence):
        raise BadRequestError(
            f"media_types must be a tuple of media types, not {type(media_types).__name__}"
        )
    if not media_types:
        raise BadRequestError("media_types is empty: give at least one media type")
    items: list[MediaItem] = []
    for item in media_types:
        if isinstance(item, str):
            media_type, syntax = item, None
        elif (
            isinstance(item, (tuple, list))
            and len(item) in (1, 2)
            and all(isinstance(x, str) for x in item)
        ):
            media_type, syntax = item[0], (item[1] if len(item) == 2 else None)
        else:
            raise BadRequestError(f"not a media type or (media type, transfer syntax): {item!r}")
        kind, sep, subtype = media_type.partition("/")
        if not sep or not kind or not subtype or "/" in subtype or any(
            c in media_type for c in ' ,;"'
        ):
            raise BadRequestError(f'not a valid media type: "{media_type}"')
        if syntax is not None and syntax != "*" and not _is_uid(syntax):
            raise BadRequestError(f'not a transfer syntax UID: "{syntax}"')
        items.append((media_type, syntax))
    return items


def _is_uid(value: str) -> bool:
    parts = value.split(".")
    return 0 < len(value) <= 64 and all(p.isdigit() for p in parts)


def _category(media_type: str) -> str:
    if media_type.startswith("application/"):
        return media_type
    return media_type.split("/")[0] + "/"


def _single_category(items: Iterable[MediaItem], resource: str) -> None:
    """CONFORMANCE L-04: one resource category; ``image/*`` with octet-stream is the one mix."""
    categories = {_category(mt) for mt, _ in items}
    if len(categories) > 1 and categories != {"image/", "application/octet-stream"}:
        raise BadRequestError(
            f"media types of different categories cannot be mixed for {resource}: "
            + ", ".join(sorted(categories))
        )


def _multipart(media_type: str, syntax: str | None) -> str:
    value = f'multipart/related; type="{media_type}"'
    return value if syntax is None else f"{value}; transfer-syntax={syntax}"


def accept_for_instances(media_types: object) -> str:
    """Accept for study/series/instance retrieval (``application/dicom``, E-03/E-04).

    ``None`` asks for Explicit VR Little Endian explicitly (the standard's default, API.md).
    """
    if media_types is None:
        return _multipart("application/dicom", EXPLICIT_VR_LITTLE_ENDIAN)
    items = normalize_media_types(media_types)
    values = []
    for media_type, syntax in items:
        if media_type != "application/dicom":
            raise BadRequestError(
                f'media type "{media_type}" is not valid for DICOM instances: '
                'use "application/dicom"'
            )
        if syntax is not None and syntax != "*" and syntax not in DICOM_TRANSFER_SYNTAXES:
            raise BadRequestError(f'transfer syntax "{syntax}" is not valid in DICOMweb (E-06)')
        values.append(_multipart(media_type, syntax))
    return ", ".join(values)


def _accept_for_pixels(media_types: object, resource: str, default: str) -> str:
    if media_types is None:
        return _multipart(default, None)
    items = normalize_media_types(media_types)
    _single_category(items, resource)
    values = []
    for media_type, syntax in items:
        wildcard = media_type in ("*/*", "image/*", "video/*")
        if not wildcard and media_type not in _PIXEL_TYPES:
            raise BadRequestError(f'media type "{media_type}" is not valid for {resource}')
        if syntax is not None and syntax != "*":
            expected = PIXEL_MEDIA_TYPES.get(syntax)
            if expected is None:
                raise BadRequestError(f'transfer syntax "{syntax}" is not valid for {resource}')
            if not wildcard and media_type not in expected:
                raise BadRequestError(
                    f'transfer syntax "{syntax}" does not go with media type "{media_type}" '
                    f"(expected {' or '.join(expected)})"
                )
            if wildcard and media_type != "*/*" and not expected[0].startswith(media_type[:-1]):
                raise BadRequestError(
                    f'transfer syntax "{syntax}" does not go with media type "{media_type}"'
                )
        values.append(_multipart(media_type, syntax))
    return ", ".join(values)


def accept_for_frames(media_types: object) -> str:
    """Accept for frames: ``application/octet-stream`` by default, or a compressed type (F-06)."""
    return _accept_for_pixels(media_types, "frames", "application/octet-stream")


def accept_for_bulkdata(media_types: object) -> str:
    """Accept for a BulkDataURI: ``application/octet-stream`` by default."""
    return _accept_for_pixels(media_types, "bulk data", "application/octet-stream")


def accept_for_rendered(media_types: object) -> str:
    """Accept for rendered resources: ``image/jpeg`` by default (single part)."""
    if media_types is None:
        return "image/jpeg"
    items = normalize_media_types(media_types)
    values = []
    for media_type, syntax in items:
        if media_type not in RENDERED_MEDIA_TYPES:
            raise BadRequestError(f'media type "{media_type}" is not valid for rendered resources')
        if syntax is not None:
            raise BadRequestError("rendered media types take no transfer syntax")
        values.append(media_type)
    return ", ".join(values)
