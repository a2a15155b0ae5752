"""``dicomfs serve ROOT``: serve a store as a DICOMweb server until SIGINT/SIGTERM."""

from __future__ import annotations

import json
from pathlib import Path

import click

from dicomfs.cli.options import output_options, settings

__all__ = ["command"]


@click.command("serve")
@click.argument("root", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (loopback only by default; see docs/server.md before "
                   "exposing a store).")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True,
              help="Port to listen on (0: any free port).")
@click.option("--prefix", default="/dicomweb", show_default=True,
              help="Path of the DICOMweb service root.")
@click.option("--public-url", metavar="URL", default=None,
              help="URL clients use to reach the service root (behind a reverse proxy); "
                   "RetrieveURL and BulkDataURI values start with it.")
@click.option("--max-results", type=click.IntRange(min=0), default=1000, show_default=True,
              help="Most results per search response (0: no cap); more are announced by a "
                   "Warning header.")
@click.option("--readonly", is_flag=True,
              help="Refuse STOW-RS and DELETE (403); the index must then live outside ROOT "
                   "(--db).")
@click.option("--db", metavar="URL", default=None,
              help="Index database URL (default ROOT/.dicomfs/index.sqlite).")
@output_options
def command(root: Path, host: str, port: int, prefix: str, public_url: str | None,
            max_results: int, readonly: bool, db: str | None) -> None:
    """Serve the store ROOT as a DICOMweb server (QIDO-RS, WADO-RS, STOW-RS, DELETE).

    The index is brought up to date first. Any DICOMweb client (dicomfs --url, dicomweb-client,
    OHIF) can then use http://HOST:PORT/dicomweb as a PACS. No TLS and no authentication:
    keep the default loopback address, or put a reverse proxy in front (docs/server.md).
    Runs until Ctrl-C or SIGTERM (exit code 0).

    \b
    Examples:
      dicomfs serve my-store
      dicomfs serve my-store --port 8042 --public-url https://pacs.example.org/dicomweb
    """
    from dicomfs.file.client import DICOMfileClient
    from dicomfs.server import DICOMwebServer, serve

    current = settings()
    if readonly and db is None:  # the library's message names its own arguments
        raise click.UsageError(
            "--readonly writes nothing under ROOT, so its index must live elsewhere: "
            "give --db sqlite:////path/outside/index.sqlite (or a PostgreSQL URL)"
        )
    client = DICOMfileClient(root, update_db=True, readonly=readonly, db_url=db)

    def ready(server: DICOMwebServer) -> None:
        if current.json:
            click.echo(json.dumps({"url": server.url, "root": str(root)}), nl=True)
        else:
            click.echo(f"serving {root} at {server.url}; Ctrl-C to stop", err=True)

    try:
        serve(client, host, port, ready=ready, prefix=prefix, public_url=public_url,
              max_results=max_results or None)
    finally:
        client.close()
    if not current.json:
        click.echo("stopped", err=True)
