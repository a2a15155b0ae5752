"""``dicomfs delete (--root|--url) --study UID [--series UID [--instance UID]]``."""

from __future__ import annotations

import click

from dicomfs.cli.options import open_store, output_options, settings, store_options
from dicomfs.cli.output import echo_json

__all__ = ["command"]


@click.command("delete")
@click.option("--study", required=True, metavar="UID", help="Study Instance UID.")
@click.option("--series", metavar="UID", default=None, help="Series Instance UID.")
@click.option("--instance", metavar="UID", default=None,
              help="SOP Instance UID (needs --series).")
@store_options
@output_options
def command(study: str, series: str | None, instance: str | None) -> None:
    """Delete a study, a series or an instance from a store (files and index entries).

    \b
    Example:
      dicomfs delete --root my-store --study 1.2.3 --series 1.2.3.4
    """
    if instance is not None and series is None:
        raise click.UsageError("--instance needs --series")
    client = open_store()
    if instance is not None:
        assert series is not None
        client.delete_instance(study, series, instance)
        what, uid = "instance", instance
    elif series is not None:
        client.delete_series(study, series)
        what, uid = "series", series
    else:
        client.delete_study(study)
        what, uid = "study", study
    if settings().json:
        echo_json({"deleted": what, "uid": uid})
    else:
        click.echo(f"deleted {what} {uid}")
