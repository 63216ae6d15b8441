"""The tower stage's own labels: a word's characters land on the patches under it, and the
character loss cannot be met by answering "no character" everywhere (what a plain mean taught)."""
from __future__ import annotations

import random

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
