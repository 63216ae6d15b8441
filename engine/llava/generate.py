"""prefill / decode_one / generate as free functions over a LlavaModel and a static KV cache."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Iterator

import torch

from ..grounding.geometry import NO_BOX
from .decoder import KVCache
from .forward import RunConfig, forward, new_cache
from .sampling import sample

__all__ = ["RunConfig", "Timings", "prefill", "decode_one", "decode_box", "decode_loop", "generate"]


@dataclass
class Timings:
    vision_ms: float = 0.0
    prefill_ms: float = 0.0
    decode_s: float = 0.0
    tokens: int = 0
    extra: dict = field(default_factory=dict)


@torch.inference_mode()
def prefill(model, ids: torch.Tensor, pixels, cache: KVCache, run: RunConfig, timings: Timings, boxes=None):
    """Whole prompt -> hidden states (1,T,D). Vision encoding is timed separately."""
    t0 = time.perf_counter()
    feats = model.image_features(pixels.to(ids.device)) if pixels is not None else None
    t1 = time.perf_counter()
    x, is_visual = model.embed(ids, feats, boxes)
    h = forward(model.decoder, x, torch.arange(len(ids), device=ids.device), is_visual, cache, run)
    timings.vision_ms, timings.prefill_ms = (t1 - t0) * 1e3, (time.perf_counter() - t1) * 1e3
    timings.extra["visual_tokens"] = int(is_visual.sum())
    return h


@torch.inference_mode()
def decode_hidden(model, x: torch.Tensor, pos: int, cache: KVCache, run: RunConfig) -> torch.Tensor:
    """One input embedding (D,) at position pos -> its last hidden state (D,), before the norm."""
    pos = torch.tensor([pos], device=x.device)
    return forward(model.decoder, x.reshape(1, 1, -1), pos, None, cache, run)[0, -1].clone()


@torch.inference_mode()
def decode_one(model, token: int, pos: int, cache: KVCache, run: RunConfig) -> torch.Tensor:
    x = model.decoder.embed_tokens(torch.tensor([token], device=cache.k[0].device))
    return model.head(decode_hidden(model, x, pos, cache, run))


def same_image(visual_pos: torch.Tensor, row: int) -> torch.Tensor:
    """(N,) the visual rows of the image that row `row` is in (a run of consecutive positions)."""
    image = torch.cat([visual_pos.new_zeros(1), (visual_pos[1:] - visual_pos[:-1] != 1).long().cumsum(0)])
    return image == image[row]


def last_image(visual_pos: torch.Tensor) -> torch.Tensor:
    """The positions of the last image's rows (the last run of consecutive visual positions):
    the image a box the model gives is on."""
    return visual_pos[same_image(visual_pos, -1)] if len(visual_pos) else visual_pos


def cached_values(cache: KVCache, visual_pos: torch.Tensor) -> torch.Tensor:
    """The visual rows' first-layer values as the cache holds them -> (N, kv heads * head dim)."""
    v = cache.v[0][0][:, visual_pos]          # (kv heads, N, head dim)
    return v.transpose(0, 1).flatten(1)  # (N, kv heads * head dim); N may be 0: no image


@torch.inference_mode()
def decode_box(model, at_token: int, pos: int, cache: KVCache, run: RunConfig, visual_pos=None,
               taken: torch.Tensor | None = None):
    """pix2emb: feed <at>, decode its hidden state into a box, feed loc_encoder(box).
    visual_pos: the cache positions of the visual rows, for a pointer box head (None: no pointer).
    taken: (N,) bool, updated in place: the rows of the objects this answer has boxed, which the
    pointer passes over (an answer boxes each object once: a count points at each object once,
    as Molmo counts; boxing one twice, the own model's pointer stuck on an object it had boxed,
    was 16 of its 47 wrong held-out counts).
    -> (box in padded-square coordinates, logits of the next token)."""
    x = model.decoder.embed_tokens(torch.tensor([at_token], device=cache.k[0].device))
    h_at = decode_hidden(model, x, pos, cache, run)
    values = cached_values(cache, visual_pos) if visual_pos is not None else None
    box = model.box_from_hidden(h_at, values, taken).float()
    if taken is not None and torch.isfinite(box).all():  # a NaN box (no image) takes nothing
        rows = model.rows_of(box, values)
        if rows.any():  # only that image's rows: another image may hold an object at the same place
            first = int(rows.float().argmax())
            taken |= rows & same_image(visual_pos, first)
    # A NaN/inf box is reported as it is (and dropped, with a note); the cache gets a finite one,
    # or the rest of the answer would be NaN too.
    finite = torch.nan_to_num(box, nan=0.0, posinf=1.0, neginf=0.0)
    image = [cached_values(cache, last_image(visual_pos))] if model.has_region_read and visual_pos is not None else None
    h = decode_hidden(model, model.box_embeddings([finite.tolist()], image)[0], pos + 1, cache, run)
    return tuple(box.tolist()), model.head(h)


def box_key(box) -> tuple:
    """What a cache position fed a box embedding holds, for prefix reuse: the box to a millionth,
    since a box sent back with the next turn has gone padded square -> original image -> padded
    square in floats (the embedding then differs by far less than the reuse tolerance)."""
    return ("box",) + tuple(round(float(v), 6) for v in box)


def decode_loop(model, logits, seen: torch.Tensor, cache: KVCache, run: RunConfig, max_new_tokens: int,
                sampling: dict, eos: set[int], timings: Timings, cancel: threading.Event | None = None,
                seed: int | None = None, fed: list | None = None) -> Iterator[int]:
    """Sample from `logits`, feed each token back through the cache; yields new token ids and
    stops at EOS (not yielded), max_new_tokens, or cancel. With a box head, the trigger token
    yields ("box", x1, y1, x2, y2) instead (padded-square coordinates). `fed` collects what entered
    the cache, position by position (for reuse by the next turn)."""
    at = model.cfg.grounding["at_token_id"] if model.has_box_head else None
    visual_pos = (seen == model.cfg.image_token_id).nonzero()[:, 0] if model.has_pointer else None
    taken = torch.zeros(len(visual_pos), dtype=torch.bool, device=seen.device) if visual_pos is not None else None
    gen = torch.Generator(device="cpu")
    gen.manual_seed(seed if seed is not None else torch.seed())
    pos = len(seen)
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
        seen = torch.cat([seen, torch.tensor([tok], device=seen.device)])
        if tok == at:
            cache.ensure(pos + 2 + max_new_tokens - i)
            box, logits = decode_box(model, tok, pos, cache, run, visual_pos, taken)
            yield ("box",) + box
            if box == NO_BOX:  # the pointer found nothing left: another <at> at once would find it again
                logits = logits.clone()
                logits[..., at] = float("-inf")
            pos += 2
            if fed is not None:
                fed += [tok, box_key(box)]
            continue
        yield tok
        if i + 1 == max_new_tokens:
            break
        logits = decode_one(model, tok, pos, cache, run)
        pos += 1
        if fed is not None:
            fed.append(tok)
    timings.decode_s = time.perf_counter() - t0


def generate(model, ids: torch.Tensor, pixels, run: RunConfig, max_new_tokens: int, sampling: dict,
             eos: set[int], timings: Timings, cancel: threading.Event | None = None,
             seed: int | None = None) -> Iterator[int]:
    """Plain generation from scratch, no reuse of earlier work (tests and benchmarks)."""
    dtype = model.decoder.embed_tokens.weight.dtype
    cache = new_cache(model.cfg.decoder, len(ids) + max_new_tokens, dtype, ids.device, run)
    h = prefill(model, ids, pixels, cache, run, timings)
    with torch.inference_mode():
        logits = model.head(h[0, -1])
    yield from decode_loop(model, logits, ids.clone(), cache, run, max_new_tokens, sampling, eos,
                           timings, cancel, seed)
