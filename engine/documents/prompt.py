"""The messages that put the retrieved passages in front of a model: each headed by its page as
printed ("page 20 (PDF page 23)") and its [pN] tag, within a budget of tokens, then the question,
with an instruction to answer briefly from them. The app shows the passages itself, so a model
that cites nothing still leaves its evidence on screen."""
from __future__ import annotations

from typing import Sequence

from ..api import Image, Message, Text
from .pages import Document
from .passages import Passage
from .render import render_page
from .retrieve import best_lines

NOT_FOUND = "The document does not seem to say."   # the app's answer when no passage clears the threshold
# No "if the passages do not say, say so": a small model copies that sentence as its answer. The
# app says it instead, when no passage clears the retrieval threshold (retrieve.py).
# Nor "in the document's own words", nor the file's name: it answers with those.
SYSTEM = "Answer the question in a few words, from the passages of a document below."
MAX_TOKENS = 600          # passages in the prompt: prefill stays ~1-2 s for a small model on 2 cores
FOCUS_LINES = 2           # the best-matching lines, repeated right before the question
CHARS_PER_TOKEN = 3.0     # English prose is ~4 characters a token, code and numbers fewer: counted short


def shows_pages(info) -> bool:
    """Whether a model (its EngineInfo) is given the passages' page images: it sees, and pages
    are something it can read."""
    return bool(info.vision and info.reads_pages)


def estimate_tokens(text: str) -> int:
    """Tokens `text` takes, estimated on the high side (the engine seam has no tokenizer)."""
    return int(len(text) / CHARS_PER_TOKEN) + 1


def header(doc: Document, p: Passage) -> str:
    return f"[p{p.page}] {doc.page(p.page).cited_as}:"


def build_messages(doc: Document, passages: Sequence[Passage], question: str, can_see_images: bool,
                   max_tokens: int = MAX_TOKENS, image_width: int = 1024) -> list[Message]:
    """A system message and one user message: the passages, best first, each under its page
    header (the page's image before the first passage from it, for a model that sees), as many as
    fit `max_tokens` (the first always, cut to fit), then their lines that match the question best,
    then the question."""
    parts, left, shown, given = [], max_tokens, set(), []
    for i, p in enumerate(passages):
        head = header(doc, p)
        room = int((left - estimate_tokens(head)) * CHARS_PER_TOKEN)
        text = p.text.strip()
        if len(text) > room:
            if i:
                break
            text = text[:max(room, 0)].rsplit(" ", 1)[0] + " …"
        if can_see_images and p.page not in shown:
            shown.add(p.page)
            parts.append(Image(str(render_page(doc, p.page, image_width))))
        parts.append(Text(f"{head}\n{text}\n\n"))
        given.append(p)
        left -= estimate_tokens(head + text)
    focus = best_lines(question, given, FOCUS_LINES, doc.cached("line_vectors", dict))
    lead = "Most relevant lines:\n" + "\n".join(focus) + "\n\n" if focus else ""
    parts.append(Text(f"{lead}Question: {question.strip()}\nAnswer briefly."))
    return [Message("system", [Text(SYSTEM)]), Message("user", parts)]
