"""``dicomfs serve ROOT``: a real process on 127.0.0.1, stopped by SIGTERM or SIGINT (exit 0)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import factories
import pytest
import requests

from server.httpkit import S1


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_serve_until_signal(tmp_path: Path, stop: signal.Signals) -> None:
    """The index is built, the URL printed (--json), QIDO answers, a signal stops it cleanly."""
    factories.write_datasets(tmp_path, [factories.make_instance(1, 1, n) for n in (1, 2)])
    process = subprocess.Popen(
        [sys.executable, "-m", "dicomfs", "serve", str(tmp_path), "--port", "0", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert process.stdout is not None
        started = json.loads(process.stdout.readline())
        url = started["url"]
        assert url.startswith("http://127.0.0.1:") and url.endswith("/dicomweb")
        response = requests.get(f"{url}/studies", headers={"Accept": "application/dicom+json"},
                                timeout=30)
        assert [r["0020000D"]["Value"][0] for r in response.json()] == [S1]
        assert response.json()[0]["00201208"] == {"vr": "IS", "Value": [2]}
        process.send_signal(stop)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def test_serve_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dicomfs", "serve", "--help"], capture_output=True, text=True,
        timeout=60, check=False,
    )
    assert result.returncode == 0
    assert "--host" in result.stdout and "--port" in result.stdout
