"""``dicomfs index ROOT [--rebuild] [--db URL] [--workers N]``."""

from __future__ import annotations

from pathlib import Path

import click

from dicomfs.cli.options import output_options, settings
from dicomfs.cli.output import echo_json, echo_table, stderr_is_terminal
from dicomfs.file.opening import locate_index, open_index, root_of_url
from dicomfs.storage import scan

__all__ = ["command"]


@click.command("index")
@click.argument("root", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--rebuild", is_flag=True, help="Rebuild the index from scratch.")
@click.option("--db", metavar="URL", default=None,
              help="Index database URL (default ROOT/.dicomfs/index.sqlite).")
@click.option("--workers", type=click.IntRange(min=1), default=None, metavar="N",
              help="Reader processes (default: the number of CPUs).")
@output_options
def command(root: Path, rebuild: bool, db: str | None, workers: int | None) -> None:
    """Build or update the index of a folder of DICOM files.

    Only new, changed or removed files are read (all of them with --rebuild). Prints how many
    files were added, updated, removed, left unchanged and rejected, then the rejected files
    with the reason of each.

    \b
    Example:
      dicomfs index data/sample-store
    """
    folder = root_of_url(root, create=False)
    location = locate_index(folder, False, None, False, db)
    repo, _built = open_index(location, recreate=rebuild)
    try:
        show = stderr_is_terminal() and not settings().json
        report = scan.sync(folder, repo, workers=workers, progress=show)
        counts = repo.counts()
    finally:
        repo.engine.dispose()
    if settings().json:
        echo_json({
            "root": str(folder),
            "index": location.display,
            "added": report.added,
            "updated": report.updated,
            "removed": report.removed,
            "unchanged": report.unchanged,
            "rejected": [{"path": r.path, "reason": r.reason} for r in report.rejected],
            "totals": counts,
        })
        return
    click.echo(f"{folder}: {report}")
    click.echo("index: " + ", ".join(f"{n} {name}" for name, n in counts.items()))
    if report.rejected:
        click.echo("")
        echo_table(["Rejected file", "Reason"], [(r.path, r.reason) for r in report.rejected])
