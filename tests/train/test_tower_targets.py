"""The tower stage's own labels: a word's characters land on the patches under it, and the
character loss cannot be met by answering "no character" everywhere (what a plain mean taught)."""
from __future__ import annotations

import random

import pytest
import torch

from engine.train.data import make_sample
from engine.train.tower_targets import CHARS, SUBCOLS, TowerHeads, patch_targets, tower_losses


def _read_scene():
    for i in range(50):
        s = make_sample(i, "train", "read")
        words = [o for o in s.scenes[0].objects if o.kind == "word" and o.label]
        if words:
            return s.scenes[0], words
    raise AssertionError("no read scene")


def test_characters_are_those_of_the_words_under_the_patches():
    scene, words = _read_scene()
    t = patch_targets(scene, 8)
    got = {CHARS[c] for c in t["chars"].reshape(-1).tolist() if c}
    letters = {ch.lower() for o in words for ch in o.label if ch.lower() in CHARS}
    assert got and got <= letters
    assert (t["chars"].reshape(64, SUBCOLS) > 0).any(1).sum() < 64   # not the whole image


def test_saying_no_character_everywhere_is_not_cheap():
    torch.manual_seed(0)
    heads = TowerHeads(16)
    t = {"colour": torch.zeros(1, 64, dtype=torch.long), "kind": torch.zeros(1, 64, dtype=torch.long),
         "box": torch.zeros(1, 64, 4), "has_box": torch.zeros(1, 64, dtype=torch.bool),
         "chars": torch.zeros(1, 64, SUBCOLS, dtype=torch.long), "count": torch.zeros(1, dtype=torch.long)}
    t["chars"][0, :2] = torch.tensor([[1, 2, 3], [4, 5, 6]])   # 6 of 192 points under text
    feats = torch.zeros(1, 64, 16)
    with torch.no_grad():
        heads.chars.weight.zero_()
        heads.chars.bias.zero_()
        heads.chars.bias.view(SUBCOLS, len(CHARS))[:, 0] = 20.0       # "_" everywhere, confidently
        blank = float(tower_losses(feats, heads, t)["chars"])
    assert blank > 10, blank   # a plain mean over the 192 points would give ~0.6


def test_character_edges_are_where_the_font_draws_each_character():
    import numpy as np
    from PIL import Image, ImageDraw
    from engine.train.data.words import char_edges, font_for_cap, font_names
    for name in font_names():
        fnt = font_for_cap(name, 40)
        for text in ("Wilma", "mill", "BACON", "2594"):
            edges = char_edges(text, fnt)
            assert len(edges) == len(text) + 1 and edges[0] == 0 and edges[-1] == 1
            assert all(a <= b for a, b in zip(edges, edges[1:]))
            l, t, r, b = fnt.getbbox(text)

            def ink(s):   # columns with ink when s is drawn where the word's own prefix is
                m = Image.new("L", (r - l + 8, b - t + 8), 0)
                ImageDraw.Draw(m).text((4 - l, 4 - t), s, font=fnt, fill=255)
                return np.asarray(m).max(0) > 128
            for k in range(len(text)):
                own = ink(text[:k + 1]) & ~ink(text[:k])   # the ink character k adds
                cols = (np.nonzero(own)[0] - 4) / (r - l)
                if len(cols):
                    inside = (cols >= edges[k] - 0.04) & (cols <= edges[k + 1] + 0.04)
                    assert inside.mean() > 0.8, (name, text, k, edges)
    wide = char_edges("Wiii", font_for_cap(font_names()[-1], 40))
    assert wide[1] > 0.3   # a W takes more than an even quarter of "Wiii"


def test_chart_labels_are_words_with_their_characters():
    from engine.train.data import make_sample
    s = make_sample(3, "train", "chart")
    scene = s.scenes[0]
    bars = [o for o in scene.objects if o.kind == "bar"]
    labels = [o for o in scene.objects if o.kind == "word"]
    assert [o.label for o in labels] == [o.label for o in bars] and s.answer in {o.label for o in bars}
    t = patch_targets(scene, 8)
    assert (t["chars"] > 0).any()


def test_an_objects_shape_is_its_patches_vote():
    from engine.train.tower_targets import object_shape_accuracy
    # one image, four patches on shapes: object A (kind 2) on three, object B (kind 5) on one
    box_a, box_b = [0.1, 0.1, 0.4, 0.4], [0.6, 0.6, 0.7, 0.7]
    t = {"box": torch.tensor([[box_a, box_a, box_a, box_b, [0, 0, 0, 0]]]),
         "kind": torch.tensor([[2, 2, 2, 5, 0]])}
    on = t["kind"] > 0
    logits = torch.zeros(1, 5, 8)
    logits[0, 0, 2] = logits[0, 1, 2] = 1.0   # A: two patches right...
    logits[0, 2, 3] = 1.5                      # ...one more confidently wrong: the sum still says 2
    logits[0, 3, 4] = 1.0                      # B: wrong
    assert object_shape_accuracy(logits, t, on) == 50.0
    logits[0, 2, 3] = 2.5                      # now the wrong patch outvotes the two right ones
    assert object_shape_accuracy(logits, t, on) == 0.0
    logits[0, 3, 5] = 2.0
    assert object_shape_accuracy(logits, t, on) == 50.0


def test_a_stage_weighs_the_heads_it_names_and_only_those():
    from engine.train.tower_targets import LOSS_WEIGHTS, stack_targets
    torch.manual_seed(0)
    t = stack_targets([patch_targets(make_sample(7, "train", "shape").scenes[0], 8)])
    heads, feats = TowerHeads(16), torch.randn(1, 64, 16)
    with torch.no_grad():
        plain, kind3 = tower_losses(feats, heads, t), tower_losses(feats, heads, t, {"kind": 3.0})
    assert float(plain["loss"]) == pytest.approx(sum(LOSS_WEIGHTS[k] * float(plain[k]) for k in LOSS_WEIGHTS))
    assert float(kind3["loss"] - plain["loss"]) == pytest.approx(2 * float(plain["kind"]), rel=1e-5)
    assert all(float(kind3[k]) == float(plain[k]) for k in LOSS_WEIGHTS)


def test_the_objects_loss_is_the_cross_entropy_of_each_shapes_vote():
    from engine.train.tower_targets import object_votes, on_shapes, stack_targets
    torch.manual_seed(1)
    t = stack_targets([patch_targets(make_sample(i, "train", "shape").scenes[0], 8) for i in (7, 8)])
    heads, feats = TowerHeads(16), torch.randn(2, 64, 16, requires_grad=True)
    on = on_shapes(t)
    assert bool(on.any()) and not bool((on & (t["kind"] == 0)).any())
    votes, want = object_votes(heads.kind(feats), t, on)
    # one vote per distinct shape in the two scenes, each the shape its patches are labelled
    assert len(want) == sum(len({tuple(b) for b in t["box"][i][on[i]].tolist()}) for i in range(2))
    assert set(want.tolist()) == set(t["kind"][on].tolist())
    off, on3 = tower_losses(feats, heads, t), tower_losses(feats, heads, t, {"objects": 3.0})
    assert float(off["objects"]) == 0.0
    assert float(on3["objects"]) == pytest.approx(float(torch.nn.functional.cross_entropy(votes, want)), rel=1e-5)
    assert float(on3["loss"] - off["loss"]) == pytest.approx(3 * float(on3["objects"]), rel=1e-4)
    # and it moves the features of the shapes' patches only
    on3["objects"].backward()
    moved = feats.grad.abs().sum(-1) > 0
    assert bool(moved[on].all()) and not bool(moved[~on].any())
