"""A recipe may change the tower's image size (same patch size, more patches): the trained
position embeddings are resampled onto the new grid, each patch starting where it is."""
from __future__ import annotations

import torch

from engine.train.model import resample_positions


def _centres(s: int) -> torch.Tensor:
    """(1 + s*s, 2): a CLS row, then each patch's centre (x, y) in 0..1, row-major as the tower's tokens."""
    c = (torch.arange(s) + 0.5) / s
    y, x = torch.meshgrid(c, c, indexing="ij")
    return torch.cat([torch.tensor([[7.0, -7.0]]), torch.stack([x.flatten(), y.flatten()], 1)])


def test_an_8x8_grid_resampled_to_12x12_keeps_cls_and_puts_each_patch_where_it_is():
    got = resample_positions(_centres(8), 12)
    assert got.shape == (1 + 144, 2)
    assert torch.equal(got[0], torch.tensor([7.0, -7.0]))
    want = _centres(12)[1:].reshape(12, 12, 2)
    inner = slice(2, 10)  # away from the clamped border, torch's bicubic (a = -0.75) is near a ramp's value
    assert torch.allclose(got[1:].reshape(12, 12, 2)[inner, inner], want[inner, inner], atol=0.01)
    assert (got[1:] - _centres(12)[1:]).abs().max() < 0.03  # and near it at the border
    wrong = resample_positions(_centres(8).flip(0), 12)  # a grid read the other way round fails
    assert not torch.allclose(wrong[1:].reshape(12, 12, 2)[inner, inner], want[inner, inner], atol=1e-2)


def test_the_same_grid_comes_back_unchanged():
    pe = torch.randn(1 + 64, 16)
    assert torch.allclose(resample_positions(pe, 8), pe, atol=1e-6)
