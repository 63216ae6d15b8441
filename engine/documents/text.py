"""Words as retrieval and citation compare them: lower case, punctuation off, a light plural strip."""
from __future__ import annotations

import re

WORD = re.compile(r"\w+(?:[.,'’]\w+)*", re.UNICODE)

STOPWORDS = frozenset("""a an and are as at be been but by can could did do does for from had has have he her
his how i if in into is it its may me might my no not of on or our she should so than that the their them
then there these they this those to was we were what when where which who whom why will with would you your
about after again all also any because before being both each few further here just more most only other
over same some such through too under until very while""".split())


def normalize(token: str) -> str:
    t = token.lower().replace("’", "'").strip(".,'")
    if t.endswith("'s"):
        t = t[:-2]
    if len(t) > 4 and t.endswith("ies"):
        return t[:-3] + "y"
    if len(t) > 3 and t.endswith("s") and not t.endswith("ss") and not t[-2].isdigit():
        return t[:-1]
    return t


def tokens(text: str) -> list[str]:
    return [n for n in (normalize(m) for m in WORD.findall(text)) if n]


def content_tokens(text: str) -> list[str]:
    return [t for t in tokens(text) if t not in STOPWORDS]
