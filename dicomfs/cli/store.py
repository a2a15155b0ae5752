"""``dicomfs store (--root|--url) PATH... [--include REGEX] [--study UID]`` (STOW-RS)."""

from __future__ import annotations

from collections.abc import Sequence

import click

from dicomfs.cli.options import open_store, output_options, settings, store_options
from dicomfs.cli.output import echo_json, echo_table, progress_bar
from dicomfs.transfer import DEFAULT_BATCH, collect_files, store_files

__all__ = ["command"]


@click.command("store")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--include", metavar="REGEX", default=None,
              help="Only files whose path (relative to the folder given) matches this regex.")
@click.option("--study", metavar="UID", default=None,
              help="Store into this study only: instances of other studies fail.")
@click.option("--batch-size", type=click.IntRange(min=1), default=DEFAULT_BATCH,
              show_default=True, help="Instances per store request.")
@store_options
@output_options
def command(paths: Sequence[str], include: str | None, study: str | None,
            batch_size: int) -> None:
    """Store DICOM files, and whole folders recursively, into a store.

    Files that are not DICOM are skipped (and listed); the exit code is 1 when any DICOM file
    could not be stored.

    \b
    Example:
      dicomfs store --root my-store ~/Downloads/CT-scan --include '\\.dcm$'
    """
    client = open_store(create=True)
    files = collect_files(paths, include)
    with progress_bar(len(files), "storing", "file") as bar:
        summary = store_files(client, files, study_instance_uid=study, batch_size=batch_size,
                              progress=bar.update)
    if settings().json:
        echo_json({
            "stored": summary.stored,
            "failed": [{"path": p, "reason": r} for p, r in summary.failed],
            "skipped": [{"path": p, "reason": r} for p, r in summary.skipped],
        })
    else:
        click.echo(f"{len(summary.stored)} stored, {len(summary.failed)} failed, "
                   f"{len(summary.skipped)} skipped (of {len(files)} files)")
        problems = [(p, "failed", r) for p, r in summary.failed]
        problems += [(p, "skipped", r) for p, r in summary.skipped]
        if problems:
            echo_table(["File", "Outcome", "Reason"], problems)
    if summary.failed:  # the table above says which and why; stderr gets the one-line error
        raise click.ClickException(f"{len(summary.failed)} of {len(files)} files could not be "
                                   "stored")
