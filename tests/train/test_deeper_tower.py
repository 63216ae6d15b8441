"""A recipe may deepen the tower (more layers than its parts have): the new layers start as the
identity, so the tower's features are what they were, and they learn from there."""
from __future__ import annotations

import torch

from engine.llava.config import VisionConfig
from engine.llava.vision import VisionTower
from engine.train.model import deepen_tower


def _tower(layers: int, seed: int) -> VisionTower:
    torch.manual_seed(seed)
    c = VisionConfig("clip", hidden=32, intermediate=64, n_layers=layers, n_heads=4, image_size=48,
                     patch_size=12, norm_eps=1e-5, act="gelu")
    return VisionTower(c, [-1])


def _deepened(parts: dict) -> tuple[VisionTower, list[int]]:
    deeper = _tower(8, seed=1)
    own = {f"vision.{k}": v for k, v in deeper.state_dict().items()}  # the names set_parts sees
    with torch.no_grad():
        for k, v in parts.items():
            own[k].copy_(v)
    return deeper, deepen_tower(own, parts)


def test_a_deepened_tower_sees_what_it_saw_and_its_new_layers_learn():
    six = _tower(6, seed=0)
    parts = {f"vision.{k}": v for k, v in six.state_dict().items()}
    deeper, new = _deepened(parts)
    assert new == [6, 7]
    pixels = torch.randn(2, 3, 48, 48)
    with torch.no_grad():
        want, got = six(pixels), deeper(pixels)
    assert got.shape == want.shape == (2, 17, 32)
    assert torch.allclose(got, want, atol=1e-6)
    deeper(pixels).square().mean().backward()  # and the new layers are not stuck at the identity
    assert deeper.encoder.layers[7].mlp.fc2.weight.grad.abs().sum() > 0
    assert deeper.encoder.layers[6].self_attn.out_proj.weight.grad.abs().sum() > 0


def test_without_the_zeroed_projections_the_new_layers_would_change_what_it_sees():
    six = _tower(6, seed=0)
    parts = {f"vision.{k}": v for k, v in six.state_dict().items()}
    deeper = _tower(8, seed=1)
    deeper.load_state_dict({k[len("vision."):]: v for k, v in parts.items()}, strict=False)
    pixels = torch.randn(2, 3, 48, 48)
    with torch.no_grad():
        assert not torch.allclose(deeper(pixels), six(pixels), atol=1e-2)
    _, new = _deepened({f"vision.{k}": v for k, v in deeper.state_dict().items()})
    assert new == []  # parts as deep as the spec: nothing is zeroed
