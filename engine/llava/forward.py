"""The decoder's one forward pass. Attention modes and kernels are tables of plain functions.

full:      every token attends causally to all earlier tokens (LLaVA).
composite: text tokens attend causally to everything; a visual token attends only to itself, so
           its attention output is W_o W_v norm(x): no query projection, no scores, no softmax
           (EE-MLLM's aligner, reusing the layer's weights). Visual rows therefore never depend on
           text or on other visual tokens, and run as their own pass (visual_layers), whose
           per-layer keys (before RoPE) and values the text pass places at their positions.

`forward` serves every caller: a prefill (with or without a cache, with or without reused visual
K/V), one decode step, the logits the tests compare, and training (a batch, no cache, autograd).
"""
from __future__ import annotations

import functools
import types
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from . import rope
from .decoder import KVCache


@dataclass
class RunConfig:
    attention: str = "full"          # key of ATTENTION
    visual_mlp: bool = True
    kernel: str = "sdpa"             # key of KERNELS
    compile: bool = False            # torch.compile: each layer, and a fixed-shape decode step


# ---- kernels: (prepare the mask once per forward, attend) -----------------------------------
def attend_sdpa(q, k, v, mask):
    """q (B,H,Tq,D); k, v (B,Hkv,L,D); mask bool (Tq,L), or None for "see everything"."""
    if q.device.type == "cpu" and q.shape[2] == 1:
        return _one_query_cpu(q, k, v, mask)
    rep = q.shape[1] // k.shape[1]
    if rep > 1:
        k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)


def _one_query_cpu(q, k, v, mask):
    """A decode step on the CPU: the grouped K/V heads go to the kernel as they are (enable_gqa: 2x
    faster than repeating them at 100 keys), and in bf16/fp16 the step is computed in float32, since
    PyTorch's CPU flash kernel takes ~1 us per key for one query row in bf16, 5-10x its float32
    time (measured, torch 2.13: 1.1 ms vs 0.15 ms at 1,000 keys). Prefills (many rows, where bf16 is
    as fast, and training) keep the path below, and its numbers."""
    gqa = q.shape[1] != k.shape[1]
    if q.dtype != torch.float32:
        return F.scaled_dot_product_attention(q.float(), k.float(), v.float(), attn_mask=mask,
                                              enable_gqa=gqa).to(q.dtype)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=gqa)


@functools.cache
def _flex_fn(device_type: str):
    import warnings
    from torch.nn.attention.flex_attention import flex_attention
    if device_type == "cuda":  # compiled: the fused kernel; eager flex is a slow reference
        return torch.compile(flex_attention, dynamic=True)
    warnings.filterwarnings("ignore", message=".*flex_attention.*")
    return flex_attention


def flex_mask(mask):
    """The boolean mask as a FlexAttention block mask: built once per forward, shared by all layers;
    fully masked blocks are skipped by the kernel."""
    if mask is None:
        return None
    from torch.nn.attention.flex_attention import create_block_mask
    return create_block_mask(lambda b, h, qi, ki: mask[qi, ki], None, None, *mask.shape,
                             device=mask.device.type)


def attend_flex(q, k, v, block):
    return _flex_fn(q.device.type)(q, k, v, block_mask=block, enable_gqa=q.shape[1] != k.shape[1])


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


def _same(mask):
    return mask


KERNELS = {"sdpa": (_same, attend_sdpa), "flex": (flex_mask, attend_flex), "flash": (_same, attend_flash)}


def available_kernels(device: str) -> list[str]:
    names = ["sdpa", "flex"]
    if device.startswith("cuda"):
        try:
            import flash_attn  # noqa: F401
            names.append("flash")
        except ImportError:
            pass
    return names


# ---- layers ------------------------------------------------------------------------------------
def _heads(x, n):  # (B, T, n*d) -> (B, n, T, d)
    return x.view(x.shape[0], x.shape[1], n, -1).transpose(1, 2)


def _merge(x):  # (B, n, T, d) -> (B, T, n*d)
    return x.transpose(1, 2).reshape(x.shape[0], x.shape[2], -1)


def _layer(layer, x, pos, cos, sin, k_cache, v_cache, length, mask, attend, c):
    """One decoder layer for rows with queries; their K/V go to the layer's cache (B,Hkv,capacity,D)."""
    a = layer.self_attn
    h = layer.input_layernorm(x)
    q = rope.apply(_heads(a.q_proj(h), c.n_heads), cos, sin)
    k_cache.index_copy_(2, pos, rope.apply(_heads(a.k_proj(h), c.n_kv_heads), cos, sin))
    v_cache.index_copy_(2, pos, _heads(a.v_proj(h), c.n_kv_heads))
    y = attend(q, k_cache[:, :, :length], v_cache[:, :, :length], mask)
    x = x + a.o_proj(_merge(y))
    return x + layer.mlp(layer.post_attention_layernorm(x))


def _visual_layer(layer, x, c, visual_mlp):
    a = layer.self_attn
    rep = c.n_heads // c.n_kv_heads
    h = layer.input_layernorm(x)
    k, v = _heads(a.k_proj(h), c.n_kv_heads), _heads(a.v_proj(h), c.n_kv_heads)
    x = x + a.o_proj(_merge(v.repeat_interleave(rep, dim=1) if rep > 1 else v))
    if visual_mlp:
        x = x + layer.mlp(layer.post_attention_layernorm(x))
    return k, v, x


@functools.cache
def _compiled_layer_fns():
    """Regional compilation (one decoder layer, compiled once and reused by every layer): fuses the
    norms, RoPE and residual adds, so a prefill is no longer bound by Python launching ~50 small
    kernels per layer, which on a GPU costs more than the visual rows' matmuls. Holds no model."""
    return tuple(torch.compile(f, dynamic=True) for f in (_layer, _visual_layer))


def _layer_fns(compiled: bool):
    return _compiled_layer_fns() if compiled else (_layer, _visual_layer)


def text_layers(dec, x, pos, cache, vis=None, run: RunConfig = RunConfig(), static=False, length=None):
    """Rows `x` (B,T,D) at positions `pos` (T,) through every layer with queries, their K/V written
    into `cache`; `vis` = (per-layer [(k_pre, v)], visual positions) is placed in the cache first.
    Cache positions below max(pos) must already be filled. static: attend over the first `length`
    cache positions (default: all) through a mask, with no data-dependent shape (a compiled step)."""
    c, (prepare, attend), layer_fn = dec.config, KERNELS[run.kernel], _layer_fns(run.compile)[0]
    if vis:
        place_visual(dec, cache, *vis, x.dtype)
    if static:
        length = length or cache.capacity
    else:
        length = int(torch.cat([pos, vis[1]]).max() if vis else pos.max()) + 1
    cos, sin = rope.cos_sin(dec.inv_freq, pos, x.dtype)
    keys = torch.arange(length, device=x.device)
    mask = None if x.shape[1] == 1 and not static and int(pos[0]) == length - 1 else keys[None, :] <= pos[:, None]
    mask = prepare(mask)
    for i, layer in enumerate(dec.layers):
        x = layer_fn(layer, x, pos, cos, sin, cache.k[i], cache.v[i], length, mask, attend, c)
    return x


def place_visual(dec, cache, kv, vpos, dtype):
    """Every layer's visual K/V (`kv`: per-layer (k before RoPE, v)) into the cache at positions
    `vpos`, RoPE applied there: they do not depend on the text."""
    vcos, vsin = rope.cos_sin(dec.inv_freq, vpos, dtype)
    if cache.stacked:  # one copy for all layers
        cache.k.index_copy_(3, vpos, rope.apply(torch.stack([k for k, _ in kv]), vcos, vsin))
        cache.v.index_copy_(3, vpos, torch.stack([v for _, v in kv]))
        return
    for i, (k, v) in enumerate(kv):
        cache.k[i].index_copy_(2, vpos, rope.apply(k, vcos, vsin))
        cache.v[i].index_copy_(2, vpos, v)


def visual_layers(dec, x, visual_mlp=True, compiled=False):
    """Composite attention's visual rows (B,Tv,D): attention output = W_o W_v norm(x) per token.
    Returns ([(k before RoPE, v)] per layer, final hidden). The MLP is skipped when visual_mlp
    is false (the EE-MLLM speed setting)."""
    layer_fn, kv = _layer_fns(compiled)[1], []
    for layer in dec.layers:
        k, v, x = layer_fn(layer, x, dec.config, visual_mlp)
        kv.append((k, v))
    return kv, x


def _full(dec, x, pos, is_visual, cache, run, visual_kv):
    return text_layers(dec, x, pos, cache, run=run)


def _composite(dec, x, pos, is_visual, cache, run, visual_kv):
    """visual_kv: per-layer (k_pre, v) for the visual rows, computed earlier (a cache hit); then
    the visual rows' final hidden states are not recomputed and come back as zeros."""
    vi, ti = is_visual.nonzero()[:, 0], (~is_visual).nonzero()[:, 0]
    if not len(vi):
        return text_layers(dec, x, pos, cache, run=run)
    if visual_kv is None:
        visual_kv, hv = visual_layers(dec, x[:, vi], run.visual_mlp, run.compile)
    else:
        hv = torch.zeros_like(x[:, vi])
    if not len(ti):  # a prompt ending on an image: nothing to run with queries, only K/V to place
        place_visual(dec, cache, visual_kv, pos[vi], x.dtype)
        return hv
    ht = text_layers(dec, x[:, ti], pos[ti], cache, vis=(visual_kv, pos[vi]), run=run)
    # Put the rows back in sequence order (out of place: training differentiates through this).
    return torch.cat([hv, ht], 1)[:, torch.argsort(torch.cat([vi, ti]))]


ATTENTION = {"full": _full, "composite": _composite}


def _decode_step(d, x, pos, cache, length, run):
    return text_layers(d, x, pos, cache, run=run, static=True, length=length)


def _compiled_step(dec, kernel: str, cpu: bool = False):
    """The decode step under torch.compile (fused norms, RoPE and adds: far fewer launches per
    token). Not mode="reduce-overhead": its CUDA graphs refuse a step that writes the KV cache in
    place and then fail on reused inputs (seen on an H200, torch 2.11). Compiled once per decoder
    and kept on it, so it goes when the model goes.
    GPU: fixed shapes, attending over the whole cache (a new capacity recompiles, so caches are
    allocated in buckets). CPU: the attended length is a symbolic size (dynamic=True, one compile),
    since there decoding is bound by bytes read and a 1,024-slot cache would add up to a third of
    a small model's weight bytes to every token.
    Each decoder gets its own copy of the step's code: TorchDynamo keeps compiled graphs per code
    object and checks their guards in turn, so engines loaded side by side (the benchmarks) would
    pay for one another's guards at every token. On the CPU the guards on the decoder's modules are
    dropped as well (~0.7 ms of a 14 ms token, SmolLM2-135M int8): this copy only ever sees this
    decoder, whose weights do not change after load."""
    steps = dec.__dict__.setdefault("compiled_steps", {})
    if (kernel, cpu) not in steps:
        own = types.FunctionType(_decode_step.__code__.replace(), _decode_step.__globals__, "decode_step",
                                 (RunConfig(kernel=kernel),))
        skip = getattr(torch.compiler, "skip_guard_on_all_nn_modules_unsafe", None)
        # CPU: inductor's C++ wrapper calls the step's kernels from C++, not Python: SmolLM2-135M
        # int4 65 -> 77 tok/s on 2 cores (bench decode), for ~2.5 more minutes of compiling at load.
        opts = (({"guard_filter_fn": skip} if skip else {}) | {"cpp_wrapper": True}) if cpu else None
        steps[kernel, cpu] = torch.compile(own, dynamic=cpu or None, options=opts)
    return steps[kernel, cpu]


def new_cache(c, capacity: int, dtype, device, run: RunConfig, batch: int = 1) -> KVCache:
    """The KV cache a run prefills and decodes into. Compiled on a GPU: capacities in buckets (its
    step has fixed shapes). Compiled on the CPU: one tensor per layer, since a compiled step that
    writes into a slice of one stacked tensor copies all of it, every layer, every token (5x slower
    per token on SmolLM2-135M); its attended length is symbolic, so no buckets."""
    cpu = torch.device(device).type == "cpu"
    return KVCache(c, capacity, dtype, device, bucket=1024 if run.compile and not cpu else 1, batch=batch,
                   stacked=not (run.compile and cpu))


def forward(dec, x, pos, is_visual=None, cache: KVCache | None = None, run: RunConfig = RunConfig(),
            visual_kv=None):
    """The decoder's forward: input embeddings x (B,T,D) at positions pos (T,) -> final hidden
    states (B,T,D), before the norm. is_visual (T,) marks the visual rows (the same layout for every
    row of the batch). With a cache, positions below min(pos) must hold the earlier K/V and this
    pass's K/V are written into it; without one (scoring, training) the pass is self-contained and
    differentiable. visual_kv: the visual rows' per-layer K/V computed earlier (composite only)."""
    if cache is None:
        cache = KVCache(dec.config, int(pos.max()) + 1, x.dtype, x.device, batch=x.shape[0], stacked=False)
    if x.shape[1] == 1 and (is_visual is None or not bool(is_visual[0])):  # one decode step: a text row
        if run.compile:
            cpu = x.device.type == "cpu"
            return _compiled_step(dec, run.kernel, cpu)(dec, x, pos, cache, int(pos[-1]) + 1 if cpu else None)
        return text_layers(dec, x, pos, cache, run=run)
    if is_visual is None:
        is_visual = torch.zeros(x.shape[1], dtype=torch.bool, device=x.device)
    return ATTENTION[run.attention](dec, x, pos, is_visual, cache, run, visual_kv)
