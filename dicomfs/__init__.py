"""dicomfs: one DICOMweb client interface for a folder of DICOM files and for real servers.

>>> import dicomfs
>>> sorted(dicomfs.__all__)[:3]
['DICOMClient', 'DICOMfileClient', 'DICOMwebClient']
"""

from __future__ import annotations

from dicomfs import errors, session_utils
from dicomfs.dicomjson import load_json_dataset
from dicomfs.file.client import DICOMfileClient
from dicomfs.protocol import DICOMClient
from dicomfs.web.client import DICOMwebClient

__version__ = "0.1.0"

__all__ = [
    "DICOMClient",
    "DICOMfileClient",
    "DICOMwebClient",
    "__version__",
    "errors",
    "load_json_dataset",
    "session_utils",
]
