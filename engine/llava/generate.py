"""prefill / decode_one / generate as free functions over a LlavaModel and a static KV cache."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Iterator

import torch

from .decoder import KVCache
from .forward import ATTENTION, decode_step
from .sampling import sample


@dataclass
class RunConfig:
    attention: str = "full"          # key of forward.ATTENTION
    visual_mlp: bool = True
    kernel: str = "sdpa"


@dataclass
class Timings:
    vision_ms: float = 0.0
    prefill_ms: float = 0.0
    decode_s: float = 0.0
    tokens: int = 0
    extra: dict = field(default_factory=dict)


@torch.inference_mode()
def prefill(model, ids: torch.Tensor, pixels, cache: KVCache, run: RunConfig, timings: Timings):
    """Whole prompt -> hidden states (1,T,D). Vision encoding is timed separately."""
    t0 = time.perf_counter()
    feats = model.image_features(pixels.to(ids.device)) if pixels is not None else None
    t1 = time.perf_counter()
    x, is_visual = model.embed(ids, feats)
    pos = torch.arange(len(ids), device=ids.device)
    h = ATTENTION[run.attention](model.decoder, x, pos, is_visual, cache, visual_mlp=run.visual_mlp,
                                 kernel=run.kernel)
    timings.vision_ms, timings.prefill_ms = (t1 - t0) * 1e3, (time.perf_counter() - t1) * 1e3
    timings.extra["visual_tokens"] = int(is_visual.sum())
    return h


@torch.inference_mode()
def decode_one(model, token: int, pos: int, cache: KVCache, run: RunConfig) -> torch.Tensor:
    dev = cache.k.device
    x = model.decoder.embed_tokens(torch.tensor([[token]], device=dev))
    h = decode_step(model.decoder, x, torch.tensor([pos], device=dev), cache, kernel=run.kernel)
    return model.head(h[0, -1])


def generate(model, ids: torch.Tensor, pixels, run: RunConfig, max_new_tokens: int, sampling: dict,
             eos: set[int], timings: Timings, cancel: threading.Event | None = None,
             seed: int | None = None) -> Iterator[int]:
    """Yields new token ids; stops at EOS (not yielded), max_new_tokens, or cancel."""
    c = model.cfg.decoder
    dtype = model.decoder.embed_tokens.weight.dtype
    cache = KVCache(c, len(ids) + max_new_tokens, dtype, ids.device)
    gen = torch.Generator(device="cpu")
    gen.manual_seed(seed if seed is not None else torch.seed())
    h = prefill(model, ids, pixels, cache, run, timings)
    with torch.inference_mode():
        logits = model.head(h[0, -1])
    seen = ids.clone()
    t0 = time.perf_counter()
    for i in range(max_new_tokens):
        if cancel is not None and cancel.is_set():
            break
        tok = sample(logits.cpu(), seen.cpu(), generator=gen, **sampling)
        if tok in eos:
            timings.extra["eos"] = True
            break
        timings.tokens += 1
        timings.decode_s = time.perf_counter() - t0
        yield tok
        if i + 1 == max_new_tokens:
            break
        seen = torch.cat([seen, torch.tensor([tok], device=seen.device)])
        logits = decode_one(model, tok, len(ids) + i, cache, run)
    timings.decode_s = time.perf_counter() - t0
