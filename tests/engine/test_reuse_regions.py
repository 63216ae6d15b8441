"""Reusing the cached conversation across turns that hold regions (as <boxes> embeddings or as box
text) and a box-head answer (<at> + loc_encoder(box) fed into the cache) gives the same first-token
logits as a prefill from scratch, in full and composite attention."""
import pytest
import torch
from safetensors.torch import load_file, save_file

import engine
from engine import GenParams, Image, Message, Region, Text, collect

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("float32_default")]  # exact in float32

TOL = 1e-4
R1, R2 = (0.1, 0.2, 0.5, 0.9), (0.3, 0.1, 0.8, 0.4)


def fresh(eng, msgs):
    p = eng.inner.build(msgs)
    return eng.inner.logits(p.ids[None], p.pixels, p.boxes)[0, -1]


def check(eng, msgs):
    got, extra = eng.inner.first_logits(msgs)
    assert (got - fresh(eng, msgs)).abs().max().item() <= TOL
    return extra


def ask(image, region):
    return Message("user", [Image(image), Text("What is in "), Region(0, region), Text("?")])


@pytest.fixture(scope="module")
def head_ckpt(make_tiny_ckpt):
    """A box head whose loc_decoder always says one box inside the image."""
    folder = make_tiny_ckpt(grounding=True, seed=9)
    w = load_file(str(folder / "grounding.safetensors"))
    w["loc_decoder.2.weight"] = torch.zeros_like(w["loc_decoder.2.weight"])
    w["loc_decoder.2.bias"] = torch.tensor((0.25, 0.3, 0.75, 0.6))
    save_file(w, str(folder / "grounding.safetensors"))
    return folder


@pytest.mark.parametrize("mode", ["full", "composite"])
def test_box_head_regions_and_box_answer_across_turns(head_ckpt, images, mode, load_engine):
    e = load_engine(head_ckpt, backend="torch", attention=mode, kv_cache_dir=False)
    at = e.inner.model.cfg.grounding["at_token_id"]
    turn1 = [ask(images[0], R1)]
    answer = collect(e.stream(turn1, GenParams(max_new_tokens=4, temperature=0, logit_bias={at: 1e4})))[0]
    assert answer.startswith("[0][1]")  # the cache now holds <at> and box embeddings
    turn2 = turn1 + [Message.assistant(answer), Message("user", [Text("And "), Region(0, R2), Text("?")])]
    extra = check(e, turn2)
    assert extra["reused_prefix_tokens"] >= len(e.inner.build(turn1).ids) - 1  # image and region reused
    assert check(e, turn2)["prefilled_tokens"] == 1                       # regenerate
    # The same words with another box: the region's position holds other K/V, so reuse stops there.
    ids = e.inner.build(turn1).ids
    at_region = int((ids == e.inner.model.cfg.grounding["boxes_token_id"]).nonzero()[0])
    assert check(e, [ask(images[0], R2)])["reused_prefix_tokens"] == at_region


@pytest.mark.parametrize("mode", ["full", "composite"])
def test_regions_as_box_text_across_turns(tiny_llava, images, mode, load_engine):
    e = load_engine(tiny_llava, backend="torch", attention=mode, kv_cache_dir=False, box_format="qwen_vl")
    turn1 = [ask(images[0], R1)]
    assert "<box>(100,200),(500,900)</box>" in e.inner.prompter.tokenizer.decode(e.inner.build(turn1).ids)
    answer = collect(e.stream(turn1, GenParams(max_new_tokens=6, temperature=0)))[0]
    turn2 = turn1 + [Message.assistant(answer), Message("user", [Image(images[1]), Text("And "),
                                                                 Region(1, R2), Text("?")])]
    extra = check(e, turn2)
    assert extra["reused_prefix_tokens"] >= len(e.inner.build(turn1).ids) - 1
    assert check(e, turn2)["prefilled_tokens"] == 1


@pytest.mark.parametrize("mode", ["full", "composite"])
def test_a_box_head_answer_sent_back_with_its_boxes_matches_what_was_fed(head_ckpt, images, mode, load_engine):
    """The answer's boxes go back as Regions in the assistant message: the model reads <at> and
    the box embedding it generated (the cache keys of the fed boxes and of the boxes sent back
    agree), and the next turn's logits equal a fresh prefill's."""
    from engine.llava.generate import box_key
    e = load_engine(head_ckpt, backend="torch", attention=mode, kv_cache_dir=False)
    at = e.inner.model.cfg.grounding["at_token_id"]
    turn1 = [Message.user("Where?", [images[0]])]
    text, rest = collect(e.stream(turn1, GenParams(max_new_tokens=3, temperature=0, logit_bias={at: 1e4})))
    boxes = [ev for ev in rest if isinstance(ev, engine.Box)]
    assert text == "[0][1][2]" and len(boxes) == 3
    fed = [k for k in e.inner.prefiller.last.keys if isinstance(k, tuple) and k[0] == "box"]
    said = Message("assistant", [Region(b.image_index, (b.x1, b.y1, b.x2, b.y2)) for b in boxes])
    prompt = e.inner.build(turn1 + [said])
    tokens = e.inner.prompter.tokenizer.convert_ids_to_tokens(prompt.ids.tolist())
    assert "".join(tokens).count("<at><boxes>") == 3
    assert [box_key(b) for b in prompt.boxes] == fed and len(fed) == 3
    check(e, turn1 + [said, Message.user("And?")])
