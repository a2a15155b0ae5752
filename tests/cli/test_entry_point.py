"""The real entry point: ``python -m dicomfs`` in a subprocess, including a watch run stopped
by SIGTERM (exit code 0)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import factories
import pytest
from clirun import REPO, run_dicomfs

from dicomfs.file.client import DICOMfileClient


def test_version_and_help() -> None:
    """`python -m dicomfs --version` and `--help` exit 0."""
    version = run_dicomfs("--version")
    assert (version.returncode, version.stdout) == (0, "dicomfs, version 0.1.0\n")
    assert run_dicomfs("--help").stdout.startswith("Usage: dicomfs [OPTIONS] COMMAND [ARGS]...")


def test_index_then_search_json(store: Path) -> None:
    """The subprocess prints no progress bar when stderr is not a terminal, and JSON parses."""
    index = run_dicomfs("index", store)
    assert index.returncode == 0
    assert index.stdout.splitlines()[0] == (
        f"{store}: 0 added, 0 updated, 0 removed, 12 unchanged, 0 rejected")
    assert index.stderr == ""
    found = run_dicomfs("search", "instances", "--root", store, "--study",
                        factories.study_uid(4), "--json")
    assert found.returncode == 0
    assert sorted(r["00080018"]["Value"][0] for r in json.loads(found.stdout)) == [
        factories.sop_uid(4, 1, 1), factories.sop_uid(4, 2, 1)]


def test_errors_are_one_line_with_exit_codes(store: Path) -> None:
    """Unknown study: exit 1, one line on stderr; usage error: exit 2."""
    missing = run_dicomfs("retrieve", "studies", "--study", "1.2.3", "metadata", "--root", store)
    assert missing.returncode == 1
    assert missing.stderr.splitlines() == [missing.stderr.strip()]
    assert missing.stderr.startswith("Error: ")
    assert run_dicomfs("search", "studies").returncode == 2


@pytest.mark.timeout(120)
def test_watch_inbox_until_sigterm(tmp_path: Path) -> None:
    """`dicomfs watch INBOX --into ROOT --json` prints one JSON line per file, stops on
    SIGTERM with exit code 0."""
    inbox, root = tmp_path / "inbox", tmp_path / "store"
    inbox.mkdir()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dicomfs", "watch", inbox, "--into", root, "--json",
         "--settle", "0.2"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        time.sleep(1.0)  # let it start; a file dropped earlier is caught up anyway
        factories.make_instance(3, 1, 1).save_as(inbox / "IM1", enforce_file_format=True)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        event = json.loads(line)
        assert (event["action"], event["path"], event["sop_instance_uid"]) == (
            "stored", "IM1", factories.sop_uid(3, 1, 1))
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert not (inbox / "IM1").exists()
    with DICOMfileClient(root) as client:
        assert [r["00080018"]["Value"][0] for r in client.search_for_instances()] == [
            factories.sop_uid(3, 1, 1)]
