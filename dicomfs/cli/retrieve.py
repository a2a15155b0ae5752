"""``dicomfs retrieve {studies,series,instances} ... {metadata,full,frames,rendered}`` (WADO-RS).

Without ``--save`` a summary is printed (a table, or JSON with ``--json``); with ``--save`` files
go to ``--output-dir``, named after their UIDs: ``<SOPInstanceUID>.json`` (metadata),
``<SOPInstanceUID>.dcm`` (full), ``<SOPInstanceUID>_<frame>.<ext>`` (frames and rendered frames),
``<SOPInstanceUID>.<ext>`` (a rendered instance), ``<SeriesInstanceUID>.<ext>`` (a rendered series).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click
from pydicom.dataset import Dataset

from dicomfs._types import MediaType, MediaTypes
from dicomfs.cli.options import open_store, output_options, settings, store_options
from dicomfs.cli.output import dicom_value, echo_json, echo_table, keyword_of, progress_bar
from dicomfs.protocol import DICOMClient
from dicomfs.storage.layout import validate_uid

__all__ = ["command", "extension_of", "parse_media_types"]

_TARGET = "dicomfs.retrieve.target"


def extension_of(data: bytes) -> str:
    """A file extension from the first bytes of a frame or image.

    Examples
    --------
    >>> extension_of(b"\\xff\\xd8\\xff\\xe0"), extension_of(b"\\x89PNG\\r\\n\\x1a\\n")
    ('jpg', 'png')
    >>> extension_of(b"\\0\\1")
    'raw'
    """
    if data[:4] == b"\xff\xd8\xff\xf7":
        return "jls"
    if data[:2] == b"\xff\xd8":
        return "jpg"
    if data[:2] == b"\xff\x4f":
        return "j2k"
    if data[:12] == b"\x00\x00\x00\x0cjP  \r\n\x87\n":
        return "jp2"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    return "raw"


def parse_media_types(values: Sequence[str]) -> MediaTypes | None:
    """``"image/jpeg"``, ``"application/dicom 1.2.840.10008.1.2.1"`` or
    ``"application/dicom;transfer-syntax=*"`` -> the ``media_types`` argument.
    """
    out: list[MediaType] = []
    for value in values:
        text = value.strip()
        if ";" in text:
            kind, _, params = text.partition(";")
            key, _, syntax = params.strip().partition("=")
            if key.strip() != "transfer-syntax" or not syntax.strip():
                raise click.BadParameter(f"cannot read media type {value!r}",
                                         param_hint="--media-type")
            out.append((kind.strip(), syntax.strip().strip('"')))
        elif " " in text:
            kind, syntax = text.split(None, 1)
            out.append((kind, syntax.strip()))
        elif text:
            out.append(text)
    return tuple(out) or None


def _target() -> tuple[str, str | None, str | None]:
    found = click.get_current_context().find_root().meta[_TARGET]
    level, study, series, sop = found
    names = {"--study": study, "--series": series, "--instance": sop}
    needed = {"studies": ["--study"], "series": ["--study", "--series"],
              "instances": ["--study", "--series", "--instance"]}[level]
    missing = [name for name in needed if not names[name]]
    if missing:
        raise click.UsageError(f"retrieve {level} needs {' and '.join(missing)}")
    validate_uid(study, "Study Instance UID")
    if series is not None:
        validate_uid(series, "Series Instance UID")
    if sop is not None:
        validate_uid(sop, "SOP Instance UID")
    return study, series, sop


def _set_target(level: str, study: str | None, series: str | None = None,
                sop: str | None = None) -> None:
    click.get_current_context().find_root().meta[_TARGET] = (level, study, series, sop)


def _save_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option("--output-dir", type=click.Path(file_okay=False, path_type=Path),
                        default=Path("."), show_default=True,
                        help="Where --save writes files (created if needed).")(func)
    func = click.option("--save", is_flag=True, help="Write what is retrieved to files.")(func)
    return func


def _media_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--media-type", "media_types", multiple=True, metavar="TYPE",
        help='Acceptable media type, optionally with a transfer syntax: "image/jpeg", '
             '"application/dicom 1.2.840.10008.1.2.1" or "application/dicom;transfer-syntax=*".',
    )(func)


def _frames_option(required: bool) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option(
        "--numbers", "numbers", multiple=True, required=required, metavar="N[,N...]",
        help="Frame numbers, from 1 (repeat or separate with commas).",
    )


def _frame_numbers(values: Sequence[str]) -> list[int]:
    numbers: list[int] = []
    for value in values:
        for part in value.replace(" ", ",").split(","):
            if not part:
                continue
            if not (part.isascii() and part.isdigit()) or int(part) < 1:  # "²".isdigit()
                raise click.BadParameter(f"not a frame number: {part!r}", param_hint="--numbers")
            numbers.append(int(part))
    if values and not numbers:
        raise click.BadParameter(f"no frame number in {' '.join(values)!r}",
                                 param_hint="--numbers")
    return numbers


def _write(output_dir: Path, name: str, data: bytes | str) -> Path:
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / name
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


def _report_saved(paths: list[Path]) -> None:
    if settings().json:
        echo_json([str(p) for p in paths])
    else:
        for path in paths:
            click.echo(f"wrote {path}")
        click.echo(f"{len(paths)} file{'s' if len(paths) != 1 else ''} written")


# ---- leaves ----------------------------------------------------------------------------------
def _metadata(save: bool, output_dir: Path) -> None:
    client = open_store()
    study, series, sop = _target()
    if sop is not None:
        assert series is not None
        items = [client.retrieve_instance_metadata(study, series, sop)]
    elif series is not None:
        items = client.retrieve_series_metadata(study, series)
    else:
        items = client.retrieve_study_metadata(study)
    if save:
        paths = []
        for item in items:
            uid = str((item.get("00080018", {}).get("Value") or ["unknown"])[0])
            validate_uid(uid, "SOP Instance UID")
            paths.append(_write(output_dir, f"{uid}.json",
                                json.dumps(item, indent=2, sort_keys=True) + "\n"))
        _report_saved(paths)
    elif settings().json:
        echo_json(items[0] if sop is not None else items)
    else:
        for n, item in enumerate(items):
            if n:
                click.echo("")
            rows = []
            for tag in sorted(item):
                rows.append([f"({tag[:4]},{tag[4:]})", keyword_of(tag), item[tag].get("vr", ""),
                             dicom_value(item, tag)])
            echo_table(["Tag", "Keyword", "VR", "Value"], rows)


def _instances(client: DICOMClient, media_types: MediaTypes | None) -> Any:
    study, series, sop = _target()
    if sop is not None:
        assert series is not None
        return iter([client.retrieve_instance(study, series, sop, media_types)])
    if series is not None:
        return client.iter_series(study, series, media_types)
    return client.iter_study(study, media_types)


def _full(save: bool, output_dir: Path, media_types: Sequence[str]) -> None:
    client = open_store()
    parsed = parse_media_types(media_types)
    rows: list[dict[str, Any]] = []
    paths: list[Path] = []
    with progress_bar(None, "retrieving", "instance") as bar:
        for ds in _instances(client, parsed):
            uid = validate_uid(str(ds.SOPInstanceUID), "SOP Instance UID")
            if save:
                output_dir.mkdir(parents=True, exist_ok=True)
                path = output_dir / f"{uid}.dcm"
                ds.save_as(path, enforce_file_format=True)
                paths.append(path)
            else:
                rows.append(_summary(ds))
            bar.update(1)
    if save:
        _report_saved(paths)
    elif settings().json:
        echo_json(rows)
    else:
        echo_table(["SOPInstanceUID", "SOPClassUID", "TransferSyntaxUID", "Rows", "Columns",
                    "Frames"], [list(r.values()) for r in rows])


def _summary(ds: Dataset) -> dict[str, Any]:
    meta = getattr(ds, "file_meta", None)
    return {
        "SOPInstanceUID": str(ds.SOPInstanceUID),
        "SOPClassUID": str(ds.get("SOPClassUID", "")),
        "TransferSyntaxUID": str(getattr(meta, "TransferSyntaxUID", "") or ""),
        "Rows": ds.get("Rows"),
        "Columns": ds.get("Columns"),
        "NumberOfFrames": int(ds.get("NumberOfFrames") or 1) if "PixelData" in ds else None,
    }


def _frames(save: bool, output_dir: Path, media_types: Sequence[str],
            numbers: Sequence[str]) -> None:
    client = open_store()
    study, series, sop = _target()
    assert series is not None and sop is not None
    frame_numbers = _frame_numbers(numbers)
    frames = client.iter_instance_frames(study, series, sop, frame_numbers,
                                         parse_media_types(media_types))
    rows, paths = [], []
    for number, data in zip(frame_numbers, frames, strict=False):
        ext = extension_of(data)
        if save:
            paths.append(_write(output_dir, f"{sop}_{number}.{ext}", data))
        rows.append({"frame": number, "bytes": len(data), "type": ext})
    if save:
        _report_saved(paths)
    elif settings().json:
        echo_json(rows)
    else:
        echo_table(["Frame", "Bytes", "Type"], [list(r.values()) for r in rows])


def _rendered(save: bool, output_dir: Path, media_types: Sequence[str],
              params: Sequence[str], numbers: Sequence[str] = ()) -> None:
    client = open_store()
    study, series, sop = _target()
    assert series is not None
    parsed = parse_media_types(media_types)
    render_params = _render_params(params)
    images: list[tuple[str, bytes]] = []
    if sop is None:
        data = client.retrieve_series_rendered(study, series, parsed, render_params)
        images.append((series, data))
    elif numbers:
        for number in _frame_numbers(numbers):
            data = client.retrieve_instance_frames_rendered(study, series, sop, [number], parsed,
                                                            render_params)
            images.append((f"{sop}_{number}", data))
    else:
        images.append((sop, client.retrieve_instance_rendered(study, series, sop, parsed,
                                                              render_params)))
    if save:
        _report_saved([_write(output_dir, f"{name}.{extension_of(data)}", data)
                       for name, data in images])
        return
    rows = [{"name": name, "bytes": len(data), "type": extension_of(data)}
            for name, data in images]
    if settings().json:
        echo_json(rows)
    else:
        echo_table(["Image", "Bytes", "Type"], [list(r.values()) for r in rows])


def _render_params(values: Sequence[str]) -> dict[str, Any] | None:
    out: dict[str, Any] = {}
    for value in values:
        key, sep, text = value.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"expected KEY=VALUE, got {value!r}", param_hint="--param")
        out[key.strip()] = text
    return out or None


Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def _leaf(name: str, func: Callable[..., None], help_text: str,
          extra: Sequence[Decorator] = ()) -> click.Command:
    def callback(**kwargs: Any) -> None:
        func(**kwargs)

    callback.__doc__ = help_text
    decorated: Callable[..., Any] = callback
    decorators: list[Decorator] = [*extra, _save_options, store_options, output_options]
    for decorator in decorators:
        decorated = decorator(decorated)
    return click.command(name, help=help_text)(decorated)


_PARAM = click.option("--param", "params", multiple=True, metavar="KEY=VALUE",
                      help="Rendering parameter: window=C,W,FUNCTION, viewport=W,H, quality=N.")


def _metadata_leaf() -> click.Command:
    return _leaf("metadata", _metadata, "Retrieve the metadata (DICOM JSON).")


def _full_leaf() -> click.Command:
    return _leaf("full", _full, "Retrieve the instances (Part10 files with --save).",
                 [_media_option])


# ---- groups ------------------------------------------------------------------------------------
@click.group("retrieve")
def command() -> None:
    """Retrieve studies, series or instances: metadata, files, frames, rendered images (WADO-RS).

    \b
    Examples:
      dicomfs retrieve studies --study UID metadata --root STORE
      dicomfs retrieve series --study UID --series UID full --save --output-dir out --root STORE
      dicomfs retrieve instances --study UID --series UID --instance UID frames --numbers 1,2 \\
          --save --root STORE
    """


@command.group("studies")
@click.option("--study", metavar="UID", help="Study Instance UID (required).")
@store_options
@output_options
def studies(study: str | None) -> None:
    """Retrieve a study."""
    _set_target("studies", study)


@command.group("series")
@click.option("--study", metavar="UID", help="Study Instance UID (required).")
@click.option("--series", metavar="UID", help="Series Instance UID (required).")
@store_options
@output_options
def series(study: str | None, series: str | None) -> None:
    """Retrieve a series."""
    _set_target("series", study, series)


@command.group("instances")
@click.option("--study", metavar="UID", help="Study Instance UID (required).")
@click.option("--series", metavar="UID", help="Series Instance UID (required).")
@click.option("--instance", metavar="UID", help="SOP Instance UID (required).")
@store_options
@output_options
def instances(study: str | None, series: str | None, instance: str | None) -> None:
    """Retrieve an instance."""
    _set_target("instances", study, series, instance)


for _group in (studies, series, instances):
    _group.add_command(_metadata_leaf())
    _group.add_command(_full_leaf())
series.add_command(_leaf("rendered", _rendered,
                         "Retrieve the series rendered as one image (GIF: one frame per instance).",
                         [_media_option, _PARAM]))
instances.add_command(_leaf("frames", _frames, "Retrieve frames of the pixel data.",
                            [_media_option, _frames_option(True)]))
instances.add_command(_leaf("rendered", _rendered,
                            "Retrieve the instance (or frames, with --numbers) rendered as images.",
                            [_media_option, _frames_option(False), _PARAM]))
