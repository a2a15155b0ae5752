"""Names in a store's tree that are never indexed or watched: the one rule of the scanner and
the watcher, so that ``sync()`` and a running watcher agree on what the store holds.

* Folders: ``.dicomfs`` (the index, locks), ``.rejected`` (the inbox's refusals), version
  control (``.git``, ``.hg``, ``.svn``), ``__pycache__``, desktop trash (``.Trash``,
  ``.Trashes``), wherever they appear.
* Files named like the temporaries of editors, copy tools and desktops (fnmatch patterns of
  :data:`NOISE_PATTERNS`): hidden files (rsync's ``.name.XXXXXX``, emacs locks, ``.DS_Store``,
  dicomfs's own temporaries), backups, swap files, partial downloads, office locks, desktop
  metadata.

>>> is_noise_name("IM0001"), is_noise_name(".IM0001.swp"), is_noise_name("scan.dcm.part")
(False, True, True)
>>> is_noise_name("4913")  # a numbered instance, though vim probes with that name too
False
"""

from __future__ import annotations

import fnmatch
import re

__all__ = ["IGNORED_DIRECTORIES", "NOISE_PATTERNS", "is_noise_name"]

#: Folders whose content is never acted upon, wherever they appear in the tree.
IGNORED_DIRECTORIES = frozenset(
    {".dicomfs", ".rejected", ".git", ".hg", ".svn", "__pycache__", ".Trash", ".Trashes"}
)
#: File names (fnmatch patterns) written by editors, copy tools and desktops while they work:
#: vim swap files, emacs locks and backups, rsync/curl/browser partial downloads, office lock
#: files, desktop metadata, and temporary files in general. (vim's ``4913`` probe is left out:
#: trees of numbered files hold real instances of that name, and the probe lives a moment.)
NOISE_PATTERNS = (
    ".*",  # hidden files: rsync temp files (.name.XXXXXX), emacs locks (.#name), .DS_Store
    "*~",
    "#*#",
    "*.swp",
    "*.swx",
    "*.swo",
    "*.tmp",
    "*.temp",
    "*.part",
    "*.partial",
    "*.crdownload",
    "*.download",
    "*.filepart",
    "~$*",
    "Thumbs.db",
    "desktop.ini",
)
_NOISE_RE = re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in NOISE_PATTERNS))


def is_noise_name(name: str) -> bool:
    """Whether a file or folder name is never indexed or watched (see the module docstring)."""
    return name in IGNORED_DIRECTORIES or _NOISE_RE.match(name) is not None
