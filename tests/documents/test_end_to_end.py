"""A real model end to end over a real PDF: retrieve, prompt with page images, stream, cite.
The model is a tiny random LLaVA (torch backend), so its words are noise; what is checked is that
every step runs on the real pieces and the answer's citations land as boxes."""
import threading

import pytest

from engine.api import Done, GenParams, Stats, Token, collect

pytest.importorskip("engine.llava.tiny")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    import engine
    from engine.llava.tiny import make_tiny
    model = engine.load(make_tiny(tmp_path_factory.mktemp("tiny") / "llava"), backend="torch")
    yield model
    model.close()


def test_question_over_a_pdf_with_a_seeing_model(report, tiny_model):
    from engine.documents import build_messages, cite_boxes, retrieve
    question = "How much revenue did the company make in 2023?"
    pages = retrieve(report, question, k=2)
    messages = build_messages(report, pages, question, can_see_images=tiny_model.info.vision, max_chars=800)
    assert tiny_model.info.vision and len(messages[1].images) == 2
    events = list(tiny_model.stream(messages, GenParams(max_new_tokens=6, temperature=0), threading.Event()))
    text, rest = collect(events)
    assert isinstance(rest[-1], Done) and any(isinstance(e, Stats) for e in rest)
    assert any(isinstance(e, Token) for e in events)
    # whatever it said, the cited page's quoted words are found where they are printed
    hits = cite_boxes(report, text + " Total revenue reached 42 million [p2]", pages)
    assert {h.page for h in hits} == {2} and {"42", "million"} <= {h.word for h in hits}
