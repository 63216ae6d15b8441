"""The messages that put retrieved pages in front of a model and ask it to cite them as [pN]."""
from __future__ import annotations

from typing import Sequence

from ..api import Image, Message, Text
from .pages import Document, Page
from .render import render_page

SYSTEM = ("You answer questions about the document \"{name}\" using only the pages given below. "
          "Quote the document's own words where you can. After each fact, cite the page it comes "
          "from as [p<number>], for example [p3]. If the pages do not contain the answer, say so.")


def build_messages(doc: Document, pages: Sequence[Page | int], question: str, can_see_images: bool,
                   max_chars: int = 6000, image_width: int = 1024) -> list[Message]:
    """A system message and one user message: for each page its image (when the model can see)
    and its text, headed [pN], then the question. Page text is cut to share `max_chars` fairly, so a
    small context still holds every page."""
    pages = [doc.page(p) if isinstance(p, int) else p for p in pages]
    budget = max_chars // max(len(pages), 1)
    parts = []
    for page in pages:
        if can_see_images:
            parts.append(Image(str(render_page(doc, page.number, image_width))))
        text = page.text.strip()
        if len(text) > budget:
            text = text[:budget].rsplit(" ", 1)[0] + " …"
        parts.append(Text(f"[p{page.number}]\n{text}\n\n"))
    parts.append(Text(f"Question: {question.strip()}"))
    return [Message("system", [Text(SYSTEM.format(name=doc.name))]), Message("user", parts)]
