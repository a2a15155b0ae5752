"""``dicomfs copy --from (ROOT|URL) --to (ROOT|URL) [--study UID [--series UID]]``."""

from __future__ import annotations

import click

from dicomfs.cli.options import auth_options, open_location, output_options, settings
from dicomfs.cli.output import echo_json, echo_table, progress_bar
from dicomfs.errors import NotFoundError
from dicomfs.transfer import DEFAULT_BATCH, copy_studies, plan_copy

__all__ = ["command"]


@click.command("copy")
@click.option("--from", "source", required=True, metavar="ROOT|URL",
              help="The store to copy from: a folder, file:///..., or http[s]://... server.")
@click.option("--to", "target", required=True, metavar="ROOT|URL",
              help="The store to copy to (a folder is created when missing).")
@click.option("--study", metavar="UID", default=None,
              help="Copy this study only (default: every study of the source).")
@click.option("--series", metavar="UID", default=None,
              help="Copy this series of the study only (needs --study).")
@click.option("--batch-size", type=click.IntRange(min=1), default=DEFAULT_BATCH,
              show_default=True, help="Instances per store request.")
@auth_options
@output_options
def command(source: str, target: str, study: str | None, series: str | None,
            batch_size: int) -> None:
    """Copy studies between any two stores, skipping instances the target has already.

    Series are streamed, never a whole study in memory; instances are sent in batches, in
    their stored transfer syntax. Auth options apply to the side(s) given as http[s] URLs.

    \b
    Examples:
      dicomfs copy --from http://pacs.local/dicom-web --to my-store --study 1.2.3
      dicomfs copy --from my-store --to backup-store
    """
    if series is not None and study is None:
        raise click.UsageError("--series needs --study")
    current = settings()
    src = open_location(source, current)
    # Ask the source first: an unreachable server or an unknown study must not leave a new,
    # empty target store behind.
    filters = {"StudyInstanceUID": study} if study else None
    if not src.search_for_studies(search_filters=filters, limit=1) and study:
        raise NotFoundError(f"study {study} not found in {source}")
    dst = open_location(target, current, create=True)
    plan = plan_copy(src, dst, study, series)
    with progress_bar(plan.to_copy, "copying", "instance") as bar:
        summary = copy_studies(src, dst, plan, batch_size=batch_size, progress=bar.update)
    if settings().json:
        echo_json({
            "studies": plan.studies,
            "copied": len(summary.copied),
            "skipped": summary.skipped,
            "failed": [{"sop_instance_uid": u, "reason": r} for u, r in summary.failed],
        })
    else:
        click.echo(f"{len(plan.studies)} stud{'y' if len(plan.studies) == 1 else 'ies'}, "
                   f"{len(plan.series)} series: {len(summary.copied)} instances copied, "
                   f"{summary.skipped} already present, {len(summary.failed)} failed")
        if summary.failed:
            echo_table(["SOPInstanceUID", "Reason"], summary.failed)
    if summary.failed:  # the table above says which and why; stderr gets the one-line error
        raise click.ClickException(f"{len(summary.failed)} instances could not be copied")
