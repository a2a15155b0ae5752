"""Type aliases shared by both clients (one place, so signatures stay readable)."""

from __future__ import annotations

from typing import Any

#: One acceptable media type: ``"image/jpeg"`` or ``("application/dicom", "1.2.840.10008.1.2.1")``.
MediaType = str | tuple[str, str]
#: The ``media_types`` argument of the retrieve methods.
MediaTypes = tuple[MediaType, ...]
#: A DICOM JSON object (PS3.18 Annex F): 8-digit upper-case hex tag -> attribute object.
DicomJSON = dict[str, Any]
#: ``search_filters``: keyword or tag -> value (string, number, or a list of them).
SearchFilters = dict[str, Any]
#: Rendering parameters (``window``, ``viewport``, ``quality``, ...).
RenderParams = dict[str, Any]
