"""Where an answer comes from: its [pN] citations, and its words found on those pages, boxed.

A run of two or more answer words that appears on the page in the same order is boxed word by
word, when it holds two words that are not stopwords or one distinctive word; a lone word is boxed only when it is distinctive there (not a stopword, a number or five
letters or more, and at most twice on the page), so "the" or "revenue" said in passing do not
light up the whole page.
"""
from __future__ import annotations

import re
from collections import defaultdict
from typing import NamedTuple, Sequence

from ..api import Box
from .pages import BoxT, Document, Page, Word
from .passages import Passage
from .text import STOPWORDS, WORD, normalize

CITATION = re.compile(r"\[\s*p\.?\s*(\d+(?:\s*[,;\-–]\s*p?\.?\s*\d+)*)\s*\]", re.IGNORECASE)


class CitedWord(NamedTuple):
    page: int
    box: BoxT
    word: str


def citations(answer: str) -> list[int]:
    """Page numbers cited as [p3], [p3, p5], [p 2; p4], in order of first mention."""
    seen = []
    for m in CITATION.finditer(answer):
        for n in re.findall(r"\d+", m.group(1)):
            if int(n) not in seen:
                seen.append(int(n))
    return seen


def _distinctive(token: str) -> bool:
    return token not in STOPWORDS and (any(c.isdigit() for c in token) or len(token) >= 5)


def _page_hits(answer_tokens: list[str], words: Sequence[Word]) -> list[int]:
    """Indices of `words` (a page's, or a passage's) that the answer repeats."""
    norms = [normalize(w.text) for w in words]
    where = defaultdict(list)
    for j, t in enumerate(norms):
        where[t].append(j)
    hit: set[int] = set()
    i = 0
    while i < len(answer_tokens):
        best, best_j = 0, -1
        for j in where.get(answer_tokens[i], ()):
            n = 0
            while i + n < len(answer_tokens) and j + n < len(norms) and answer_tokens[i + n] == norms[j + n]:
                n += 1
            if n > best:
                best, best_j = n, j
        run = answer_tokens[i:i + best]
        content = [t for t in run if t not in STOPWORDS]
        if best >= 2 and (len(content) >= 2 or any(_distinctive(t) for t in content)):
            hit.update(range(best_j, best_j + best))
            i += best
            continue
        t = answer_tokens[i]
        if best == 1 and _distinctive(t) and len(where[t]) <= 2:
            hit.update(where[t])
        i += 1
    return sorted(hit)


def cite_boxes(doc: Document, answer: str, pages: Sequence[Page | int] = ()) -> list[CitedWord]:
    """The words of `answer` found on the pages it cites (or, citing none, on `pages`, or on every
    page), with their boxes normalized to the page."""
    numbers = [n for n in citations(answer) if 1 <= n <= len(doc.pages)]
    if not numbers:
        numbers = [p if isinstance(p, int) else p.number for p in pages] or [p.number for p in doc.pages]
    answer_tokens = _answer_tokens(answer)
    out = []
    for n in numbers:
        page = doc.page(n)
        out += [CitedWord(n, page.words[j].box, page.words[j].text) for j in _page_hits(answer_tokens, page.words)]
    return out


def _answer_tokens(answer: str) -> list[str]:
    return [t for t in (normalize(w) for w in WORD.findall(CITATION.sub(" ", answer))) if t]


def cite_passages(doc: Document, answer: str, passages: Sequence[Passage]) -> list[tuple[Passage, list[CitedWord]]]:
    """The answer's words found in each passage (only there: nothing outside a passage is ever
    boxed), for the passages the answer draws on: those on a page it cites as [pN] and those
    holding its words, in the order given; the first passage when it draws on none visibly."""
    tokens = _answer_tokens(answer)
    cited = set(citations(answer))
    out = []
    for p in passages:
        words = doc.page(p.page).words[p.start:p.end]
        hits = [CitedWord(p.page, words[j].box, words[j].text) for j in _page_hits(tokens, words)]
        if hits or p.page in cited:
            out.append((p, hits))
    return out or [(p, []) for p in passages[:1]]


def cite_events(hits: Sequence[CitedWord], image_of_page: dict[int, int], start_ref: int = 0) -> list[Box]:
    """Box events for the app, one per cited word, on the page images it shows
    (image_of_page: page number -> image index in the conversation)."""
    return [Box(start_ref + k, image_of_page[h.page], *h.box)
            for k, h in enumerate(h for h in hits if h.page in image_of_page)]
