"""Documents in a chat: a dropped PDF (or scans) is indexed once by engine.documents, the chat
remembers it by a small reference stored with the message, and each later question is answered
from the pages that match it best. The cited words come back as boxes on the page images.

A reference is plain JSON (kept in the message's meta): the index's sha256, the name, the page
count, the source blobs (so the document reopens even if the index cache was deleted) and the
thumbnail blobs shown in the chat."""
from __future__ import annotations

from pathlib import Path

from engine.api import Message, Text
from engine.documents import (build_messages, cite_boxes, citations, open_document, render_page, retrieve,
                              thumbnail)

from .attachments import Limits
from .blobs import BlobStore

TOP_PAGES = 3        # pages put in front of the model per question
THUMBNAILS = 4       # page thumbnails shown in the chat under the dropped document
HISTORY_TURNS = 2    # earlier questions and answers about the document kept in the prompt
SHOWN_PAGES = 3      # cited pages drawn under an answer


class Documents:
    def __init__(self, cache_dir: Path, blobs: BlobStore, limits: Limits):
        self.cache_dir, self.blobs, self.limits = Path(cache_dir), blobs, limits
        self._open = {}  # sha256 -> engine.documents.Document

    def index(self, paths: list[Path], progress=None) -> dict:
        """Read the document (EngineError with the user's message if it cannot be) and return
        its reference."""
        doc = open_document(paths, cache_dir=self.cache_dir, progress=progress,
                            max_pages=self.limits.max_pages,
                            max_bytes=int(self.limits.max_doc_mb * 2**20))
        self._open[doc.sha256] = doc
        return {"sha": doc.sha256, "name": doc.name, "pages": len(doc.pages),
                "ocr": sum(p.source == "ocr" for p in doc.pages),
                "empty": [p.number for p in doc.pages if p.source == "empty"],
                "sources": [self.blobs.put(Path(p).read_bytes(), Path(p).suffix) for p in paths],
                "thumbs": [self._blob(thumbnail(doc, n)) for n in range(1, min(len(doc.pages), THUMBNAILS) + 1)]}

    def get(self, ref: dict):
        doc = self._open.get(ref["sha"])
        if doc is None:  # after a restart: the index is read back from its cache (or rebuilt)
            doc = self._open[ref["sha"]] = open_document(
                [self.blobs.path(b) for b in ref["sources"]], cache_dir=self.cache_dir,
                max_pages=self.limits.max_pages, max_bytes=int(self.limits.max_doc_mb * 2**20))
        return doc

    def _blob(self, path: Path) -> str:
        return self.blobs.put(Path(path).read_bytes(), ".png")

    # ---- asking -------------------------------------------------------------------------------
    def pick_pages(self, ref: dict, question: str) -> list[int]:
        return [p.number for p in retrieve(self.get(ref), question, TOP_PAGES)]

    def messages(self, ref: dict, pages: list[int], question: str, history: list, can_see: bool) -> list[Message]:
        """The document prompt (system + pages + question), with the last turns about it between."""
        system, user = build_messages(self.get(ref), pages, question, can_see)
        turns = [Message(m.role, [Text(m.text)]) for m in history if m.text][-2 * HISTORY_TURNS:]
        return [system, *turns, user]

    def figures(self, ref: dict, pages: list[int], answer: str) -> list[dict]:
        """The pages the answer cites (or that hold its words), each as a page image blob and the
        boxes of the cited words, for drawing in the chat and the boxes panel."""
        doc = self.get(ref)
        hits = cite_boxes(doc, answer, pages)
        cited = [n for n in citations(answer) if 1 <= n <= len(doc.pages)]
        order = list(dict.fromkeys(cited + [h.page for h in hits]))
        out = []
        for n in order[:SHOWN_PAGES]:
            boxes = [[f"p{n}" if not any(h.page == n for h in hits[:i]) else None, *h.box]
                     for i, h in enumerate(hits) if h.page == n]
            out.append({"image": self._blob(render_page(doc, n)), "label": f"page {n} of {doc.name}",
                        "boxes": boxes})
        return out


def latest_document(branch) -> tuple[dict | None, list]:
    """The last document dropped in the branch, and the talk about it: the messages after it, and
    the one that brought it when a question came with it."""
    for i in range(len(branch) - 1, -1, -1):
        ref = branch[i].meta.get("document")
        if ref:
            return ref, branch[i if branch[i].text.strip() else i + 1:]
    return None, []


def describe(ref: dict) -> str:
    """The line shown under a dropped document."""
    n = ref["pages"]
    line = f"📄 **{ref['name']}**: {n} page{'s' if n != 1 else ''} indexed"
    if ref.get("ocr"):
        line += f", {ref['ocr']} read by OCR"
    if ref.get("empty"):
        line += f"; no text found on page(s) {', '.join(map(str, ref['empty'][:10]))}"
    return line + ". Ask about it: answers cite pages as [pN]."
