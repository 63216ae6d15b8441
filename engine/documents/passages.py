"""Pages as passages: a paragraph, a heading with what follows it, or a few rows of a table, each
with the range of the page's words it holds and the box around them.

Words come in reading order (the text layer's, or OCR's line by line). A new line starts where a
word sits lower than the last one or goes back left; a new passage where the gap above a line is
wider than a normal line gap (a paragraph break), where the text goes back up (a new column), or
where a passage has grown past MAX_WORDS. A short passage (a heading, a caption) or one ending in
a colon joins the one after it, so a heading is found with its paragraph and a table or list with
the sentence that introduces it. Passages are made from the stored words each
time a document is opened (cheap), so the index on disk keeps words only."""
from __future__ import annotations

from dataclasses import dataclass
from statistics import median

from .pages import BoxT, Document, Page, same_line

MAX_WORDS = 70       # a passage a small model reads in ~100 tokens
MIN_WORDS = 12       # shorter: a heading or caption, joined to the next passage
PARAGRAPH_GAP = 0.7  # a gap above a line wider than this many line heights starts a passage


@dataclass(frozen=True)
class Passage:
    page: int        # the page's number (1-based, as in Document.page)
    start: int       # its words: page.words[start:end]
    end: int
    text: str
    box: BoxT        # around its words, normalized to the page

    @property
    def key(self) -> tuple[int, int]:
        return self.page, self.start


def _lines(page: Page) -> list[tuple[int, int]]:
    """(start, end) word ranges of the page's lines."""
    out, start = [], 0
    words = page.words
    for i in range(1, len(words)):
        prev, cur = words[i - 1].box, words[i].box
        if not same_line(prev, cur) or cur[0] < prev[0]:
            out.append((start, i))
            start = i
    if words:
        out.append((start, len(words)))
    return out


def _union(page: Page, start: int, end: int) -> BoxT:
    boxes = [w.box for w in page.words[start:end]]
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def split_page(page: Page) -> list[Passage]:
    lines = _lines(page)
    if not lines:
        return []
    height = median(page.words[s].box[3] - page.words[s].box[1] for s, _ in lines) or 0.01
    groups: list[list[tuple[int, int]]] = [[lines[0]]]
    for (s, e) in lines[1:]:
        above = _union(page, *groups[-1][-1])
        here = _union(page, s, e)
        gap = here[1] - above[3]
        size = sum(b - a for a, b in groups[-1])
        if gap > PARAGRAPH_GAP * height or here[3] < above[1] or size + (e - s) > MAX_WORDS:
            groups.append([])
        groups[-1].append((s, e))
    # a short group (heading, caption) or a lead-in ("... the following operators:") joins the
    # next, unless that makes it too long: a table's rows are found by the words that introduce it
    merged: list[list[tuple[int, int]]] = []
    for g in groups:
        size = sum(b - a for a, b in merged[-1]) if merged else 0
        lead_in = merged and page.words[merged[-1][-1][1] - 1].text.endswith(":")
        if merged and (size < MIN_WORDS or lead_in) and size + sum(b - a for a, b in g) <= MAX_WORDS + MIN_WORDS:
            merged[-1] += g
        else:
            merged.append(list(g))
    out = []
    for g in merged:
        start, end = g[0][0], g[-1][1]
        text = "\n".join(" ".join(w.text for w in page.words[a:b]) for a, b in g)
        out.append(Passage(page.number, start, end, text, _union(page, start, end)))
    return out


def is_contents(p: Passage) -> bool:
    """A table of contents or an index: dot leaders ("Naming . . . . 3") make up much of it. It
    points at the answer's page but does not hold the answer, so retrieval leaves it out."""
    words = p.text.split()
    return sum(set(w) <= {".", "·", "…"} for w in words) >= 0.2 * len(words)


def passages(doc: Document) -> list[Passage]:
    """Every passage of the document, page by page (made once per opened document)."""
    return doc.cached("passages", lambda: [p for page in doc.pages for p in split_page(page)])
