"""The ``dicomfs`` command: one group, one module per subcommand, errors mapped to exit codes.

Exit codes: 0 success, 1 error (one line on stderr; the traceback too with ``-v``), 2 usage error
(bad option or argument, including a bad request: unknown keyword, malformed UID or value).
"""

from __future__ import annotations

import logging
import sys
import traceback
from typing import Any

import click
import requests

from dicomfs import __version__
from dicomfs.cli.check import command as check_command
from dicomfs.cli.copy import command as copy_command
from dicomfs.cli.delete import command as delete_command
from dicomfs.cli.index import command as index_command
from dicomfs.cli.options import output_options, settings
from dicomfs.cli.retrieve import command as retrieve_command
from dicomfs.cli.search import command as search_command
from dicomfs.cli.serve import command as serve_command
from dicomfs.cli.store import command as store_command
from dicomfs.cli.watch import command as watch_command
from dicomfs.errors import BadRequestError, DicomfsError

__all__ = ["cli", "main"]


class _Failure(click.ClickException):
    """An error reported in one line, exit code 1."""

    exit_code = 1


class _BadRequest(click.ClickException):
    """A bad argument found past option parsing (malformed UID, unknown keyword): exit code 2."""

    exit_code = 2


class DicomfsGroup(click.Group):
    """A group that turns dicomfs errors into one-line messages and exit codes."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except BadRequestError as exc:
            _traceback(ctx)
            raise _BadRequest(_message(exc)) from exc
        except (DicomfsError, requests.RequestException, OSError, ValueError, LookupError) as exc:
            _traceback(ctx)
            raise _Failure(_message(exc)) from exc
        except KeyboardInterrupt:
            raise click.Abort() from None
        except Exception as exc:  # the CLI's top level: a bug, reported in one line
            _traceback(ctx)
            raise _Failure(f"internal error: {type(exc).__name__}: {exc}") from exc


def _message(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror and exc.filename:
        return f"{exc.strerror}: {exc.filename}"
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _traceback(ctx: click.Context) -> None:
    if settings(ctx).verbose:
        traceback.print_exc(file=sys.stderr)


@click.group("dicomfs", cls=DicomfsGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dicomfs")
@output_options
def cli() -> None:
    """dicomfs: DICOMweb for a folder of DICOM files, and for DICOMweb servers.

    Every command that reads a store takes --root PATH (a local folder) or --url URL
    (a DICOMweb server; file:///... is a local folder too). Exit codes: 0 ok, 1 error, 2 usage.
    """


for _command in (index_command, search_command, retrieve_command, store_command, delete_command,
                 copy_command, watch_command, check_command, serve_command):
    cli.add_command(_command)


def main(argv: list[str] | None = None) -> None:
    """Run the command line (the ``dicomfs`` entry point and ``python -m dicomfs``)."""
    # The web client logs every Warning 299 a server sends ("There are N additional results",
    # once per page under --all): on the command line only its errors are shown, unless the
    # caller configured that logger.
    web_log = logging.getLogger("dicomfs.web")
    if web_log.level == logging.NOTSET and not web_log.handlers:
        web_log.setLevel(logging.ERROR)
    cli.main(args=argv, prog_name="dicomfs")
