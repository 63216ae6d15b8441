"""A document as the engine keeps it, as plain data: pages with their text and word boxes
(normalized 0..1 to the page, origin top-left), stored as JSON, never pickle. Page images are
made beside it, in render.py."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

INDEX_VERSION = 2   # 2: pages keep their printed label
BoxT = tuple[float, float, float, float]


def same_line(line: BoxT, box: BoxT) -> bool:
    """Whether box stands on line's line of text: its vertical centre lies within line's span (the
    one test of OCR's rows and of a page's lines)."""
    return line[1] <= (box[1] + box[3]) / 2 <= line[3]


@dataclass(frozen=True)
class Word:
    text: str
    box: BoxT


@dataclass
class Page:
    number: int                 # 1-based, as cited: [p3]
    width: float                # points for PDF pages, pixels for images
    height: float
    source: str                 # "text" (PDF text layer) | "ocr" | "empty"
    text: str
    words: list[Word] = field(default_factory=list)
    label: str = ""             # the number printed on the page (the PDF's page label), "" if none

    @property
    def cited_as(self) -> str:
        """How the app names the page: "page 20 (PDF page 23)" where the PDF labels its pages,
        else "page 23"."""
        if self.label and self.label != str(self.number):
            return f"page {self.label} (PDF page {self.number})"
        return f"page {self.number}"

    def to_json(self) -> dict:
        return {"number": self.number, "width": self.width, "height": self.height, "source": self.source,
                "text": self.text, "label": self.label,
                "words": [[w.text, *(round(v, 5) for v in w.box)] for w in self.words]}

    @classmethod
    def from_json(cls, d: dict) -> "Page":
        return cls(d["number"], d["width"], d["height"], d["source"], d["text"],
                   [Word(w[0], tuple(w[1:5])) for w in d["words"]], d.get("label", ""))


@dataclass
class Document:
    sha256: str
    name: str
    kind: str                   # "pdf" | "images"
    pages: list[Page]
    folder: Path                # <cache>/<sha256>/: source copy and page renders
    from_cache: bool = False    # True when the index was read back instead of rebuilt
    derived: dict = field(default_factory=dict, repr=False, compare=False)   # see cached()

    def cached(self, name: str, make):
        """What is derived from the pages once per opened document (its passages, the BM25
        indexes, the embedding vectors), made by `make()` on first use; never stored on disk."""
        if name not in self.derived:
            self.derived[name] = make()
        return self.derived[name]

    def page(self, number: int) -> Page:
        if not 1 <= number <= len(self.pages):
            raise IndexError(f"{self.name} has no page {number} (it has {len(self.pages)})")
        return self.pages[number - 1]

    def to_json(self) -> dict:
        return {"version": INDEX_VERSION, "sha256": self.sha256, "name": self.name, "kind": self.kind,
                "pages": [p.to_json() for p in self.pages]}
