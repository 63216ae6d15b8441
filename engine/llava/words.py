"""The words in an image, read by OCR and put in the prompt for a model trained with them (its
config's grounding block says "ocr_words"): after each image of a user turn the prompt holds
    Words in the image: "EXIT" <boxes>, "7" <boxes>.
each word with its box as a region embedding, so the model can tell which sign or which bar a word
belongs to. A small tower trained here from scratch did not learn to spell what it sees (about a
quarter of the characters under a patch right, TRAINING.md), while the OCR the documents already
use reads the generated words: the model's part is to pick the word the question asks for, as
LLaVA-1.5 is given TextVQA's OCR tokens in its prompt.

The prompt builder calls this for the app, the evaluation and training alike (one prompt)."""
from __future__ import annotations

import threading
from collections import OrderedDict

from ..api import Region, Text

LEAD = "Words in the image:"
MOST = 12        # a page of text would crowd out the question: the first words in reading order
_CACHE = 64      # images whose words are kept (the same image is asked about turn after turn)
_cache: OrderedDict = OrderedDict()
_lock = threading.Lock()


def readable(text: str) -> bool:
    """A word worth giving: one with a letter or digit (the OCR also reads a star or a square as
    a glyph: ★, ■, +)."""
    return any(c.isascii() and c.isalnum() for c in text)


def ocr_reader(image, key: str) -> list:
    """[(word, box normalized to the image)] in reading order, cached by the image's pixel hash."""
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    from ..documents.ocr import ocr_words
    _, words = ocr_words(image)
    found = [(w.text.strip(".,:;!?\"'()"), tuple(w.box)) for w in words]
    found = [(t, b) for t, b in found if readable(t)][:MOST]
    with _lock:
        _cache[key] = found
        while len(_cache) > _CACHE:
            _cache.popitem(last=False)
    return found


def warm() -> None:
    """At model load: the OCR's models take seconds to load, not to be paid by the first answer."""
    from ..documents.ocr import load
    load()


def forget() -> None:
    """Empty the cache (a benchmark times the OCR on every engine alike)."""
    with _lock:
        _cache.clear()


def hint(words: list, image_index: int) -> list:
    """The parts that follow an image: nothing when no word was read."""
    if not words:
        return []
    parts = [Text(f"{LEAD} ")]
    for k, (text, box) in enumerate(words):
        parts += [Text(f'"{text}" '), Region(image_index, box), Text(", " if k + 1 < len(words) else ".\n")]
    return parts
