"""A chat's shown branch as one self-contained Markdown file: the images are embedded as data URIs
(so the file can be mailed or archived alone) and an answer's boxes are listed under it as text."""
from __future__ import annotations

import base64
import mimetypes
import re

from .blobs import BlobStore
from .store import StoredMessage
from .chat_view import answer_text, quote_text, user_lines

SPEAKER = {"system": "System", "user": "You", "assistant": "Assistant"}
NAME_CHARS = 60  # of the file name, before ".md"


def file_name(title: str) -> str:
    """A file name from the title that every file system takes: no separators, no control or
    reserved characters, no leading dot (hidden), never empty."""
    name = re.sub(r'[\x00-\x1f<>:"/\\|?*]+', "_", " ".join(title.split()))
    name = name.strip(" ._")[:NAME_CHARS].rstrip(" ._")
    return (name or "chat") + ".md"


def chat_markdown(title: str, branch: list[StoredMessage], blobs: BlobStore, system: str = "") -> str:
    """The Markdown of `branch` (the messages shown, root first) under a `title` heading, after
    the chat's system prompt (as a quote) when it has one."""
    parts, n_images = [f"# {' '.join(title.split()) or 'Chat'}"], 0
    if system.strip():
        parts += ["**System prompt**", "\n".join("> " + line for line in system.strip().splitlines())]
    for m in branch:
        if m.role not in SPEAKER:
            continue
        parts.append(f"**{SPEAKER[m.role]}**")
        for blob in m.blobs:  # before the text, as in the chat; numbered like a box's image_index
            n_images += 1
            parts.append(f"![image {n_images}]({data_uri(blobs, blob)})")
        if m.role == "assistant":
            parts.append(answer_text(m.text, m.status, m.meta.get("error"), notes=m.meta.get("notes", ()))
                         + quote_text(m.meta.get("quote")))
            parts += _box_lines(m.meta.get("boxes", []))
        else:
            parts += user_lines(m)
    return "\n\n".join(p for p in parts if p) + "\n"


def _box_lines(boxes: list[dict]) -> list[str]:
    """One list item per box, normalized to the original image (0..1)."""
    if not boxes:
        return []
    items = [f"- [{b['ref']}] image {b['image_index'] + 1}: "
             f"{b['x1']:.3f}, {b['y1']:.3f}, {b['x2']:.3f}, {b['y2']:.3f}" for b in boxes]
    return ["Boxes:\n\n" + "\n".join(items)]


def data_uri(blobs: BlobStore, name: str) -> str:
    """The blob's bytes as they are stored (PNG, JPEG, ...), base64 in a data URI."""
    mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(blobs.path(name).read_bytes()).decode('ascii')}"
