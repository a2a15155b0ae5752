"""Ways to run dicomfs in the CLI tests: in-process (CliRunner) and as a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from dicomfs.cli.main import cli

REPO = Path(__file__).resolve().parents[2]


def invoke(*args: str) -> Result:
    """Run dicomfs in-process (click's CliRunner); stdout and stderr kept apart."""
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def invoke_json(*args: str) -> Any:
    result = invoke(*args, "--json")
    assert result.exit_code == 0, result.output + result.stderr
    return json.loads(result.stdout)


def run_dicomfs(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``python -m dicomfs`` in a subprocess (the real entry point)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "dicomfs", *map(str, args)], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=timeout, check=False)
