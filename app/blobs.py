"""Attachments stored once, named by their sha256: blobs/ab/abcdef....png.

The extension is kept so Gradio serves the file with the right type."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from engine.atomic import write_bytes


class BlobStore:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def put(self, data: bytes, ext: str = "") -> str:
        """Store bytes (no-op when already there) and return the blob's name: sha256 + ext."""
        name = hashlib.sha256(data).hexdigest() + ext.lower()
        path = self.path(name)
        if not path.exists():
            path.parent.mkdir(exist_ok=True)
            write_bytes(path, data)  # atomic: a crash never leaves half a blob under the real name
        return name

    def path(self, name: str) -> Path:
        if "/" in name or "\\" in name or name.startswith("."):
            raise ValueError(f"not a blob name: {name!r}")
        return self.root / name[:2] / name

    def named(self, name: str, shown: str) -> Path:
        """The blob under the file name the user gave it (a hard link beside the blobs, a copy where
        links fail): Gradio serves a file by its base name, which the page reads as the image's alt
        text (its chatbot drops alt_text)."""
        shown = "".join(c for c in Path(shown).name if c not in '\\/:*?"<>|') or name
        link = self.root / "named" / name / shown
        if not link.exists():
            link.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(self.path(name), link)
            except OSError:
                link.write_bytes(self.path(name).read_bytes())
        return link

