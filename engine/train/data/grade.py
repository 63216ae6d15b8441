"""Is a generated answer right? Closed-set answers must name the canonical answer (any accepted
spelling) and no competing option; boxes are graded by IoU."""
from __future__ import annotations

import functools
import re

from .palette import COLOUR_FORMS, COLOURS, SHAPE_FORMS, SHAPES
from .records import iou
from .wording import NUMBER_WORDS

# Accepted spellings of the closed-set words (the targets use the first).
FORMS = {**COLOUR_FORMS, **SHAPE_FORMS,
         "big": ("big", "large", "bigger", "larger", "huge"), "large": ("large", "big", "bigger", "larger", "huge"),
         "small": ("small", "little", "tiny", "smaller"),
         "above": ("above", "over", "higher"), "below": ("below", "under", "beneath", "underneath", "lower"),
         "first": ("first", "1st"), "second": ("second", "2nd")}
_NUM = {w: i for i, w in enumerate(NUMBER_WORDS)}
_ZERO_WORDS = ("none", "zero", "no", "nothing")
_NEGATIVE = re.compile(r"\b(no|none|nothing|zero|0|not|empty|blank|cannot)\b|n't", re.I)


@functools.lru_cache(maxsize=4096)
def _word_re(word: str):
    forms = FORMS.get(word.lower(), (word,))
    flags = 0 if len(word) == 1 and word.isupper() else re.I  # a label "A" is not the article "a"
    return re.compile(r"(?<![\w])(" + "|".join(re.escape(f) for f in forms) + r")(?![\w])", flags)


def has_word(text: str, word: str) -> bool:
    return bool(_word_re(word).search(text))


def has_phrase(text: str, phrase: str) -> bool:
    """Every word of the phrase is in the text (any accepted spelling)."""
    return all(has_word(text, w) for w in phrase.split())


def has_exact(text: str, phrase: str) -> bool:
    """The phrase itself, whole words, any case and spacing (for text read from the image)."""
    pat = r"\s+".join(re.escape(p) for p in phrase.split())
    return bool(re.search(r"(?<![\w])" + pat + r"(?![\w])", text, re.I))


def closed(text: str, answer: str, options, exact=False) -> bool:
    has = has_exact if exact else has_phrase
    if not has(text, answer):
        return False
    mine = set(answer.lower().split())
    return not any(has(text, o) for o in options
                   if o.lower() != answer.lower() and not set(o.lower().split()) <= mine)


def numbers(text: str) -> set:
    found = set()
    for t in re.findall(r"\b(\d+|[a-z]+)\b", text.lower()):
        if t.isdigit():
            found.add(int(t))
        elif t in _NUM:
            found.add(_NUM[t])
    return found


def grade_count(text: str, answer: str) -> bool:
    k, found = int(answer), numbers(text)
    if k == 0:
        return (0 in found or any(has_word(text, w) for w in _ZERO_WORDS)) and found <= {0}
    return found == {k}


def grade_describe(text: str, objects) -> bool:
    """Lenient: each object's colour is followed, within two words, by its shape."""
    for o in objects:
        c = "|".join(COLOUR_FORMS[o.colour])
        s = "|".join(SHAPE_FORMS.get(o.label, (o.label,)))
        if not re.search(rf"\b({c})\b(\W+\w+){{0,2}}?\W+({s})\b", text, re.I):
            return False
    return True


def grade_blank(text: str, question: str) -> bool:
    """An empty image: right when the answer says there is nothing (no / none / nothing / 0 / not
    / empty ...) and invents no colour, shape or non-zero number that the question did not
    name. A model guessing "red" or "3" gets it wrong, so chance level is measurable."""
    if not _NEGATIVE.search(text):
        return False
    invented = [w for w in (*COLOURS, *SHAPES) if has_word(text, w) and not has_word(question, w)]
    return not invented and numbers(text) - numbers(question) <= {0}


def grade(sample, text: str, boxes: list) -> bool:
    """Is the model's answer right? text: its answer, box references as "[0]", "[1]"...;
    boxes: the boxes it gave, normalized to the original image, in order.
      closed sets (colour, shape, relation, size, exists, chart, two_images): sample.answer is
        there (any accepted spelling: grey/gray, big/large, above/over/higher ...) and no other
        of sample.options is ("red or blue" is wrong); phrase options need all their words;
      count: the only number said (digits or words) is the answer; 0 also as none/no/zero;
      refer, chart_find: the first box has IoU >= 0.5 with sample.box;   region: colour and shape right;
      read: the exact printed text (any case), no other text of the image;
      describe: every object's colour followed by its shape (lenient: order, extra words free);
      blank: says there is nothing and invents no colour, shape or number (grade_blank);
      text: contains sample.answer when it is non-empty (else any non-empty reply)."""
    kind = sample.ask or sample.skill
    text = re.sub(r"\[\d+\]", " ", text)  # box references are not numbers or words
    if kind in ("refer", "chart_find"):  # a label's bar: its box
        return bool(boxes) and iou(tuple(boxes[0]), sample.box) >= 0.5
    if kind == "count":
        return grade_count(text, sample.answer)
    if kind == "region":
        colour = next(w for w in sample.answer.split() if w in COLOURS)
        shape = next(w for w in sample.answer.split() if w in SHAPES)
        return closed(text, colour, COLOURS) and closed(text, shape, SHAPES)
    if kind == "describe":
        return grade_describe(text, sample.scenes[0].objects)
    if kind == "blank":
        q = next(m for m in reversed(sample.messages) if m.role == "user").text
        return grade_blank(text, q)
    if kind == "text":
        return sample.answer.lower() in text.lower() if sample.answer else bool(text.strip())
    if kind == "read":
        return closed(text, sample.answer, sample.options, exact=True)
    return closed(text, sample.answer, sample.options)
