"""dicomfs.storage.layout: UIDs become paths only when well formed; paths stay inside the root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dicomfs.errors import BadRequestError
from dicomfs.storage import layout

GOOD = ["1.2.840.10008.1.2.1", "0", "1.0.2", "2.25.1234567890123456789", "9" * 64]
BAD = [
    "",
    "..",
    "../1.2",
    "1.2/../3",
    "/abs",
    "/1.2.3",
    "1..2",
    ".1.2",
    "1.2.",
    "1.02.3",
    "01.2",
    "1.2.a",
    "1.2.3 ",
    " 1.2",
    "1.2\x00",
    "1.2\\3",
    "1" * 65,
    "1." + "2" * 63,
    "1,2",
    "\u0661.\u0662",  # non-ASCII digits
]


@pytest.mark.parametrize("uid", GOOD)
def test_valid_uids_accepted(uid: str) -> None:
    """PS3.5 §9.1: digits and dots, <= 64 chars, no leading zeros (I-12 well-formed UIDs)."""
    assert layout.is_valid_uid(uid) is True
    assert layout.validate_uid(uid) == uid


@pytest.mark.parametrize("uid", BAD)
def test_invalid_uids_rejected(uid: str) -> None:
    """Path-traversal, empty, too long and non-digit UIDs are rejected before any path is built."""
    assert layout.is_valid_uid(uid) is False
    with pytest.raises(BadRequestError, match="invalid SOP Instance UID"):
        layout.validate_uid(uid, "SOP Instance UID")


@pytest.mark.parametrize("value", [None, 12, b"1.2", ["1.2"]])
def test_non_strings_rejected(value: object) -> None:
    assert layout.is_valid_uid(value) is False
    with pytest.raises(ValueError):
        layout.validate_uid(value)


def test_instance_path_layout(tmp_path: Path) -> None:
    """Files written by STOW go to <root>/<Study>/<Series>/<SOP>.dcm (API.md)."""
    path = layout.instance_path(tmp_path, "1.2.3", "1.2.3.4", "1.2.3.4.5")
    assert path == tmp_path / "1.2.3" / "1.2.3.4" / "1.2.3.4.5.dcm"
    assert layout.relative_instance_path("1.2", "1.3", "1.4") == "1.2/1.3/1.4.dcm"


@pytest.mark.parametrize("position", [0, 1, 2])
@pytest.mark.parametrize("uid", ["..", "../../etc", "/etc", "1.2/3", ""])
def test_instance_path_refuses_bad_uid_anywhere(tmp_path: Path, position: int, uid: str) -> None:
    uids = ["1.2", "1.3", "1.4"]
    uids[position] = uid
    with pytest.raises(BadRequestError):
        layout.instance_path(tmp_path, *uids)


def test_resolve_inside_accepts_plain_relative(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    assert layout.resolve_inside(tmp_path, "a/b.dcm") == tmp_path / "a" / "b.dcm"
    assert layout.resolve_inside(tmp_path, "x") == tmp_path / "x"


@pytest.mark.parametrize(
    "relpath", ["../x", "a/../../x", "..", "/etc/passwd", "", "a/\x00b", "C:/x", "a\\..\\..\\x"]
)
def test_resolve_inside_refuses_escapes(tmp_path: Path, relpath: str) -> None:
    """Bulk data URLs crafted with ../ or absolute paths never name a file outside the root."""
    with pytest.raises(BadRequestError):
        layout.resolve_inside(tmp_path, relpath)


def test_resolve_inside_refuses_symlink_leaving_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret.dcm").write_bytes(b"secret")
    os.symlink(outside, root / "link")
    os.symlink(outside / "secret.dcm", root / "file.dcm")
    with pytest.raises(BadRequestError, match="outside"):
        layout.resolve_inside(root, "link/secret.dcm")
    with pytest.raises(BadRequestError, match="outside"):
        layout.resolve_inside(root, "file.dcm")
    assert layout.is_inside(root, root / "link") is False
    assert layout.is_inside(root, root) is True


def test_symlink_inside_root_allowed(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    os.symlink(tmp_path / "real", tmp_path / "alias")
    assert layout.resolve_inside(tmp_path, "alias/f.dcm") == tmp_path / "alias" / "f.dcm"


def test_root_itself_a_symlink(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    os.symlink(tmp_path / "real", tmp_path / "root")
    assert layout.is_inside(tmp_path / "root", tmp_path / "root" / "a" / "b") is True
