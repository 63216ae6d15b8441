"""Writing a file whole: into a temporary file beside it, then one rename over it.

The temporary name is unique to each writer (mkstemp), so two processes or threads writing the same
file (the app and an eval sharing a cache, two renders of one page) never write into one temporary
file: each rename is atomic and the last one wins whole. Readers never see half a file, and a
failed write leaves the old file (or none) and no temporary file behind."""
from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def replacing(path: str | os.PathLike) -> Iterator[Path]:
    """`with replacing(p) as tmp: write to tmp` - and p holds what was written when the block ends."""
    path = Path(path)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: str | os.PathLike, text: str) -> None:
    with replacing(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with replacing(path) as tmp:
        tmp.write_bytes(data)
