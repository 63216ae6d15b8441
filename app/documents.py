"""Documents in a chat: a dropped PDF (or scans) is indexed once by engine.documents, the chat
remembers it by a small reference stored with the message, and each later question is answered
from the passages that match it best (the prompt itself is built in prompt.py). The answer's
evidence comes back as citation cards (the page as printed, the passage with the words it shares
with the question and answer marked) and as the page images with those passages boxed.

A reference is plain JSON (kept in the message's meta): the index's sha256, the name, the page
count, the source blobs (so the document reopens even if the index cache was deleted) and the
thumbnail blobs shown in the chat."""
from __future__ import annotations

from pathlib import Path

from engine.documents import (cite_passages, open_document, passages, quote_for, read_document, render_page,
                              retrieve_passages, thumbnail)
from engine.documents.text import STOPWORDS, normalize

from .attachments import Limits
from .blobs import BlobStore

THUMBNAILS = 4       # page thumbnails shown in the chat under the dropped document
SHOWN_PAGES = 3      # pages with cited passages drawn under an answer


class Documents:
    def __init__(self, cache_dir: Path, blobs: BlobStore, limits: Limits):
        self.cache_dir, self.blobs, self.limits = Path(cache_dir), blobs, limits
        self._open = {}  # sha256 -> engine.documents.Document

    def read(self, paths: list[Path]):
        """Read the document, yielding (pages read, pages) as it goes (EngineError with the user's
        message if it cannot be read); returns its reference."""
        doc = yield from read_document(paths, self.cache_dir, max_pages=self.limits.max_pages,
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
    def pick_passages(self, ref: dict, question: str) -> tuple[list[list[int]], bool]:
        """The passages that answer the question best, as [page, start word] keys (stored with the
        answer), and whether the best of them clears the "the document says this" threshold."""
        hits = retrieve_passages(self.get(ref), question)
        return [list(h.passage.key) for h in hits], bool(hits) and hits[0].found

    def passages_of(self, ref: dict, keys: list[list[int]]):
        by_key = {p.key: p for p in passages(self.get(ref))}
        return [by_key[tuple(k)] for k in keys if tuple(k) in by_key]

    def quote(self, ref: dict, keys: list[list[int]], question: str, answer: str):
        """The passages' line that answers best, when the answer does not draw on it (quote.py)."""
        return quote_for(self.get(ref), question, answer, self.passages_of(ref, keys))

    def evidence(self, ref: dict, keys: list[list[int]], question: str, answer: str, found: bool) -> dict:
        """What the app shows under the answer: citation cards for the passages it draws on (all
        the closest ones when the document does not seem to say), and the pages with those
        passages boxed (nothing else is)."""
        doc = self.get(ref)
        given = self.passages_of(ref, keys)
        shown = [p for p, _ in cite_passages(doc, answer, given)] if found else given
        wanted = {t for t in (normalize(w) for w in (question + " " + answer).split()) if t and t not in STOPWORDS}
        cards, images = [], {}
        for k, p in enumerate(shown):
            words = doc.page(p.page).words[p.start:p.end]
            if p.page not in images:
                images[p.page] = self._blob(render_page(doc, p.page))
            cards.append({"n": k + 1, "page": p.page, "label": doc.page(p.page).cited_as,
                          "words": [w.text for w in words],
                          "marks": [i for i, w in enumerate(words) if normalize(w.text) in wanted],
                          "box": list(p.box), "image": images[p.page]})
        figures = []
        for n in list(images)[:SHOWN_PAGES]:
            figures.append({"image": images[n], "label": f"{doc.page(n).cited_as} of {doc.name}", "page": n, "margin": True,
                            "boxes": [[str(c["n"]), *c["box"]] for c in cards if c["page"] == n]})
        return {"cards": cards, "figures": figures}
