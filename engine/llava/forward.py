"""Decoder forward passes. Attention modes and kernels are tables of plain functions.

full:      every token attends causally to all earlier tokens (LLaVA).
composite: text tokens attend causally to everything; a visual token attends only to itself, so
           its attention output is W_o W_v norm(x): no query projection, no scores, no softmax
           (EE-MLLM's aligner, reusing the layer's weights). Visual rows therefore never depend on
           text or on other visual tokens, and run as their own pass (visual_layers), whose
           per-layer keys (before RoPE) and values the text pass places at their positions.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from . import rope


def attend_sdpa(q, k, v, mask):
    """q (1,H,Tq,D); k, v (1,Hkv,L,D); mask bool (Tq,L) or None for "see everything"."""
    rep = q.shape[1] // k.shape[1]
    if rep > 1:
        k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)


def _flex_fn(device_type: str):
    import warnings
    from torch.nn.attention.flex_attention import flex_attention
    if device_type == "cuda":  # compiled: the fused kernel; eager flex is a slow reference
        return torch.compile(flex_attention, dynamic=True)
    warnings.filterwarnings("ignore", message=".*flex_attention.*")
    return flex_attention


_FLEX: dict = {}


def attend_flex(q, k, v, mask):
    """FlexAttention with a block mask built from the same boolean mask (text rows causal over all
    keys; visual rows never reach here). Blocks that are fully masked are skipped by the kernel."""
    from torch.nn.attention.flex_attention import create_block_mask
    fn = _FLEX.get(q.device.type) or _FLEX.setdefault(q.device.type, _flex_fn(q.device.type))
    block = None
    if mask is not None:
        cached = _FLEX.get("mask")
        if cached is None or cached[0] is not mask:  # built once per forward, shared by all layers
            m = mask
            block = create_block_mask(lambda b, h, qi, ki: m[qi, ki], None, None, *mask.shape,
                                      device=q.device.type)
            _FLEX["mask"] = (mask, block)
        block = _FLEX["mask"][1]
    return fn(q, k, v, block_mask=block, enable_gqa=q.shape[1] != k.shape[1])


def attend_flash(q, k, v, mask):
    """flash-attn (CUDA, fp16/bf16) where the mask is plain causal aligned to the end of the keys
    (full-mode prefill and every decode step); any other mask goes to SDPA."""
    from flash_attn import flash_attn_func
    tq, tk = q.shape[2], k.shape[2]
    if mask is not None and not bool((mask == (torch.arange(tk, device=mask.device)[None]
                                               <= torch.arange(tk - tq, tk, device=mask.device)[:, None])).all()):
        return attend_sdpa(q, k, v, mask)
    out = flash_attn_func(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), causal=mask is not None)
    return out.transpose(1, 2)


KERNELS = {"sdpa": attend_sdpa, "flex": attend_flex, "flash": attend_flash}


def available_kernels(device: str) -> list[str]:
    names = ["sdpa", "flex"]
    if device.startswith("cuda"):
        try:
            import flash_attn  # noqa: F401
            names.append("flash")
        except ImportError:
            pass
    return names


def _heads(x, n):  # (1, T, n*d) -> (1, n, T, d)
    return x.view(x.shape[0], x.shape[1], n, -1).transpose(1, 2)


def _merge(x):  # (1, n, T, d) -> (1, T, n*d)
    return x.transpose(1, 2).reshape(x.shape[0], x.shape[2], -1)


def text_layers(dec, x, pos, cache, vis=None, kernel="sdpa", compiled=False):
    """Run rows `x` (1,T,D) at positions `pos` (T,) through every layer with queries, writing their
    K/V into `cache`; `vis` = (per-layer [(k_pre, v)], visual positions) is placed in the cache
    first. Cache positions below max(pos) must already be filled. Returns hidden (1,T,D)."""
    c, attend, layer_fn = dec.config, KERNELS[kernel], LAYER_FNS[compiled]()[0]
    length = int(torch.cat([pos, vis[1]]).max() if vis else pos.max()) + 1
    if vis:
        place_visual(dec, cache, *vis, x.dtype)
    cos, sin = rope.cos_sin(dec.inv_freq, pos, x.dtype)
    keys = torch.arange(length, device=x.device)
    mask = None if x.shape[1] == 1 and int(pos[0]) == length - 1 else keys[None, :] <= pos[:, None]
    for i, layer in enumerate(dec.layers):
        x = layer_fn(layer, x, pos, cos, sin, cache.k[i], cache.v[i], length, mask, attend, c)
    return x


def place_visual(dec, cache, kv, vpos, dtype):
    """Every layer's visual K/V (`kv`: per-layer (k before RoPE, v)) into the cache at positions
    `vpos`, RoPE applied there, in one copy: they do not depend on the text."""
    vcos, vsin = rope.cos_sin(dec.inv_freq, vpos, dtype)
    cache.k.index_copy_(3, vpos, rope.apply(torch.stack([k for k, _ in kv]), vcos, vsin))
    cache.v.index_copy_(3, vpos, torch.stack([v for _, v in kv]))


def _layer(layer, x, pos, cos, sin, k_cache, v_cache, length, mask, attend, c):
    """One decoder layer for rows with queries; their K/V go to the layer's cache (1,Hkv,capacity,D)."""
    a = layer.self_attn
    h = layer.input_layernorm(x)
    q = rope.apply(_heads(a.q_proj(h), c.n_heads), cos, sin)
    k_cache.index_copy_(2, pos, rope.apply(_heads(a.k_proj(h), c.n_kv_heads), cos, sin))
    v_cache.index_copy_(2, pos, _heads(a.v_proj(h), c.n_kv_heads))
    y = attend(q, k_cache[:, :, :length], v_cache[:, :, :length], mask)
    x = x + a.o_proj(_merge(y))
    return x + layer.mlp(layer.post_attention_layernorm(x))


def decode_static(dec, x, pos, cache, kernel="sdpa"):
    """One token attending over the whole cache through a mask: every shape is fixed, so the step
    can be captured as a CUDA graph (torch.compile mode="reduce-overhead"), as gpt-fast does."""
    c = dec.config
    cos, sin = rope.cos_sin(dec.inv_freq, pos, x.dtype)
    mask = torch.arange(cache.capacity, device=x.device)[None, :] <= pos[:, None]
    for i, layer in enumerate(dec.layers):
        x = _layer(layer, x, pos, cos, sin, cache.k[i], cache.v[i], cache.capacity, mask, KERNELS[kernel], c)
    return x


def visual_layers(dec, x, visual_mlp=True, compiled=False):
    """Composite attention's visual rows (1,Tv,D): attention output = W_o W_v norm(x) per token.
    Returns ([(k before RoPE, v)] per layer, final hidden). The MLP is skipped when visual_mlp
    is false (the EE-MLLM speed setting)."""
    layer_fn, kv = LAYER_FNS[compiled]()[1], []
    for layer in dec.layers:
        k, v, x = layer_fn(layer, x, dec.config, visual_mlp)
        kv.append((k, v))
    return kv, x


def _visual_layer(layer, x, c, visual_mlp):
    a = layer.self_attn
    rep = c.n_heads // c.n_kv_heads
    h = layer.input_layernorm(x)
    k, v = _heads(a.k_proj(h), c.n_kv_heads), _heads(a.v_proj(h), c.n_kv_heads)
    x = x + a.o_proj(_merge(v.repeat_interleave(rep, dim=1) if rep > 1 else v))
    if visual_mlp:
        x = x + layer.mlp(layer.post_attention_layernorm(x))
    return k, v, x


_COMPILED: list = []


def _compiled_layer_fns():
    """Regional compilation (one decoder layer, compiled once and reused by every layer): fuses the
    norms, RoPE and residual adds, so a prefill is no longer bound by Python launching ~50 small
    kernels per layer, which on a GPU costs more than the visual rows' matmuls."""
    if not _COMPILED:
        _COMPILED.extend(torch.compile(f, dynamic=True) for f in (_layer, _visual_layer))
    return _COMPILED


LAYER_FNS = {False: lambda: (_layer, _visual_layer), True: _compiled_layer_fns}


def prefill_full(dec, x, pos, is_visual, cache, visual_mlp=True, kernel="sdpa", visual_kv=None, compiled=False):
    return text_layers(dec, x, pos, cache, kernel=kernel, compiled=compiled)


def prefill_composite(dec, x, pos, is_visual, cache, visual_mlp=True, kernel="sdpa", visual_kv=None,
                      compiled=False):
    """visual_kv: per-layer (k_pre, v) for the visual rows, computed earlier (a cache hit); then
    the visual rows' final hidden states are not recomputed and come back as zeros."""
    vi, ti = is_visual.nonzero()[:, 0], (~is_visual).nonzero()[:, 0]
    if not len(vi):
        return text_layers(dec, x, pos, cache, kernel=kernel, compiled=compiled)
    if visual_kv is None:
        visual_kv, hv = visual_layers(dec, x[:, vi], visual_mlp, compiled)
    else:
        hv = torch.zeros_like(x[:, vi])
    out = torch.empty_like(x)
    out[:, vi] = hv
    if len(ti):
        out[:, ti] = text_layers(dec, x[:, ti], pos[ti], cache, vis=(visual_kv, pos[vi]), kernel=kernel,
                                 compiled=compiled)
    else:  # a prompt ending on an image: nothing to run with queries, only K/V to place
        place_visual(dec, cache, visual_kv, pos[vi], x.dtype)
    return out


ATTENTION = {"full": prefill_full, "composite": prefill_composite}


def decode_step(dec, x, pos, cache, kernel="sdpa"):
    """One new token (1,1,D) at position pos (1,): a text row in either mode."""
    return text_layers(dec, x, pos, cache, kernel=kernel)
