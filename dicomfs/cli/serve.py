"""``dicomfs serve``: not available in this version (a usage error, exit code 2)."""

from __future__ import annotations

import click

__all__ = ["command"]


@click.command("serve", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def command(args: tuple[str, ...]) -> None:
    """Serve a store as a DICOMweb server (not available yet in this version)."""
    raise click.UsageError("'dicomfs serve' is not available yet in this version of dicomfs")
