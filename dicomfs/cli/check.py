"""``dicomfs check ROOT [--repair]``: verify the index against the tree (and repair it)."""

from __future__ import annotations

from pathlib import Path

import click

from dicomfs.cli.options import output_options, settings
from dicomfs.cli.output import echo_json, echo_table, stderr_is_terminal
from dicomfs.file.opening import locate_index, open_index, root_of_url
from dicomfs.storage import check as checking
from dicomfs.storage.check import CheckReport

__all__ = ["command"]


def _as_dict(report: CheckReport) -> dict[str, object]:
    return {
        "ok": report.ok,
        "files": report.files,
        "not_indexed": report.not_indexed,
        "missing_files": report.missing_files,
        "changed": report.changed,
        "stale_temporaries": report.stale_temporaries,
        "active_temporaries": report.active_temporaries,
    }


def _show(report: CheckReport) -> None:
    click.echo(str(report))
    rows = [(p, "not indexed") for p in report.not_indexed]
    rows += [(p, "missing from the tree") for p in report.missing_files]
    rows += [(p, "changed since indexed") for p in report.changed]
    rows += [(p, "stale temporary file") for p in report.stale_temporaries]
    if rows:
        echo_table(["File", "Problem"], rows)


@click.command("check")
@click.argument("root", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--repair", is_flag=True,
              help="Remove stale temporary files and bring the index up to date.")
@click.option("--db", metavar="URL", default=None,
              help="Index database URL (default ROOT/.dicomfs/index.sqlite).")
@click.option("--workers", type=click.IntRange(min=1), default=None, metavar="N",
              help="Reader processes for --repair.")
@output_options
def command(root: Path, repair: bool, db: str | None, workers: int | None) -> None:
    """Verify that the index agrees with the files under ROOT (exit code 1 when not).

    \b
    Examples:
      dicomfs check data/sample-store
      dicomfs check data/sample-store --repair
    """
    folder = root_of_url(root, create=False)
    location = locate_index(folder, False, None, False, db)
    if not repair and location.file is not None and not location.file.exists():
        # Checking writes nothing: an empty index made here would hide every file of the store.
        raise click.ClickException(
            f"{folder} has no index yet ({location.file}): 'dicomfs index {root}' builds it, "
            "or use --repair"
        )
    repo, _built = open_index(location, recreate=False)
    try:
        if repair:
            result = checking.repair(folder, repo, workers=workers,
                                     progress=stderr_is_terminal() and not settings().json)
            ok = result.after.ok
            if settings().json:
                echo_json({"before": _as_dict(result.before),
                           "removed_temporaries": result.removed_temporaries,
                           "sync": {"added": result.sync.added, "updated": result.sync.updated,
                                    "removed": result.sync.removed,
                                    "unchanged": result.sync.unchanged},
                           "after": _as_dict(result.after)})
            else:
                click.echo("before: " + str(result.before))
                click.echo(f"repair: {len(result.removed_temporaries)} temporary files removed; "
                           f"sync: {result.sync}")
                click.echo("after: ", nl=False)
                _show(result.after)
        else:
            report = checking.check(folder, repo)
            ok = report.ok
            if settings().json:
                echo_json(_as_dict(report))
            else:
                _show(report)
    finally:
        repo.engine.dispose()
    if not ok:
        click.get_current_context().exit(1)
