"""How the command line shows things: tables for people, JSON for scripts, progress bars."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

import click
from tqdm import tqdm

from dicomfs._types import DicomJSON

__all__ = [
    "dicom_value",
    "echo_json",
    "echo_table",
    "keyword_of",
    "progress_bar",
    "stderr_is_terminal",
    "tag_of",
]


def echo_json(data: Any) -> None:
    """Print ``data`` as indented JSON with sorted keys."""
    click.echo(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False))


def echo_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print an aligned table (columns separated by two spaces, a rule under the headers).

    Examples
    --------
    >>> echo_table(["A", "Long"], [["x", 1], ["yy", 22]])
    A   Long
    --  ----
    x   1
    yy  22
    """
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, value in enumerate(row):
            widths[i] = max(widths[i], len(value))

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.ljust(w) for v, w in zip(values, widths, strict=False)).rstrip()

    click.echo(line(list(headers)))
    click.echo(line(["-" * w for w in widths]))
    for row in cells:
        click.echo(line(row))


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return " ".join(str(value).split())


def tag_of(name: str) -> str:
    """The 8-digit upper-case hex tag of a keyword or tag (``"PatientID"`` -> ``"00100020"``)."""
    from pydicom.datadict import tag_for_keyword

    text = name.strip()
    if len(text) == 8 and all(c in "0123456789abcdefABCDEF" for c in text):
        return text.upper()
    tag = tag_for_keyword(text)
    if tag is None:
        raise click.BadParameter(f"unknown DICOM keyword or tag: {name!r}")
    return f"{tag:08X}"


def keyword_of(tag: str) -> str:
    """The keyword of an 8-digit hex tag, or the tag itself when it has none."""
    from pydicom.datadict import keyword_for_tag

    return keyword_for_tag(int(tag, 16)) or tag


def dicom_value(obj: DicomJSON, tag: str, *, limit: int = 64) -> str:
    """A DICOM JSON attribute as one short line for a table.

    Person names show their alphabetic form, several values are joined with ``\\``, binary
    values and sequences are summarized.

    Parameters
    ----------
    obj: dict
        A DICOM JSON object.
    tag: str
        8-digit hex tag.
    limit: int
        Longer text is cut, ending with ``...`` (UIDs are never that long).
    """
    attr = obj.get(tag)
    if not attr:
        return ""
    if "InlineBinary" in attr or "BulkDataURI" in attr:
        return "<binary>"
    values = attr.get("Value") or []
    if attr.get("vr") == "SQ":
        return f"<{len(values)} item{'s' if len(values) != 1 else ''}>"
    shown = []
    for value in values:
        if isinstance(value, dict):
            shown.append(str(value.get("Alphabetic", "")))
        else:
            shown.append(str(value))
    text = "\\".join(shown)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def progress_bar(total: int | None, desc: str, unit: str) -> tqdm[Any]:
    """A tqdm bar on stderr with counts, rate and time left; silent when stderr is no terminal."""
    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, disable=None,
                dynamic_ncols=True, leave=False)


def stderr_is_terminal() -> bool:
    """True when progress bars can be shown (stderr is a terminal)."""
    return sys.stderr.isatty()
