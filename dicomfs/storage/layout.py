"""Where instances live under a store's root, and the checks that keep every path inside it.

A UID becomes part of a path only after :func:`validate_uid` accepted it (PS3.5 §9.1: digits and
dots, no empty component, no leading zero except a lone ``0``, at most 64 characters), so a UID such
as ``../x`` or ``/etc`` can never name a file. Paths that come from elsewhere (the index, a bulk
data URL) are resolved, symlinks included, and compared with the resolved root by
:func:`resolve_inside` before anything reads or writes them.

>>> from pathlib import Path
>>> instance_path(Path("/store"), "1.2.3", "1.2.3.4", "1.2.3.4.5").as_posix()
'/store/1.2.3/1.2.3.4/1.2.3.4.5.dcm'
>>> is_valid_uid("1.2.03")
False
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath

from dicomfs.errors import BadRequestError

__all__ = [
    "INTERNAL_DIR",
    "MAX_UID_LENGTH",
    "instance_path",
    "is_inside",
    "is_valid_uid",
    "relative_instance_path",
    "resolve_inside",
    "validate_uid",
]

#: Folder under the root that dicomfs owns (index, locks); never indexed, never removed.
INTERNAL_DIR = ".dicomfs"
#: PS3.5 §9.1: a UID is at most 64 characters.
MAX_UID_LENGTH = 64
_UID_RE = re.compile(r"(?:0|[1-9][0-9]*)(?:\.(?:0|[1-9][0-9]*))*")


def is_valid_uid(uid: object) -> bool:
    """Tell whether ``uid`` is a well-formed DICOM UID (PS3.5 §9.1).

    Parameters
    ----------
    uid: object
        Candidate value; anything but a ``str`` is invalid.

    Returns
    -------
    bool
        True for a non-empty string of at most 64 characters made of dot-separated numeric
        components, none empty and none with a leading zero (``0`` alone is allowed).

    Examples
    --------
    >>> [is_valid_uid(u) for u in ("1.2.840.10008.1.2.1", "1..2", "../1", "", "1.0.2")]
    [True, False, False, False, True]
    """
    return (
        isinstance(uid, str)
        and 0 < len(uid) <= MAX_UID_LENGTH
        and _UID_RE.fullmatch(uid) is not None
    )


def validate_uid(uid: object, name: str = "UID") -> str:
    """Return ``uid`` if it is a well-formed UID, else raise :class:`BadRequestError`.

    Parameters
    ----------
    uid: object
        The value to check.
    name: str
        What the value is (``"Study Instance UID"``), for the error message.

    Returns
    -------
    str
        ``uid`` unchanged.

    Raises
    ------
    dicomfs.errors.BadRequestError
        When ``uid`` is not a well-formed UID (a ``ValueError`` too).
    """
    if not is_valid_uid(uid):
        shown = repr(uid) if not isinstance(uid, str) or len(uid) <= 80 else repr(uid[:80] + "...")
        raise BadRequestError(f"invalid {name}: {shown}")
    assert isinstance(uid, str)
    return uid


def relative_instance_path(study: str, series: str, sop: str) -> str:
    """POSIX path, relative to the root, of the file ``store_instances`` writes for an instance.

    Parameters
    ----------
    study, series, sop: str
        Study, Series and SOP Instance UIDs, each validated first.

    Returns
    -------
    str
        ``"<study>/<series>/<sop>.dcm"``.

    Raises
    ------
    dicomfs.errors.BadRequestError
        When a UID is not well formed.
    """
    validate_uid(study, "Study Instance UID")
    validate_uid(series, "Series Instance UID")
    validate_uid(sop, "SOP Instance UID")
    return f"{study}/{series}/{sop}.dcm"


def instance_path(root: Path, study: str, series: str, sop: str) -> Path:
    """Absolute path of the file ``store_instances`` writes: ``<root>/<study>/<series>/<sop>.dcm``.

    Parameters
    ----------
    root: Path
        The store's root folder.
    study, series, sop: str
        Study, Series and SOP Instance UIDs, validated before they become part of the path.

    Returns
    -------
    Path
        The path (not resolved; it may not exist yet).

    Raises
    ------
    dicomfs.errors.BadRequestError
        When a UID is not well formed.
    """
    return Path(root) / relative_instance_path(study, series, sop)


def is_inside(root: Path, path: Path) -> bool:
    """Tell whether ``path``, with every symlink resolved, is ``root`` or lies under it.

    Parameters
    ----------
    root: Path
        The store's root folder (resolved here too).
    path: Path
        Any path; it need not exist (the existing part is resolved, the rest taken as is).

    Returns
    -------
    bool
        False for ``..`` escapes and for symlinks that point outside the root.
    """
    real_root = Path(os.path.realpath(root))
    real = Path(os.path.realpath(path))
    return real == real_root or real_root in real.parents


def resolve_inside(root: Path, relpath: str | os.PathLike[str]) -> Path:
    """Join a path relative to the root and check that the result stays inside the root.

    Parameters
    ----------
    root: Path
        The store's root folder.
    relpath: str or PathLike
        A path relative to the root (POSIX separators), e.g. from the index or a bulk data URL.
        Absolute paths, ``..`` components and NUL characters are refused outright; symlinks are
        resolved and must still land inside the root.

    Returns
    -------
    Path
        ``root / relpath`` (not resolved, so callers see the name they asked for).

    Raises
    ------
    dicomfs.errors.BadRequestError
        When the path is absolute, contains ``..`` or NUL, is empty, or resolves outside the root.
    """
    text = os.fspath(relpath)
    pure = PurePosixPath(text.replace("\\", "/"))
    if (
        not text
        or "\x00" in text
        or pure.is_absolute()
        or (len(text) > 1 and text[1] == ":")
        or ".." in pure.parts
    ):
        raise BadRequestError(f"path not allowed in the store: {text[:200]!r}")
    candidate = Path(root).joinpath(*pure.parts)
    if not is_inside(root, candidate):
        raise BadRequestError(f"path leads outside the store: {text[:200]!r}")
    return candidate
