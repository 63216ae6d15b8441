"""A fetched file is kept only if it is what the hub lists: the sha256 of a weights (LFS) file,
the git blob id of any other file."""
from __future__ import annotations

import hashlib
import threading
from pathlib import Path

from .client import RemoteFile
from .errors import Cancelled

BLOCK = 4 << 20


def matches(path: Path, f: RemoteFile, cancel: threading.Event | None = None) -> bool:
    """True when the file's bytes hash to what the hub says (a file the hub gives no hash for,
    which no real hub does, only by its size)."""
    size = path.stat().st_size
    if size != f.size:
        return False
    if f.sha256:
        h, want = hashlib.sha256(), f.sha256.lower()
    elif f.blob_id:
        h, want = hashlib.sha1(b"blob %d\0" % size), f.blob_id.lower()
    else:
        return True
    with open(path, "rb") as src:
        while block := src.read(BLOCK):
            if cancel is not None and cancel.is_set():
                raise Cancelled("cancelled")
            h.update(block)
    return h.hexdigest() == want
