"""Options shared by the subcommands, and opening the store they name.

Store options (``--root``/``--url``, ``--db`` and the auth options of dicomweb_client's CLI) and
output options (``--json``, ``-v``) may be given at any level of the command
(``dicomfs --json search studies --root R`` or ``dicomfs search studies --root R --json``): each
option records its value in the root context, and the command reads them from there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import click

from dicomfs.errors import BadRequestError
from dicomfs.protocol import DICOMClient

__all__ = [
    "Settings",
    "open_location",
    "open_store",
    "output_options",
    "settings",
    "store_options",
]

F = TypeVar("F", bound=Callable[..., Any])
_KEY = "dicomfs.settings"
_WEB_SCHEMES = ("http://", "https://")


@dataclass
class Settings:
    """Values of the shared options, wherever on the command line they were given."""

    root: str | None = None
    url: str | None = None
    db: str | None = None
    user: str | None = None
    password: str | None = None
    bearer_token: str | None = None
    ca: str | None = None
    cert: str | None = None
    json: bool = False
    verbose: int = 0


def settings(ctx: click.Context | None = None) -> Settings:
    """The shared settings of the current command line."""
    ctx = ctx or click.get_current_context()
    root = ctx.find_root()
    found = root.meta.get(_KEY)
    if not isinstance(found, Settings):
        found = Settings()
        root.meta[_KEY] = found
    return found


def _record(name: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        if value is None or value is False or value == 0:
            return
        current = settings(ctx)
        if name == "verbose":
            current.verbose += int(value)
        else:
            setattr(current, name, value)

    return callback


def _option(*decls: str, name: str, **kwargs: Any) -> Callable[[F], F]:
    return click.option(*decls, expose_value=False, callback=_record(name), **kwargs)


def output_options(func: F) -> F:
    """Add ``--json`` and ``-v/--verbose``."""
    func = _option("--json", "json", name="json", is_flag=True, default=None,
                   help="Machine-readable JSON output instead of tables.")(func)
    func = _option("-v", "--verbose", "verbose", name="verbose", count=True,
                   help="Show tracebacks of errors (repeat for more detail).")(func)
    return func


def auth_options(func: F) -> F:
    """Add the auth options of dicomweb_client's CLI."""
    for decls, name, help_text in reversed(
        [
            (("-u", "--user"), "user", "Username for a DICOMweb server."),
            (("-p", "--password"), "password", "Password (asked for when --user is given alone)."),
            (("--bearer-token",), "bearer_token", "Bearer token for a DICOMweb server."),
            (("--ca",), "ca", "CA bundle file to verify the server's certificate."),
            (("--cert",), "cert", "Client certificate file (PEM)."),
        ]
    ):
        func = _option(*decls, name, name=name, default=None, metavar=name.upper().split("_")[0],
                       help=help_text)(func)
    return func


def store_options(func: F) -> F:
    """Add ``--root PATH``/``--url URL``, ``--db URL`` and the auth options."""
    func = auth_options(func)
    func = _option("--db", "db", name="db", default=None, metavar="URL",
                   help="Index database URL for --root (default ROOT/.dicomfs/index.sqlite).")(func)
    func = _option("--url", "url", name="url", default=None, metavar="URL",
                   help="A DICOMweb server (http[s]://...) or a local store (file:///...).")(func)
    func = _option("--root", "root", name="root", default=None, metavar="PATH",
                   type=click.Path(file_okay=False, path_type=str),
                   help="A local store: a folder of DICOM files.")(func)
    return func


def _session(current: Settings) -> Any:
    from dicomfs import session_utils

    if current.user:
        password = current.password
        if password is None:
            password = click.prompt(f"Password for {current.user}", hide_input=True,
                                    err=True, default="", show_default=False)
        session = session_utils.create_session_from_user_pass(current.user, password)
    else:
        session = session_utils.create_session()
    if current.ca or current.cert:
        session = session_utils.add_certs_to_session(session, current.ca, current.cert)
    if current.bearer_token:
        session.headers.update({"Authorization": f"Bearer {current.bearer_token}"})
    return session


def open_location(location: str, current: Settings, *, create: bool = False) -> DICOMClient:
    """Open a store named by a path or URL: ``http[s]://`` is a server, anything else a folder.

    Parameters
    ----------
    location: str
        ``http://host/dicom-web``, ``file:///abs/folder`` or a plain path.
    current: Settings
        Auth options (for a server) and ``--db`` (for a folder).
    create: bool
        Create the folder when missing (a target store).

    Returns
    -------
    DICOMClient
        A DICOMwebClient or a DICOMfileClient.
    """
    if location.startswith(_WEB_SCHEMES):
        from dicomfs.web.client import DICOMwebClient

        client: DICOMClient = DICOMwebClient(location, session=_session(current))
        return client
    from dicomfs.file.client import DICOMfileClient
    from dicomfs.file.opening import root_of_url

    try:  # a file: URL is percent-decoded, as the library does
        path = root_of_url(location, create=create)
    except BadRequestError as exc:
        raise click.UsageError(f"no such store folder: {exc}") from exc
    kwargs: dict[str, Any] = {"db_url": current.db} if current.db else {}
    return DICOMfileClient(str(path), **kwargs)


def open_store(ctx: click.Context | None = None, *, create: bool = False) -> DICOMClient:
    """Open the store named by ``--root`` or ``--url`` (exactly one must be given)."""
    current = settings(ctx)
    if current.root and current.url:
        raise click.UsageError("give either --root PATH or --url URL, not both")
    if current.root:
        return open_location(current.root, current, create=create)
    if current.url:
        if not current.url.lower().startswith((*_WEB_SCHEMES, "file:")):
            # A forgotten "http://" would otherwise make a local folder of that name.
            raise click.UsageError(
                f"--url takes http[s]://... or file:///... (not {current.url!r}); "
                "give a folder with --root"
            )
        return open_location(current.url, current, create=create)
    raise click.UsageError("no store: give --root PATH or --url URL")
