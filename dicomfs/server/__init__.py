"""``dicomfs serve``: a store as a DICOMweb HTTP server (QIDO-RS, WADO-RS, STOW-RS, DELETE).

See ``docs/server.md``. :func:`make_server` binds a server to start in a thread;
:func:`serve` runs one until SIGINT/SIGTERM.
"""

from dicomfs.server.app import DEFAULT_MAX_RESULTS, DICOMwebApp
from dicomfs.server.server import DEFAULT_PREFIX, DICOMwebServer, make_server, serve

__all__ = [
    "DEFAULT_MAX_RESULTS",
    "DEFAULT_PREFIX",
    "DICOMwebApp",
    "DICOMwebServer",
    "make_server",
    "serve",
]
