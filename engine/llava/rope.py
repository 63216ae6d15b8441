"""Rotary position embeddings with the checkpoint's theta and scaling (a table by rope_type)."""
from __future__ import annotations

import math

import torch

from ..api import EngineError


def _base(rope: dict, dim: int) -> torch.Tensor:
    return 1.0 / (rope["rope_theta"] ** (torch.arange(0, dim, 2, dtype=torch.int64).double() / dim))


def _linear(rope: dict, dim: int) -> torch.Tensor:
    return _base(rope, dim) / rope["factor"]


def _llama3(rope: dict, dim: int) -> torch.Tensor:
    inv = _base(rope, dim)
    factor, lo, hi = rope["factor"], rope["low_freq_factor"], rope["high_freq_factor"]
    old = rope["original_max_position_embeddings"]
    wavelen = 2 * math.pi / inv
    scaled = torch.where(wavelen > old / lo, inv / factor, inv)
    smooth = (old / wavelen - lo) / (hi - lo)
    mid = (1 - smooth) * scaled / factor + smooth * scaled
    is_mid = (wavelen >= old / hi) & (wavelen <= old / lo)
    return torch.where(is_mid, mid, scaled)


INV_FREQ = {"default": _base, "linear": _linear, "llama3": _llama3}


def inv_freq(rope: dict, head_dim: int) -> torch.Tensor:
    kind = rope.get("rope_type", "default")
    if kind not in INV_FREQ:
        raise EngineError(f"RoPE scaling {kind!r} is not supported yet; supported: {', '.join(INV_FREQ)}.")
    dim = int(head_dim * rope.get("partial_rotary_factor", 1.0))
    return INV_FREQ[kind](rope, dim).float()


def cos_sin(inv: torch.Tensor, positions: torch.Tensor, dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """(T,) positions -> cos, sin of shape (T, head_dim), computed in float32 as transformers does."""
    freqs = positions.float()[:, None] * inv[None, :].to(positions.device)
    emb = torch.cat([freqs, freqs], dim=-1)
    return emb.cos().to(dtype), emb.sin().to(dtype)


def apply(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x: (..., T, D); cos/sin: (T, D). The rotate-half convention of HF checkpoints."""
    x1, x2 = x.chunk(2, dim=-1)
    return x * cos + torch.cat([-x2, x1], dim=-1) * sin
