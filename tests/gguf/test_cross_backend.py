"""The same tiny LLaVA weights in the torch engine and, exported, in llama.cpp."""
import pytest
import torch

from engine import GenParams, Message, Text, Token, load

pytestmark = pytest.mark.slow

PROMPT = [Message.user("Describe a sunny day at the beach in detail, please.")]


@pytest.fixture(scope="module")
def torch_engine(tiny_llava):
    e = load(tiny_llava, backend="torch")
    yield e
    e.close()


def _first_token(engine, messages) -> str:
    return next(ev.text for ev in engine.stream(messages, GenParams(max_new_tokens=1, temperature=0))
                if isinstance(ev, Token))


TRICKY = [Message("system", [Text("Be brief.")]),
          Message.user("Numbers 12345 and 3.14, émigré café — 東京\n\n  indented\tTAB don't"),
          Message.assistant("ok  two spaces"), Message.user("<s> and </s> typed as text? ")]


@pytest.mark.parametrize("messages", [PROMPT, TRICKY], ids=["plain", "tricky"])
def test_same_token_ids_for_a_text_prompt(torch_engine, exported, messages, load_engine):
    g = load_engine(exported("f16")[0], backend="gguf", threads=1)
    try:
        ids, _ = torch_engine.inner.prepare(messages)
        assert g.inner.prompt_tokens(messages) == ids.tolist()
    finally:
        g.close()


@pytest.mark.parametrize("quant", ["f16", "q8_0"])
def test_greedy_first_token_agrees_with_torch(torch_engine, exported, quant, load_engine):
    ids, _ = torch_engine.inner.prepare(PROMPT)
    expected = torch_engine.inner.prompter.tokenizer.decode([int(torch.argmax(torch_engine.inner.logits(ids[None])[0, -1]))])
    g = load_engine(exported(quant)[0], backend="gguf", threads=1)
    try:
        assert _first_token(g, PROMPT).strip() == expected.strip()
    finally:
        g.close()


def test_greedy_first_token_with_an_image_agrees_with_torch(torch_engine, exported, square_image, load_engine):
    msgs = [Message.user("What is this?", [square_image])]
    ids, pixels = torch_engine.inner.prepare(msgs)
    expected = torch_engine.inner.prompter.tokenizer.decode([int(torch.argmax(torch_engine.inner.logits(ids[None], pixels)[0, -1]))])
    g = load_engine(exported("f16")[0], backend="gguf", threads=1)
    try:
        assert _first_token(g, msgs).strip() == expected.strip()
    finally:
        g.close()
