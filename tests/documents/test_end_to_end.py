"""A real model end to end over a real PDF: retrieve, prompt with page images, stream, cite.

The model is a tiny random LLaVA (torch backend): its words are noise, so only the plumbing is
checked, never the answer. The retrieved pages must reach the model's prompt (their [pN]
headers, their text, their images), the stream must run and report, and the citation step must
box the right printed words for an answer that quotes the page (a stand-in answer, written here,
since this model cannot write one)."""
import threading

import pytest
from doc_pdfs import PAGES, word_box

from engine.api import Done, GenParams, Stats, Token, collect

pytestmark = pytest.mark.slow

pytest.importorskip("engine.llava.tiny")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    import engine
    from engine.llava.tiny import make_tiny
    model = engine.load(make_tiny(tmp_path_factory.mktemp("tiny") / "llava"), backend="torch")
    yield model
    model.close()


def test_question_over_a_pdf_with_a_seeing_model(report, tiny_model):
    from engine.documents import build_messages, cite_boxes, retrieve_passages
    question = "How much revenue did the company make in 2023?"
    passages = [h.passage for h in retrieve_passages(report, question, k=2, use_reranker=False)]
    assert passages[0].page == 2
    pages = sorted({p.page for p in passages})
    messages = build_messages(report, passages, question, can_see_images=tiny_model.info.vision)

    # the retrieved passages reach the prompt the model reads: headers and text as tokens, their
    # pages' images as pixels
    ids, pixels = tiny_model.inner.prepare(messages)
    prompt = tiny_model.inner.prompter.tokenizer.decode(ids)
    for n in pages:
        assert f"[p{n}]" in prompt
    assert "42 million dollars" in prompt and prompt.index("[p2]") < prompt.index("42 million")
    assert pixels is not None and pixels.shape[0] == len(pages) == 2

    events = list(tiny_model.stream(messages, GenParams(max_new_tokens=6, temperature=0), threading.Event()))
    text, rest = collect(events)
    assert any(isinstance(e, Token) for e in events) and isinstance(rest[-1], Done)
    stats = next(e for e in rest if isinstance(e, Stats))
    assert stats.prompt_tokens == len(ids), "the stream prompted with exactly those tokens"

    # citation plumbing, on a stand-in answer: the cited page's words, boxed where they are printed
    hits = cite_boxes(report, "Total revenue reached 42 million [p2]", pages)
    assert {h.page for h in hits} == {2} and [h.word for h in hits] == ["Total", "revenue", "reached",
                                                                        "42", "million"]
    for h in hits:
        x1, x2, base = word_box(PAGES[2][1], h.word, 1)
        assert h.box[0] == pytest.approx(x1, abs=2 / 612) and h.box[1] < base < h.box[3]
