"""Stored messages seen two ways: as engine.api Messages for the model, and as Gradio chat
messages for the page."""
from __future__ import annotations

import re

from engine.api import Image, Message, Text

from .blobs import BlobStore
from .documents import describe
from .regions import answer_regions, image_size, referred_regions, split_regions
from .store import StoredMessage

ROLES = ("system", "user", "assistant")

STATUS_NOTE = {
    "streaming": " ▌",
    "interrupted": "\n\n*⚠ Interrupted: the app stopped before this answer was finished.*",
    "cancelled": "\n\n*■ Stopped.*",
    "error": "\n\n*⚠ {error}*",
}


def to_engine(branch: list[StoredMessage], blobs: BlobStore) -> tuple[list[Message], list[str]]:
    """The conversation the model sees, and notes about typed regions. Images are numbered by
    their order here, which is the image_index of the Box events the model sends back; a typed
    [x1, y1, x2, y2] becomes a Region on the last image at or before its message, and an answer's
    [k] the Region of its box k (so the model reads its own boxes back, not "[k]"); a [k] the
    user writes is box k of the answer before it ("what colour is [0]?")."""
    out, notes, n_images, last, boxes = [], [], 0, None, []
    for m in branch:
        if m.role not in ROLES or (m.role == "assistant" and not m.text):
            continue
        parts = [Image(str(blobs.path(b))) for b in m.blobs]
        n_images += len(m.blobs)
        last = m.blobs[-1] if m.blobs else last
        if m.role == "user" and last is not None:
            text_parts, notes = split_regions(m.text, n_images - 1, image_size(blobs.path(last)))
            text_parts = referred_regions(text_parts, boxes, n_images)
        elif m.role == "assistant" and m.meta.get("boxes"):  # the model's boxes, as it gave them
            text_parts = answer_regions(m.text, m.meta["boxes"], n_images)
        else:
            text_parts = [Text(m.text)]
        out.append(Message(m.role, parts + text_parts))
        if m.role == "assistant":
            boxes = m.meta.get("boxes", [])
    return out, notes  # the notes of the last message: the one being sent


def one_turn_each(messages: list[Message]) -> list[Message]:
    """Questions in a row (the answer between them failed or was stopped before any text) become
    one user turn: many chat templates (Llama 2, Mistral, Gemma) refuse two user turns in a row."""
    out: list[Message] = []
    for m in messages:
        if out and m.role == "user" and out[-1].role == "user":
            out[-1] = Message("user", [*out[-1].parts, Text("\n\n"), *m.parts])
        else:
            out.append(m)
    return out


def with_system(messages: list[Message], system: str) -> list[Message]:
    """The user's system prompt before everything; merged into a system message already there
    (a document prompt's), since chat templates take one system message, first."""
    if not system.strip():
        return messages
    if messages and messages[0].role == "system":
        return [Message("system", [Text(system.strip() + "\n\n"), *messages[0].parts]), *messages[1:]]
    return [Message("system", [Text(system.strip())]), *messages]


def images_of(branch: list[StoredMessage]) -> list[str]:
    """Blob names of the branch's images in the order the model sees them."""
    return [b for m in branch if m.role in ROLES for b in m.blobs]


def answer_text(text: str, status: str, error: str | None = None, note: str = "",
                notes=()) -> str:
    """The answer as shown: its text, how it ended, the engine's notes about it (boxes clipped or
    dropped) as one italic line, and a passing note (waiting for the model)."""
    shown = text + STATUS_NOTE.get(status, "").format(error=error or "The model failed.")
    if notes:
        shown += "\n\n*" + "; ".join(_plain(n) for n in notes) + "*"
    if note:
        shown += f"\n\n*{note}*"
    return shown


def _plain(note: str) -> str:
    """Markdown and HTML characters in a note (raw box markup it quotes) shown as they are."""
    return re.sub(r"([\\`*_<>])", r"\\\1", note)


def to_chatbot(branch: list[StoredMessage], blobs: BlobStore, live=None) -> list[dict]:
    """Gradio 'messages' for the branch; `live` (an Answer) replaces its row while it streams."""
    out = []
    for m in branch:
        if m.role == "user":
            doc = m.meta.get("document")
            content = [{"path": str(blobs.path(b))} for b in m.blobs + (doc["thumbs"] if doc else [])]
            text = "\n\n".join(line for line in user_lines(m) if line)
            if text:
                content.append(text)
            out.append({"role": "user", "content": content})
        elif m.role == "assistant":
            if live is not None and live.msg_id == m.id:
                text = answer_text(live.text, "streaming" if not live.finished else live.status,
                                   live.error, live.note, live.notes)
                out.append({"role": "assistant", "content": text})
                continue
            text = answer_text(m.text, m.status, m.meta.get("error"), notes=m.meta.get("notes", ()))
            drawn = [{"path": str(blobs.path(f["drawn"]))} for f in m.meta.get("figures", []) if f.get("drawn")]
            out.append({"role": "assistant", "content": [text, *drawn] if drawn else text})
    return out


def user_lines(m: StoredMessage) -> list[str]:
    """A question's text, its document's line and the notes about its typed regions ("" where
    there is none), as the chat shows them under its images."""
    doc = m.meta.get("document")
    return [m.text, describe(doc) if doc else ""] + [f"*{n}*" for n in m.meta.get("notes", [])]


def notices(problems: list[str]) -> list[dict]:
    """Messages about refused input, shown in the chat but not stored or sent to the model."""
    return [{"role": "assistant", "content": f"⚠ **Not sent.** {p}"} for p in problems]
