"""Accept headers of the web client: :func:`dicomfs.media.accept_header`, with its defaults.

Media types are validated and negotiated by :mod:`dicomfs.media` alone, so that the web client
and the file client accept and reject the same ``media_types`` (API.md: "both clients behave
alike"): a media type invalid for the resource or a mix of categories is
:class:`~dicomfs.errors.BadRequestError` (L-04, E-09), asking only for Implicit VR Little Endian
or Explicit VR Big Endian is :class:`~dicomfs.errors.NotAcceptableError` (E-06), both raised
before anything is sent.

The one thing decided here is what goes on the wire for ``media_types=None`` (:data:`DEFAULTS`):

* instances ask for Explicit VR Little Endian *explicitly*
  (``transfer-syntax=1.2.840.10008.1.2.1``). A request without the parameter means the same
  (E-03), but some servers send the stored syntax to it (dcm4chee #1749);
* bulk data asks for ``application/octet-stream`` only (F-10), without the file client's
  fallback to the stored codestream (``*/*`` at q=0.5): Orthanc 1.10 answers any other Accept
  entry for bulk data with 400.

Every other resource sends :data:`dicomfs.media.DEFAULT_MEDIA_TYPES` as it is.

>>> accept(None, "instance")
'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.1'
>>> accept((("image/jpeg", "1.2.840.10008.1.2.4.50"), "application/octet-stream"), "frame")
... # doctest: +NORMALIZE_WHITESPACE
'multipart/related; type="image/jpeg"; transfer-syntax=1.2.840.10008.1.2.4.50,
 multipart/related; type="application/octet-stream"'
"""

from __future__ import annotations

from typing import Any

from dicomfs.media import EXPLICIT_VR_LE, accept_header

__all__ = ["DEFAULTS", "accept"]

#: What the web client asks for when ``media_types`` is None (or empty), where it differs from
#: :data:`dicomfs.media.DEFAULT_MEDIA_TYPES` (see the module docstring).
DEFAULTS: dict[str, tuple[str | tuple[str, str], ...]] = {
    "instance": (("application/dicom", EXPLICIT_VR_LE),),
    "bulkdata": ("application/octet-stream",),
}


def accept(media_types: Any, resource: str) -> str:
    """The Accept header of a retrieve request, validated before anything is sent.

    Parameters
    ----------
    media_types: Sequence[str | tuple[str, str]] or None
        The ``media_types`` argument of the protocol method, as :mod:`dicomfs.media` reads it.
    resource: str
        ``"instance"``, ``"frame"``, ``"bulkdata"``, ``"rendered"`` or ``"metadata"``.

    Returns
    -------
    str
        The value of the Accept header.

    Raises
    ------
    dicomfs.errors.BadRequestError
        Invalid or mixed media types (L-04, E-09), a mismatched transfer syntax (F-06).
    dicomfs.errors.NotAcceptableError
        Nothing that a DICOMweb server may send (E-06), or everything at q=0.
    """
    if media_types is None or (isinstance(media_types, (list, tuple)) and not media_types):
        media_types = DEFAULTS.get(resource, media_types)
    return accept_header(media_types, resource)
