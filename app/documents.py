"""Documents in a chat: a dropped PDF (or scans) is indexed once by engine.documents, the chat
remembers it by a small reference stored with the message, and each later question is answered
from the pages that match it best (the prompt itself is built in prompt.py). The cited words come
back as boxes on the page images.

A reference is plain JSON (kept in the message's meta): the index's sha256, the name, the page
count, the source blobs (so the document reopens even if the index cache was deleted) and the
thumbnail blobs shown in the chat."""
from __future__ import annotations

from pathlib import Path

from engine.documents import cite_boxes, citations, open_document, read_document, render_page, retrieve, thumbnail

from .attachments import Limits
from .blobs import BlobStore

TOP_PAGES = 3        # pages put in front of the model per question
THUMBNAILS = 4       # page thumbnails shown in the chat under the dropped document
SHOWN_PAGES = 3      # cited pages drawn under an answer


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
    def pick_pages(self, ref: dict, question: str) -> list[int]:
        return [p.number for p in retrieve(self.get(ref), question, TOP_PAGES)]

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
