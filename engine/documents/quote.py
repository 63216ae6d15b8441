"""The app's own answer when the model's is not drawn from the document: a small model often
restates the question ("The option of asn1Parser sets the array name.") or names something the
passages never mention ("... is 255."). Then the app quotes the passages' line that matches the
question best, with its page, so the answer the user reads still carries the document's words.

Grounded means: some word of the answer that the question does not already hold (stop words and
the prompt's own vocabulary aside) is in the line the app found best (the first of the focus
lines the prompt puts before the question). An answer that draws on other words of the passages
is often a wrong table row or a name from the next paragraph ("The author of XLConnect is Brian
Ripley."), so the best line is quoted under it as well: the user sees what the document says
beside the guess."""
from __future__ import annotations

from typing import NamedTuple, Sequence

from .cite import CITATION
from .pages import Document
from .passages import Passage
from .retrieve import ranked_lines
from .text import content_tokens

# Words a model takes from the prompt's frame, not from the passages: they show nothing was read.
FRAME = frozenset(content_tokens("answer briefly document passage page pdf most relevant line question "
                                 "text says state mention following"))


class Quote(NamedTuple):
    line: str
    passage: Passage
    label: str           # the page as printed ("page 20 (PDF page 23)")


def grounded(answer: str, question: str, texts: Sequence[str]) -> bool:
    """Whether the answer says something of its own that `texts` hold."""
    new = set(content_tokens(CITATION.sub(" ", answer))) - set(content_tokens(question)) - FRAME
    held = {t for x in texts for t in content_tokens(x)}
    return bool(new & held)


def quote_for(doc: Document, question: str, answer: str, passages: Sequence[Passage]) -> Quote | None:
    """The best line of `passages` to quote under an answer that does not draw on it (None when
    it does, or when the passages have no line to quote)."""
    ranked = ranked_lines(question, passages, doc.cached("line_vectors", dict))
    if not ranked or grounded(answer, question, [ranked[0][0]]):
        return None
    line, passage = ranked[0]
    return Quote(line, passage, doc.page(passage.page).cited_as)


def as_shown(answer: str, quote: Quote | None) -> str:
    """The answer as the app shows it, the quoted line under the model's words: what its words
    are cited (boxed, marked) from and what the bench grades."""
    return answer + (f"\n{quote.line}" if quote else "")
