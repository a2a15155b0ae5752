"""A real Orthanc + DICOMweb plugin for tests, on 127.0.0.1 only (see /work/shared/PEERS.md).

Orthanc 1.10 has no bind-address option, so it runs with an ``LD_PRELOAD`` shim (compiled here
with gcc) that rewrites ``bind()`` to the wildcard address into a bind to loopback.

>>> server = start_orthanc(tmpdir)                       # doctest: +SKIP
>>> client = load_into_orthanc(server, datasets)         # doctest: +SKIP
>>> server.stop()                                        # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from pydicom.dataset import Dataset

from dicomfs.web.client import DICOMwebClient

__all__ = [
    "ORTHANC_BINARY",
    "ORTHANC_DEVIATIONS",
    "ORTHANC_PLUGIN",
    "OrthancServer",
    "OrthancUnavailable",
    "StableOrderClient",
    "load_into_orthanc",
    "orthanc_available",
    "start_orthanc",
]

ORTHANC_BINARY = Path("/usr/sbin/Orthanc")
ORTHANC_PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")

_SHIM_SOURCE = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>

/* Rewrite bind() to INADDR_ANY / in6addr_any into a bind to loopback (tests only). */
typedef int (*bind_fn)(int, const struct sockaddr *, socklen_t);

int bind(int fd, const struct sockaddr *addr, socklen_t len) {
    static bind_fn real_bind = 0;
    if (!real_bind) real_bind = (bind_fn)dlsym(RTLD_NEXT, "bind");
    if (addr && addr->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        struct sockaddr_in copy;
        memcpy(&copy, addr, sizeof copy);
        if (copy.sin_addr.s_addr == htonl(INADDR_ANY)) {
            copy.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            return real_bind(fd, (const struct sockaddr *)&copy, sizeof copy);
        }
    } else if (addr && addr->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
        struct sockaddr_in6 copy6;
        memcpy(&copy6, addr, sizeof copy6);
        if (memcmp(&copy6.sin6_addr, &in6addr_any, sizeof(struct in6_addr)) == 0) {
            copy6.sin6_addr = in6addr_loopback;
            return real_bind(fd, (const struct sockaddr *)&copy6, sizeof copy6);
        }
    }
    return real_bind(fd, addr, len);
}
"""


#: What Orthanc 1.10 + DICOMweb 1.7 does differently from dicomfs's contract (measured; see
#: docs/web-client.md). Contract tests skip a feature listed here when the client is Orthanc's.
ORTHANC_DEVIATIONS: dict[str, str] = {
    "delete": "DICOMweb DELETE answers 405 (UnsupportedError); only the REST API deletes",
    "query_caret": "query values are not percent-decoded: a value with ^ matches nothing",
    "query_space": "query values are not percent-decoded: a value with a space matches nothing",
    "query_plus": "query values are not percent-decoded: a value with + matches nothing",
    "query_non_ascii": "query values are not percent-decoded: non-ASCII values match nothing",
    "case_sensitive_matching": "matching is case-insensitive for every VR",
    "fuzzymatching": "fuzzymatching is accepted and ignored",
    "invalid_query_400": "bad dates/ranges give 200 and an empty list, not 400",
    "not_acceptable_406": "transcodes it cannot do give 500 or 400, never 406",
    "frame_past_end_404": "a frame number past the end gives 400, not 404",
    "jpeg2000": "this build cannot decode JPEG 2000",
    "rendered_gif": "rendered image/gif gives 400",
    "dicomfs_failure_reasons": "FailureReason codes differ (0x0110 for a study mismatch)",
    # Measured by the contract suite (tests/contract; capability names in its conftest.py),
    # each confirmed on Orthanc's raw HTTP answer:
    "time_by_meaning": "TM is matched as a string: StudyTime=2230 misses 223000, -09 misses "
    "090000, 0930-0930 misses 093000 (B-16..B-18)",
    "multi_value_matching": "ImageType=AXIAL misses ORIGINAL\\PRIMARY\\AXIAL (only *AXIAL "
    "matches, B-22)",
    "charset_match_key": "SpecificCharacterSet is used as a match key (=XYZ gives [], B-25)",
    "relational_attributes": "/series results carry no study attributes, /instances results no "
    "NumberOfStudyRelated* (C-09)",
    "lower_level_includefield": "includefield=Rows at study level returns Rows (C-11)",
    "limit_zero": "limit=0 returns every result (D-08 IMPL: dicomfs returns [])",
    "result_order": "results come in Orthanc's own (hash) order; dicomfs sorts by StudyDate/Time",
    "implicit_vr_sent": "asking for Implicit VR LE gets it (200; E-06 says never)",
    "frames_encoded_to_jpeg": "native frames asked as image/jpeg come back JPEG Lossless (.4.70), "
    "where dicomfs answers 406 (both allowed)",
    "viewport_aspect": "viewport=8,2 on a 4x4 image renders 8x2: aspect not kept (H-04)",
    "viewport_zero": "viewport=0,0 closes the connection without an answer (libpng error, H-06)",
    "bulkdata_uri_case": "BulkDataURIs end in a lower-case tag (.../bulk/7fe00010)",
    "percent_in_values": "PatientID=100? does not match a stored 100%",
}


class OrthancUnavailable(RuntimeError):
    """Orthanc (or gcc, or the DICOMweb plugin) is missing, or the server did not start."""


def orthanc_available() -> str | None:
    """Return why Orthanc cannot be started here, or ``None`` when it can."""
    if not ORTHANC_BINARY.exists():
        return f"{ORTHANC_BINARY} not installed (Debian package orthanc)"
    if not ORTHANC_PLUGIN.exists():
        return f"{ORTHANC_PLUGIN} not installed (Debian package orthanc-dicomweb)"
    if shutil.which("gcc") is None:
        return "gcc not found (needed for the loopback-only bind shim)"
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _build_shim(folder: Path) -> Path:
    source = folder / "bind_loopback.c"
    library = folder / "bind_loopback.so"
    source.write_text(_SHIM_SOURCE)
    result = subprocess.run(
        ["gcc", "-shared", "-fPIC", "-O2", "-o", str(library), str(source), "-ldl"],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise OrthancUnavailable(f"cannot compile the bind shim: {result.stderr.strip()}")
    return library


@dataclass
class OrthancServer:
    """A running Orthanc started by :func:`start_orthanc`; stop it with :meth:`stop`."""

    process: subprocess.Popen[bytes]
    port: int
    folder: Path
    auth: tuple[str, str] | None = None
    session: requests.Session = field(default_factory=requests.Session)

    @property
    def url(self) -> str:
        """The root of Orthanc's REST API."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def dicomweb_url(self) -> str:
        """The DICOMweb root (no trailing slash)."""
        return f"{self.url}/dicom-web"

    def client(self, **kwargs: object) -> DICOMwebClient:
        """A :class:`DICOMwebClient` for this server (with its credentials when auth is on)."""
        if self.auth is not None and "session" not in kwargs:
            session = requests.Session()
            session.auth = self.auth
            kwargs["session"] = session
        return DICOMwebClient(self.dicomweb_url, **kwargs)  # type: ignore[arg-type]

    def rest(self, method: str, path: str, **kwargs: object) -> requests.Response:
        """Call Orthanc's own REST API (not DICOMweb) and raise on an HTTP error."""
        response = self.session.request(
            method, f"{self.url}{path}", auth=self.auth, timeout=60, **kwargs  # type: ignore[arg-type]
        )
        response.raise_for_status()
        return response

    def clear(self) -> None:
        """Delete every study (through the REST API: DICOMweb DELETE answers 405 in Orthanc)."""
        for orthanc_id in self.rest("GET", "/studies").json():
            self.rest("DELETE", f"/studies/{orthanc_id}")

    def delete_study(self, study_instance_uid: str) -> None:
        """Delete one study by its Study Instance UID (``POST /tools/find`` then ``DELETE``)."""
        found = self.rest(
            "POST",
            "/tools/find",
            json={"Level": "Study", "Query": {"StudyInstanceUID": study_instance_uid}},
        ).json()
        for orthanc_id in found:
            self.rest("DELETE", f"/studies/{orthanc_id}")

    def stop(self) -> None:
        """Stop the server (SIGTERM to its PID, then SIGKILL after 10 s) and close the session."""
        self.session.close()
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)

    def log(self) -> str:
        """Orthanc's log so far (for failure messages)."""
        path = self.folder / "orthanc.log"
        return path.read_text(errors="replace") if path.exists() else ""


def start_orthanc(
    tmpdir: str | os.PathLike[str],
    auth: tuple[str, str] | None = None,
    *,
    startup_timeout: float = 30.0,
) -> OrthancServer:
    """Start Orthanc with the DICOMweb plugin on 127.0.0.1 and a free port.

    Parameters
    ----------
    tmpdir: path
        A folder of the caller's (configuration, storage, index, log and shim go there).
    auth: tuple[str, str], optional
        ``(user, password)``: turn on HTTP basic authentication.
    startup_timeout: float
        Seconds to wait for ``GET /system`` to answer 200.

    Returns
    -------
    OrthancServer
        The running server.

    Raises
    ------
    OrthancUnavailable
        Orthanc cannot be started here (the reason is in the message).
    """
    reason = orthanc_available()
    if reason is not None:
        raise OrthancUnavailable(reason)
    folder = Path(tmpdir)
    folder.mkdir(parents=True, exist_ok=True)
    shim = _build_shim(folder)
    port = _free_port()
    config: dict[str, object] = {
        "Name": "dicomfs-tests",
        "HttpPort": port,
        "StorageDirectory": str(folder / "storage"),
        "IndexDirectory": str(folder / "index"),
        "DicomServerEnabled": False,
        "RemoteAccessAllowed": False,
        "OrthancExplorerEnabled": False,
        "HttpCompressionEnabled": False,
        "KeepAlive": True,
        "StorageCompression": False,
        "OverwriteInstances": True,
        "Plugins": [str(ORTHANC_PLUGIN)],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": False},
        "AuthenticationEnabled": auth is not None,
        "RegisteredUsers": {auth[0]: auth[1]} if auth is not None else {},
    }
    config_path = folder / "orthanc.json"
    config_path.write_text(json.dumps(config, indent=2))
    env = dict(os.environ, LD_PRELOAD=str(shim))
    log = folder / "orthanc.log"
    with open(folder / "stdout.log", "wb") as out:
        process = subprocess.Popen(
            [str(ORTHANC_BINARY), f"--logfile={log}", str(config_path)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=folder,
        )
    server = OrthancServer(process=process, port=port, folder=folder, auth=auth)
    deadline = time.monotonic() + startup_timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise OrthancUnavailable(f"Orthanc exited with {process.returncode}: {server.log()}")
        try:
            if server.session.get(f"{server.url}/system", auth=auth, timeout=2).status_code == 200:
                return server
        except requests.ConnectionError:
            pass
        time.sleep(0.05)
    server.stop()
    raise OrthancUnavailable(f"Orthanc did not answer within {startup_timeout} s: {server.log()}")


def _time_key(value: object) -> float:
    try:
        return float(str(value or "-1"))
    except ValueError:
        return -1.0


def stable_order(datasets: Sequence[Dataset]) -> dict[str, tuple[Any, ...]]:
    """UID -> sort key of dicomfs's stable result order (CONFORMANCE C-14; see
    dicomfs/index/query.py): studies by StudyDate, StudyTime (by meaning) and UID, then series
    by SeriesNumber and UID, then instances by InstanceNumber and UID. Keys of study, series and
    SOP Instance UIDs live in one mapping (UIDs are unique across levels)."""
    keys: dict[str, tuple[Any, ...]] = {}
    for ds in datasets:
        study = (str(ds.get("StudyDate", "")), _time_key(ds.get("StudyTime")),
                 str(ds.StudyInstanceUID))
        series = (*study, int(ds.get("SeriesNumber") or -1), str(ds.SeriesInstanceUID))
        keys[str(ds.StudyInstanceUID)] = study
        keys[str(ds.SeriesInstanceUID)] = series
        keys[str(ds.SOPInstanceUID)] = (*series, int(ds.get("InstanceNumber") or -1),
                                        str(ds.SOPInstanceUID))
    return keys


class StableOrderClient(DICOMwebClient):
    """A :class:`DICOMwebClient` that puts search results in dicomfs's stable order.

    QIDO-RS leaves the order of results to the server (only C-14's determinism is required);
    Orthanc returns its own (hash) order. For a store of known content, the contract tests
    re-sort each result list by :func:`stable_order` of the stored datasets so that their
    matching assertions run unchanged; nothing else is touched (results missing, extra or
    repeated still fail). Tests about the order itself, or about paging through it, are marked
    ``needs("result-order")`` and skip with this client.
    """

    def __init__(self, url: str, order: dict[str, tuple[Any, ...]], **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        self._order = order

    def _key(self, result: dict[str, Any]) -> tuple[int, tuple[Any, ...]]:
        for tag in ("00080018", "0020000E", "0020000D"):
            values = result.get(tag, {}).get("Value") or [None]
            if values[0] in self._order:
                return (0, self._order[values[0]])
        return (1, ())  # unknown entities after the known ones, in the server's order

    def _sorted(self, results: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return sorted(results, key=self._key)

    def search_for_studies(self, *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        return self._sorted(super().search_for_studies(*args, **kwargs))

    def search_for_series(self, *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        return self._sorted(super().search_for_series(*args, **kwargs))

    def search_for_instances(self, *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        return self._sorted(super().search_for_instances(*args, **kwargs))


def load_into_orthanc(
    server: OrthancServer,
    datasets: Sequence[Dataset],
    *,
    clear: bool = True,
    batch: int = 100,
    sort_results: bool = False,
) -> DICOMwebClient:
    """Empty the server (unless ``clear=False``), store ``datasets`` through STOW-RS with the
    web client, and return a :class:`DICOMwebClient` for it (a :class:`StableOrderClient`
    when ``sort_results``).

    Raises
    ------
    AssertionError
        Orthanc did not store every instance.
    """
    if clear:
        server.clear()
    client = server.client()
    for start in range(0, len(datasets), batch):
        chunk = datasets[start : start + batch]
        response = client.store_instances(chunk)
        stored = len(response.get("ReferencedSOPSequence", []))
        failed = response.get("FailedSOPSequence", [])
        assert stored == len(chunk) and not failed, f"Orthanc stored {stored}/{len(chunk)}"
    if sort_results:
        kwargs: dict[str, Any] = {}
        if server.auth is not None:
            kwargs["session"] = requests.Session()
            kwargs["session"].auth = server.auth
        return StableOrderClient(server.dicomweb_url, stable_order(datasets), **kwargs)
    return client
