"""Stored messages as the page shows them: Gradio Chatbot messages (an answer streaming, how each
ended, the notes under it) and the lines the Markdown export shares. What the model reads from the
same messages is built in prompt.py."""
from __future__ import annotations

import html
import re

from .blobs import BlobStore
from .store import StoredMessage

STATUS_NOTE = {
    "streaming": " ▌",
    "interrupted": "\n\n*⚠ Interrupted: the app stopped before this answer was finished.*",
    "cancelled": "\n\n*■ Stopped.*",
    "error": "\n\n*⚠ {error}*",
}


CUT = "\n\n*✂ Cut at the limit of new tokens (Max new tokens, under sampling). Continue goes on from here.*"


def answer_text(text: str, status: str, error: str | None = None, note: str = "",
                notes=(), reason: str | None = None) -> str:
    """The answer as shown: its text, how it ended (the token limit too), the engine's notes about
    it (boxes clipped or dropped) as one italic line, and a passing note (waiting for the model)."""
    shown = text + STATUS_NOTE.get(status, "").format(error=_plain(error or "The model failed."))
    if status == "done" and reason == "length":
        shown += CUT
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
            names = m.meta.get("names") or [f"image {i + 1}" for i in range(len(m.blobs))]
            content = [picture(blobs, b, name) for b, name in zip(m.blobs, names)]
            content += [picture(blobs, b, f"{doc['name']}, page {i + 1}.png")
                        for i, b in enumerate(doc["thumbs"] if doc else [])]
            text = "\n\n".join(line for line in user_lines(m) if line)
            if text:
                content.append(text)
            out.append({"role": "user", "content": content})
        elif m.role == "assistant":
            if live is not None and live.msg_id == m.id:
                text = answer_text(live.text, "streaming" if not live.finished else live.status,
                                   live.error, live.note, live.notes, live.reason)
                out.append({"role": "assistant", "content": text})
                continue
            text = answer_text(m.text, m.status, m.meta.get("error"), notes=m.meta.get("notes", ()),
                               reason=m.meta.get("reason")) + quote_text(m.meta.get("quote")) + \
                cards_html(m.id, m.meta.get("cards", []))
            drawn = [picture(blobs, f["drawn"], f"{f['label']} with the answer's boxes.png")
                     for f in m.meta.get("figures", []) if f.get("drawn")]
            out.append({"role": "assistant", "content": [text, *drawn] if drawn else text})
    return out


def quote_text(quote: dict | None) -> str:
    """The document's line the app quotes under an answer that does not draw on it."""
    if not quote:
        return ""
    return f"\n\n> From the document, {quote['label']}: “{_plain(quote['line'])}”"


def cards_html(msg_id: int, cards: list[dict]) -> str:
    """A document answer's evidence: one card per passage, headed by its page as printed, its
    text with the words it shares with the question and answer marked. A click on a card shows
    its page with only that passage boxed (refs.py sends the card's name)."""
    if not cards:
        return ""
    out = ['\n\n<div class="vl-cards">']
    for c in cards:
        marks = set(c["marks"])
        words = " ".join(f"<mark>{html.escape(w)}</mark>" if i in marks else html.escape(w)
                         for i, w in enumerate(c["words"]))
        # the card's name in a class: Gradio's HTML sanitizer drops data- attributes
        out.append(f'<div class="vl-card vl-ref-c{msg_id}-{c["n"]}" role="button" tabindex="0">'
                   f'<b>[{c["n"]}] {html.escape(c["label"])}</b> {words}</div>')
    return "".join(out) + "</div>"


def picture(blobs: BlobStore, blob: str, name: str) -> dict:
    """An image in the chat, served under its file name (the page's alt text) and with alt_text."""
    return {"path": str(blobs.named(blob, name)), "alt_text": name}


def user_lines(m: StoredMessage) -> list[str]:
    """A question's text, its document's line and the notes about its typed regions ("" where
    there is none), as the chat shows them under its images."""
    doc = m.meta.get("document")
    return [m.text, describe(doc) if doc else ""] + [f"*{n}*" for n in m.meta.get("notes", [])]


def notices(problems: list[str]) -> list[dict]:
    """Messages about refused input, shown in the chat but not stored or sent to the model."""
    return [{"role": "assistant", "content": f"⚠ **Not sent.** {p}"} for p in problems]


def describe(ref: dict) -> str:
    """The line shown under a dropped document."""
    n = ref["pages"]
    line = f"📄 **{ref['name']}**: {n} page{'s' if n != 1 else ''} indexed"
    if ref.get("ocr"):
        line += f", {ref['ocr']} read by OCR"
    if ref.get("empty"):
        line += f"; no text found on page(s) {', '.join(map(str, ref['empty'][:10]))}"
    return line + ". Ask about it: each answer shows the passages it draws on; click one to see it on its page."
