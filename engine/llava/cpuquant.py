"""Weight-only int8 / int4 / bf16 linears for the CPU, on PyTorch's own kernels (int8 / int4: the
packed-weight ones gpt-fast uses): quantized once at load.

int8: one scale per output row (symmetric), torch.ops.aten._weight_int8pack_mm.
int4: asymmetric, one (scale, zero) pair per group of GROUP inputs, packed for
      torch.ops.aten._weight_int4pack_mm_for_cpu; the LM head stays int8 (as llama.cpp keeps its
      output matrix at higher precision), and a layer the int4 kernel cannot take stays int8.
bf16: the weights rounded to bfloat16 (the LM head too), the model around them in its own dtype:
      with float32 the residual stream, norms, attention and KV cache keep float32, and only each
      matmul's inputs are rounded. `--dtype bfloat16` also rounds the hidden states between layers,
      two thirds of its top-token flips against float32 (the own model, teacher-forced: 9 of 1,014
      answer tokens; bf16 weights alone: 3), for the same halved weight bytes a token reads.
The kernels take bfloat16 activations (ACT) whatever the model's dtype: their float32 path is a
scalar loop, 40-60x slower (measured, torch 2.13, AVX-512 and AVX2 alike), while bf16 inputs are
widened to float32 in vector registers, which needs no native bf16. Outputs return to the model's
dtype. Decoding reads every weight once per token, so bytes per weight set the speed on a CPU."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .cpu import native_bf16

ACT = torch.bfloat16    # the activations the kernels are fast with (and scales stored in)
GROUP = 32              # int4 group size: llama.cpp's Q4_0/Q4_1 block, so the bits compare
INT4_GROUPS = (32, 64, 128, 256)  # what the CPU int4 kernel accepts
# From this many rows (a prefill) an int8 layer is de-quantized to bf16 for the dense GEMM, where
# bf16 is native: the int8 kernel is built for few rows (2.8x slower than bf16 at 640 rows; the
# de-quantizing costs less from 64 rows on, measured on SmolLM2's 1536x576 layers).
DENSE_ROWS = 64


def int8_ok(in_features: int) -> bool:
    # The int8 kernel's vectorized bf16 path crashes (segfault, torch 2.13) when K is not a
    # multiple of 16: such a layer keeps its full-precision weight.
    return in_features % 16 == 0


def int4_ok(out_features: int, in_features: int, group: int = GROUP) -> bool:
    return group in INT4_GROUPS and out_features % 16 == 0 and in_features % group == 0


class Int8Linear(nn.Module):
    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None, dtype: torch.dtype):
        super().__init__()
        w = weight.detach().float()
        scale = (w.abs().amax(1) / 127).clamp(min=1e-8)
        self.out_features, self.in_features = w.shape
        self.register_buffer("weight", torch.round(w / scale[:, None]).clamp(-128, 127).to(torch.int8))
        self.register_buffer("scales", scale.to(ACT))
        self.register_buffer("bias", None if bias is None else bias.detach().to(dtype))
        self.dense_rows = DENSE_ROWS if native_bf16() else None

    def forward(self, x):
        x2 = x.reshape(-1, self.in_features).to(ACT)
        if self.dense_rows is not None and x2.shape[0] >= self.dense_rows:
            y = F.linear(x2, self.weight.to(ACT) * self.scales[:, None])
        else:
            y = torch.ops.aten._weight_int8pack_mm(x2, self.weight, self.scales)
        y = y.reshape(*x.shape[:-1], self.out_features).to(x.dtype)
        return y if self.bias is None else y + self.bias


class Bf16Linear(nn.Module):
    """Needs native bf16 (cpu.native_bf16): emulated, a bf16 matmul is slower than float32's."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None, dtype: torch.dtype):
        super().__init__()
        self.out_features, self.in_features = weight.shape
        self.register_buffer("weight", weight.detach().to(torch.bfloat16))
        self.register_buffer("bias", None if bias is None else bias.detach().to(dtype))

    def forward(self, x):
        y = F.linear(x.to(torch.bfloat16), self.weight).to(x.dtype)
        return y if self.bias is None else y + self.bias


class Int4Linear(nn.Module):
    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None, dtype: torch.dtype, group: int = GROUP):
        super().__init__()
        w = weight.detach().float()
        self.out_features, self.in_features = n, k = w.shape
        self.group = group
        g = w.reshape(n, k // group, group)
        lo, hi = g.amin(-1, keepdim=True), g.amax(-1, keepdim=True)
        scale = ((hi - lo) / 15).clamp(min=1e-8)
        q = torch.round((g - lo) / scale).clamp(0, 15).to(torch.int32).reshape(n, k)
        # The kernel computes (q - 8) * scale + zero, so zero is the value of the middle code.
        zero = lo + 8 * scale
        self.register_buffer("weight", torch.ops.aten._convert_weight_to_int4pack_for_cpu(q, 2))
        self.register_buffer("scales_and_zeros",
                             torch.cat([scale, zero], -1).transpose(0, 1).contiguous().to(ACT))
        self.register_buffer("bias", None if bias is None else bias.detach().to(dtype))

    def forward(self, x):
        y = torch.ops.aten._weight_int4pack_mm_for_cpu(x.reshape(-1, self.in_features).to(ACT), self.weight,
                                                       self.group, self.scales_and_zeros)
        y = y.reshape(*x.shape[:-1], self.out_features).to(x.dtype)
        return y if self.bias is None else y + self.bias


def quantized(layer_or_weight, mode: str, dtype: torch.dtype, bias=None) -> nn.Module | None:
    """An Int8Linear / Int4Linear / Bf16Linear for a linear (or a bare weight), or None where no
    kernel takes it."""
    w = layer_or_weight.weight if isinstance(layer_or_weight, nn.Linear) else layer_or_weight
    if isinstance(layer_or_weight, nn.Linear):
        bias = layer_or_weight.bias
    if mode == "bf16":
        return Bf16Linear(w, bias, dtype)
    if mode == "int4" and int4_ok(*w.shape):
        return Int4Linear(w, bias, dtype)
    if int8_ok(w.shape[1]):
        return Int8Linear(w, bias, dtype)
    return None


def fuse_gate_up(mlp, mode: str, dtype: torch.dtype) -> nn.Module | None:
    """The MLP's gate and up projections as one quantized linear (their rows stacked): one kernel
    call instead of two reading the same input, ~10% of a small model's matmul time per token
    (measured, SmolLM2-135M int8). Rows quantize independently, so the numbers are unchanged."""
    g, u = mlp.gate_proj, mlp.up_proj
    bias = None if g.bias is None else torch.cat([g.bias, u.bias])
    q = quantized(torch.cat([g.weight, u.weight]), mode, dtype, bias)
    if q is not None:
        del mlp.gate_proj, mlp.up_proj
        mlp.gate_up = q
    return q


KIND = {Int8Linear: "int8", Int4Linear: "int4", Bf16Linear: "bf16"}


def head_mode(mode: str) -> str:
    """The LM head's mode under `mode`: bf16 stays bf16; int4 and int8 keep an int8 head."""
    return "bf16" if mode == "bf16" else "int8"


def quantize_decoder_cpu(model, mode: str, dtype: torch.dtype) -> dict:
    """Swap the decoder's attention/MLP linears (gate and up fused), and the LM head (int8 under
    int8 and int4, bf16 under bf16: a tied head gets its own copy, the embedding table stays for
    lookups and the exact top logits). Returns counts for the notes."""
    counts = {"int4": 0, "int8": 0, "bf16": 0, "kept": 0}
    for layer in model.decoder.layers:
        fused = fuse_gate_up(layer.mlp, mode, dtype)
        if fused is not None:
            counts[KIND[type(fused)]] += 2
        for parent in (layer.self_attn, layer.mlp):
            for name, child in list(parent.named_children()):
                if isinstance(child, nn.Linear):
                    q = quantized(child, mode, dtype)
                    counts["kept" if q is None else KIND[type(q)]] += 1
                    if q is not None:
                        setattr(parent, name, q)
    head = model.lm_head.weight if hasattr(model, "lm_head") else model.decoder.embed_tokens.weight
    q = quantized(head, head_mode(mode), dtype)
    if q is not None:
        model.lm_head = q
        counts["head"] = KIND[type(q)]
    return counts
