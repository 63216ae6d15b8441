"""`compile=True` (torch.compile of the prefill layers and of the fixed-shape decode step) gives
the same greedy answer as eager, on CPU (inductor's C++ backend), where it always runs. The same
code path is what CUDA compiles; test_cuda.py repeats this on a GPU when one is visible."""
from __future__ import annotations

import pytest

import engine
from engine import GenParams, Message

pytestmark = pytest.mark.slow

LOAD = dict(backend="torch", device="cpu", dtype="float32")


@pytest.mark.parametrize("attention", ["full", "composite"])
def test_compiled_answer_matches_eager(tiny_llava, images, attention, load_engine):
    msgs = [Message.user("Describe both.", images)]
    p = GenParams(max_new_tokens=10, temperature=0)
    eager, e_rest = engine.collect(load_engine(tiny_llava, attention=attention, **LOAD).stream(msgs, p))
    compiled = load_engine(tiny_llava, attention=attention, compile=True, **LOAD)
    got, rest = engine.collect(compiled.stream(msgs, p))
    assert rest[-1].reason == e_rest[-1].reason == "length"
    assert got == eager and eager
    # A second turn reuses the cache through the same compiled step.
    msgs2 = msgs + [Message.assistant(got), Message.user("And then?")]
    assert engine.collect(compiled.stream(msgs2, p))[0] == engine.collect(
        load_engine(tiny_llava, attention=attention, **LOAD).stream(msgs2, p))[0]
