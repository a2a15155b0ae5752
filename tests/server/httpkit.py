"""Helpers of the server tests: requests to the served store and multipart parsing."""

from __future__ import annotations

import re
from typing import Any

import factories
import numpy as np
import requests

from dicomfs.web.multipart import Part, iter_parts, parse_media_type

S1, S2, S4 = factories.study_uid(1), factories.study_uid(2), factories.study_uid(4)
SE11, SE21 = factories.series_uid(1, 1), factories.series_uid(2, 1)
I111 = factories.sop_uid(1, 1, 1)
MF = factories.sop_uid(2, 1, 2)  # the 3-frame instance
EXPLICIT_LE = "1.2.840.10008.1.2.1"
DICOM_ACCEPT = 'multipart/related; type="application/dicom"'
BOUNDARY_RE = re.compile(r'multipart/related; type="([^"]+)"; boundary=(dicomfs-[0-9a-f]{32})')


def frame_bytes(frame: int) -> bytes:
    """Frame ``frame`` (0-based) of a 4x4 16-bit factories instance, little endian."""
    return (np.arange(16) + frame * 1000).astype("<u2").tobytes()


def get(url: str, accept: str | None = "application/dicom+json", **kwargs: Any) -> requests.Response:
    """GET with an Accept header (``None``: no Accept header at all)."""
    headers = dict(kwargs.pop("headers", {}))
    headers["Accept"] = accept  # requests drops a header whose value is None
    return requests.get(url, headers=headers, timeout=30, **kwargs)


def parts(response: requests.Response) -> list[Part]:
    """The parts of a multipart/related response (checking the K-01 Content-Type)."""
    content_type = response.headers["Content-Type"]
    assert BOUNDARY_RE.fullmatch(content_type), content_type
    boundary = parse_media_type(content_type)[1]["boundary"]
    return list(iter_parts([response.content], boundary))


def instance_url(base: str, study: int, series: int, instance: int) -> str:
    return (
        f"{base}/studies/{factories.study_uid(study)}/series/{factories.series_uid(study, series)}"
        f"/instances/{factories.sop_uid(study, series, instance)}"
    )


def uids(response: requests.Response, tag: str) -> list[str]:
    """One UID per result of a QIDO response."""
    return [r[tag]["Value"][0] for r in response.json()]


def warning(agent_url: str, text: str) -> str:
    """The Warning value the server sends for ``text`` (D-03)."""
    netloc = agent_url.split("://", 1)[1].split("/", 1)[0]
    return f'299 {netloc} "{text}"'
