"""Llama / Mistral / Qwen2 decoder modules (HF parameter names) and a static KV cache.
The forward passes are free functions in forward.py, so attention modes stay a table."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from . import rope
from .config import DecoderConfig


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps, self.weight = eps, nn.Parameter(torch.ones(dim))

    def forward(self, x):  # in float32, as transformers does; one fused kernel where torch has it
        return self.weight * F.rms_norm(x.float(), (x.shape[-1],), eps=self.eps).to(x.dtype)


class SelfAttention(nn.Module):
    def __init__(self, c: DecoderConfig):
        super().__init__()
        self.q_proj = nn.Linear(c.hidden, c.n_heads * c.head_dim, bias=c.qkv_bias)
        self.k_proj = nn.Linear(c.hidden, c.n_kv_heads * c.head_dim, bias=c.qkv_bias)
        self.v_proj = nn.Linear(c.hidden, c.n_kv_heads * c.head_dim, bias=c.qkv_bias)
        self.o_proj = nn.Linear(c.n_heads * c.head_dim, c.hidden, bias=c.o_bias)


class MLP(nn.Module):
    def __init__(self, c: DecoderConfig):
        super().__init__()
        self.gate_proj = nn.Linear(c.hidden, c.intermediate, bias=c.mlp_bias)
        self.up_proj = nn.Linear(c.hidden, c.intermediate, bias=c.mlp_bias)
        self.down_proj = nn.Linear(c.intermediate, c.hidden, bias=c.mlp_bias)

    def forward(self, x):
        fused = self._modules.get("gate_up")  # CPU int8/int4 (cpuquant.py): gate and up in one matmul
        if fused is not None:
            gate, up = fused(x).chunk(2, -1)
            return self.down_proj(F.silu(gate) * up)
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Layer(nn.Module):
    def __init__(self, c: DecoderConfig):
        super().__init__()
        self.input_layernorm = RMSNorm(c.hidden, c.norm_eps)
        self.self_attn = SelfAttention(c)
        self.post_attention_layernorm = RMSNorm(c.hidden, c.norm_eps)
        self.mlp = MLP(c)


class Decoder(nn.Module):
    def __init__(self, c: DecoderConfig):
        super().__init__()
        self.config = c
        self.embed_tokens = nn.Embedding(c.vocab_size, c.hidden)
        self.layers = nn.ModuleList(Layer(c) for _ in range(c.n_layers))
        self.norm = RMSNorm(c.hidden, c.norm_eps)
        self.register_buffer("inv_freq", rope.inv_freq(c.rope, c.head_dim), persistent=False)


class KVCache:
    """Per-layer keys (after RoPE) and values for positions [0, capacity) of a batch of sequences.
    stacked: one tensor for all layers (inference: visual K/V of every layer placed in one copy);
    else one tensor per layer, so autograd can follow each layer's in-place writes (training)."""

    def __init__(self, c: DecoderConfig, capacity: int, dtype, device, bucket: int = 1, batch: int = 1,
                 stacked: bool = True):
        self.bucket, self.stacked = bucket, stacked  # capacities rounded up to bucket (compiled decode)
        capacity = -(-capacity // bucket) * bucket
        shape = (batch, c.n_kv_heads, capacity, c.head_dim)
        if stacked:
            self.k = torch.zeros((c.n_layers, *shape), dtype=dtype, device=device)
            self.v = torch.zeros((c.n_layers, *shape), dtype=dtype, device=device)
        else:
            self.k = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(c.n_layers)]
            self.v = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(c.n_layers)]

    @property
    def capacity(self) -> int:
        return self.k[0].shape[2]

    def ensure(self, capacity: int) -> None:
        """Grow (keeping what is stored) when a longer sequence is coming."""
        if capacity > self.capacity:
            capacity = -(-capacity // self.bucket) * self.bucket
            pad = (0, 0, 0, capacity - self.capacity)
            if self.stacked:
                self.k, self.v = F.pad(self.k, pad), F.pad(self.v, pad)
            else:
                self.k, self.v = [F.pad(t, pad) for t in self.k], [F.pad(t, pad) for t in self.v]
