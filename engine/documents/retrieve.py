"""Which passages answer a question: Okapi BM25 over the document's passages, then the best of
them re-ranked by a small embedding model (rerank.py) when its package is installed.

BM25 first because document questions usually share their rare words (names, numbers, terms)
with the passage that answers them, it needs no model, and it searches a 500-page document in
milliseconds; the embedding model then reads only the few dozen candidates, so a question put in
other words than the page's still finds its passage. BM25 is a few lines of arithmetic, so it is
written here rather than taken from a package. Pages are scored the same way (score_pages)."""
from __future__ import annotations

import math
import re
from collections import Counter
from typing import NamedTuple

from . import rerank
from .pages import Document, Page
from .passages import Passage, is_contents, passages
from .text import content_tokens

K1, B = 1.5, 0.75
CANDIDATES = 20        # BM25's best passages that the embedding model re-reads
BM25_WEIGHT = 0.3      # re-ranked score: similarity + this x BM25 relative to the best (0..1)
# Below these the best passage is taken as not saying: cosine similarity of MiniLM (unrelated
# text sits around 0-0.15, a passage on the question's topic above 0.3), or, with BM25 alone,
# the share of the question's rare-word weight (idf) that the passage holds.
MIN_SIMILARITY = 0.2
MIN_COVERAGE = 0.35


class BM25:
    def __init__(self, texts: list[str]):
        self.counts = [Counter(content_tokens(t)) for t in texts]
        self.lengths = [sum(c.values()) for c in self.counts]
        self.df = Counter(t for c in self.counts for t in c)
        self.avg = (sum(self.lengths) / len(self.lengths)) if self.lengths else 0.0

    def idf(self, t: str) -> float:
        n, df = len(self.counts), self.df[t]
        return math.log((n - df + 0.5) / (df + 0.5) + 1.0)

    def scores(self, question: str) -> list[float]:
        query = set(content_tokens(question))
        out = []
        for c, length in zip(self.counts, self.lengths):
            s = 0.0
            for t in query:
                f = c.get(t, 0)
                if f:
                    s += self.idf(t) * f * (K1 + 1) / (f + K1 * (1 - B + B * length / (self.avg or 1.0)))
            out.append(s)
        return out

    def coverage(self, question: str, i: int) -> float:
        """The share of the question's idf weight found in text i."""
        query = set(content_tokens(question))
        total = sum(self.idf(t) for t in query)
        return sum(self.idf(t) for t in query if t in self.counts[i]) / total if total else 0.0


def blend(similarities: list[float], bm25: list[float]) -> list[float]:
    """The re-ranked score of each text: its embedding similarity plus BM25_WEIGHT x its BM25
    score relative to the best of them."""
    top = max(max(bm25, default=0.0), 1e-9)
    return [s + BM25_WEIGHT * b / top for s, b in zip(similarities, bm25)]


def score_pages(doc: Document, question: str) -> list[float]:
    return doc.cached("bm25_pages", lambda: BM25([p.text for p in doc.pages])).scores(question)


def retrieve(doc: Document, question: str, k: int = 3) -> list[Page]:
    """The k pages that match the question best, best first; pages with no match are left out
    unless nothing matches at all (then the first pages, so the model still sees the document)."""
    scores = score_pages(doc, question)
    ranked = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    hits = [doc.pages[i] for i in ranked[:k] if scores[i] > 0]
    return hits or doc.pages[:k]


FOCUS_FROM = 3         # best_lines reads the first passages given to the model
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
_CLOSED = re.compile(r"[.!?:;]$")
_ITEM = re.compile(r"[-\u2022*\u2013]|\(?\w{1,3}[.)]\s")   # "- x", "• x", "1. x", "(a) x"
WRAPPED = 0.85      # a line this share of the passage's longest is full width: wrapped
WRAPPED_LOWER = 0.7  # ... or this share when the next starts in lower case (ragged-right prose)
LABEL = 60          # a line of at most this many characters ending in ":" labels the next one


def lines_of(text: str) -> list[str]:
    """A passage as sentences and rows. A printed line that does not end a clause runs on into the
    next one when it fills the passage's width (a wrapped sentence: "... the application" / "MUST
    run the update-mime-database command"), or nearly so and the next starts in lower case, and
    the next is not a list item; a short line ending in ":" takes the next line as its value
    ("XLConnect:" / "Mirai Solutions GmbH"); any other line stands alone (a table row, a list
    item, a heading: a short row "x + y addition" is not a wrapped one). Lines are then cut at
    sentence ends."""
    printed = [ln.strip() for ln in text.split("\n") if ln.strip()]
    width = max((len(ln) for ln in printed), default=0)
    rows: list[str] = []
    for prev, line in zip([""] + printed, printed):
        open_end = rows and not _CLOSED.search(rows[-1])
        full = len(prev) >= (WRAPPED_LOWER if line[:1].islower() else WRAPPED) * width
        label = rows and rows[-1] == prev and prev.endswith(":") and len(prev) <= LABEL
        if (open_end and full or label) and not _ITEM.match(line):
            rows[-1] += " " + line
        else:
            rows.append(line)
    return [s.strip() for row in rows for s in _SENTENCE_END.split(row)]


def ranked_lines(question: str, passages, vectors: dict | None = None) -> list[tuple[str, Passage]]:
    """The lines of the first passages (FOCUS_FROM) with the passage each comes from, best match
    to the question first (same scoring as the passages: embedding similarity plus a share of
    BM25); lines of fewer than 3 words, and lead-ins ending in ":" (they announce what follows
    rather than state it), are left out. `vectors` (line -> embedding, kept on the
    document) spares embedding a line again: the prompt ranks them, then the quote after the answer."""
    pairs, seen = [], set()
    for p in passages[:FOCUS_FROM]:
        for ln in lines_of(p.text):
            if len(ln.split()) >= 3 and not ln.endswith(":") and ln not in seen:
                seen.add(ln)
                pairs.append((ln, p))
    if not pairs:
        return []
    lines = [ln for ln, _ in pairs]
    scores = BM25(lines).scores(question)
    if rerank.available():
        scores = blend(rerank.similarities(question, lines, vectors), scores)
    return [pairs[i] for i in sorted(range(len(pairs)), key=lambda i: (-scores[i], i))]


def best_lines(question: str, passages, n: int, vectors: dict | None = None) -> list[str]:
    """The n lines of the first passages that match the question best, best first. A small model
    answers far more often from a line put right before the question than from the same line
    inside 600 tokens of passages (measured: bench documents)."""
    return [ln for ln, _ in ranked_lines(question, passages, vectors)[:n]] if n > 0 else []


class Hit(NamedTuple):
    passage: Passage
    score: float          # what the ranking used
    relevance: float      # comparable with the threshold: similarity, or BM25 coverage
    found: bool           # relevance at or above the threshold


def retrieve_passages(doc: Document, question: str, k: int = 5, use_reranker: bool = True) -> list[Hit]:
    """The k passages that answer the question best, best first (never empty for a document
    with text). Each says whether it clears the "the document says this" threshold."""
    items = [p for p in passages(doc) if not is_contents(p)]
    if not items:
        return []
    bm25 = doc.cached("bm25_passages", lambda: BM25([p.text for p in items]))
    scores = bm25.scores(question)
    ranked = sorted(range(len(items)), key=lambda i: (-scores[i], i))[:CANDIDATES]
    if use_reranker and rerank.available():
        sims = rerank.similarities(question, [items[i].text for i in ranked], doc.cached("vectors", dict),
                                   [items[i].key for i in ranked])
        mixed = dict(zip(ranked, blend(sims, [scores[i] for i in ranked])))
        sim = dict(zip(ranked, sims))
        ranked.sort(key=lambda i: -mixed[i])
        return [Hit(items[i], mixed[i], sim[i], sim[i] >= MIN_SIMILARITY) for i in ranked[:k]]
    hits = []
    for i in ranked[:k]:
        cov = bm25.coverage(question, i)
        hits.append(Hit(items[i], scores[i], cov, scores[i] > 0 and cov >= MIN_COVERAGE))
    return hits
