"""``dicomfs search {studies,series,instances}``: QIDO-RS searches, as a table or JSON."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import click

from dicomfs.cli.options import open_store, output_options, settings, store_options
from dicomfs.cli.output import dicom_value, echo_json, echo_table, keyword_of, tag_of

__all__ = ["COLUMNS", "command", "parse_filters"]

#: Columns of the tables, by level (keywords); --field adds more.
COLUMNS: dict[str, list[str]] = {
    "studies": ["StudyInstanceUID", "PatientName", "PatientID", "StudyDate", "AccessionNumber",
                "StudyDescription", "ModalitiesInStudy", "NumberOfStudyRelatedSeries",
                "NumberOfStudyRelatedInstances"],
    "series": ["SeriesInstanceUID", "Modality", "SeriesNumber", "SeriesDescription",
               "NumberOfSeriesRelatedInstances"],
    "instances": ["SOPInstanceUID", "SOPClassUID", "InstanceNumber", "Rows", "Columns",
                  "NumberOfFrames"],
}


_NOUNS = {"studies": ("study", "studies"), "series": ("series", "series"),
          "instances": ("instance", "instances")}


def parse_filters(values: Sequence[str]) -> dict[str, Any]:
    """Turn ``--filter`` values into ``search_filters`` (a key given twice: any of its values).

    ``["PatientID=A", "Modality=CT", "Modality=MR"]`` gives
    ``{"PatientID": "A", "Modality": ["CT", "MR"]}``.

    Raises
    ------
    click.BadParameter
        An item has no ``=`` or an empty key.
    """
    filters: dict[str, Any] = {}
    for item in values:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--filter")
        if key in filters:
            previous = filters[key]
            filters[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            filters[key] = value
    return filters


def _search_options(func: Callable[..., Any]) -> Callable[..., Any]:
    for decorator in reversed([
        click.option("--filter", "filters", multiple=True, metavar="KEY=VALUE",
                     help="Match key: keyword or tag = value (repeat; a key twice = any of)."),
        click.option("--field", "fields", multiple=True, metavar="NAME",
                     help="Also return this attribute (keyword or tag; 'all' for every one)."),
        click.option("--limit", type=click.IntRange(min=0), default=None, metavar="N",
                     help="Return at most N results."),
        click.option("--offset", type=click.IntRange(min=0), default=None, metavar="N",
                     help="Skip the first N results."),
        click.option("--fuzzy", is_flag=True, help="Fuzzy matching of person names."),
        click.option("--all", "get_remaining", is_flag=True,
                     help="Keep asking until every result is returned (servers page results)."),
        store_options,
        output_options,
    ]):
        func = decorator(func)
    return func


def _show(level: str, results: list[dict[str, Any]], fields: Sequence[str]) -> None:
    if settings().json:
        echo_json(results)
        return
    tags = [tag_of(k) for k in COLUMNS[level]]
    for name in fields:
        if name.lower() != "all" and tag_of(name) not in tags:
            tags.append(tag_of(name))
    echo_table([keyword_of(t) for t in tags], [[dicom_value(r, t) for t in tags] for r in results])
    one, many = _NOUNS[level]
    click.echo(f"{len(results)} {one if len(results) == 1 else many} found")


def _params(level: str, filters: Sequence[str], fields: Sequence[str], limit: int | None,
            offset: int | None, fuzzy: bool, get_remaining: bool) -> dict[str, Any]:
    # A table shows COLUMNS[level]: ask for them (a store returns only its required attributes
    # otherwise); --json returns exactly what was asked for.
    wanted = list(fields) if settings().json else [*COLUMNS[level], *fields]
    return dict(
        fuzzymatching=True if fuzzy else None,
        limit=limit,
        offset=offset,
        fields=wanted or None,
        search_filters=parse_filters(filters) or None,
        get_remaining=get_remaining,
    )


@click.group("search")
def command() -> None:
    """Search a store for studies, series or instances (QIDO-RS).

    \b
    Examples:
      dicomfs search studies --root data/sample-store --filter PatientName='DOE*'
      dicomfs search series --root data/sample-store --study 1.2.3 --json
    """


@command.command("studies")
@_search_options
def studies(filters: Sequence[str], fields: Sequence[str], limit: int | None,
            offset: int | None, fuzzy: bool, get_remaining: bool) -> None:
    """Search for studies."""
    client = open_store()
    params = _params("studies", filters, fields, limit, offset, fuzzy, get_remaining)
    _show("studies", client.search_for_studies(**params), fields)


@command.command("series")
@click.option("--study", metavar="UID", default=None, help="Search within this study.")
@_search_options
def series(study: str | None, filters: Sequence[str], fields: Sequence[str],
           limit: int | None, offset: int | None, fuzzy: bool, get_remaining: bool) -> None:
    """Search for series (of every study, or of one with --study)."""
    client = open_store()
    params = _params("series", filters, fields, limit, offset, fuzzy, get_remaining)
    _show("series", client.search_for_series(study, **params), fields)


@command.command("instances")
@click.option("--study", metavar="UID", default=None, help="Search within this study.")
@click.option("--series", metavar="UID", default=None,
              help="Search within this series (needs --study).")
@_search_options
def instances(study: str | None, series: str | None, filters: Sequence[str],
              fields: Sequence[str], limit: int | None, offset: int | None, fuzzy: bool,
              get_remaining: bool) -> None:
    """Search for instances (everywhere, in a study, or in a series)."""
    if series is not None and study is None:
        raise click.UsageError("--series needs --study")
    client = open_store()
    params = _params("instances", filters, fields, limit, offset, fuzzy, get_remaining)
    _show("instances", client.search_for_instances(study, series, **params), fields)
