"""Prefill that reuses earlier work:
- a prefix cache (both modes): the KV of the longest prefix this prompt shares with the last
  conversation the engine ran (turn 2 of a chat, regenerate) is not recomputed;
- a visual KV store (composite only): an image's per-layer K (before RoPE) and V are computed
  once and placed at any position of any later prompt; the vision tower is skipped too."""
from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from .decoder import KVCache
from .forward import RunConfig, forward, new_cache, visual_layers
from .generate import Timings, box_key, cached_values
from .kvstore import VisualKVStore
from .prompt import Prompt


@dataclass
class CachedConversation:
    keys: list          # what each cache position holds: a token id, or (image hash, slot)
    cache: KVCache


def position_keys(prompt: Prompt, image_token_id, boxes_token_id=None) -> list:
    """Each image's rows are (its hash, row within it): images have prompt.image_tokens rows each."""
    keys, img, slot, box = [], 0, 0, 0
    for t in prompt.ids.tolist():
        if t == image_token_id:
            keys.append((prompt.image_hashes[img], slot))
            slot += 1
            if slot == prompt.image_tokens[img]:
                img, slot = img + 1, 0
        elif t == boxes_token_id:  # a region's embedding depends on its box, not only the token
            keys.append(box_key(prompt.boxes[box]))
            box += 1
        else:
            keys.append(t)
    return keys


def shared_prefix(a: list, b: list) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


class Prefiller:
    def __init__(self, model, run: RunConfig, store: VisualKVStore | None, namespace: str):
        self.model, self.run, self.store = model, run, store
        self.namespace = namespace           # model weights + preprocessing + visual_mlp + dtype
        self.last: CachedConversation | None = None

    @torch.inference_mode()
    def prefill(self, prompt: Prompt, extra: int, timings: Timings):
        """-> (logits of the last prompt position, cache, keys of the cached positions)."""
        m, cfg = self.model, self.model.cfg
        boxes_id = cfg.grounding["boxes_token_id"] if m.has_box_head else None
        keys = position_keys(prompt, cfg.image_token_id, boxes_id)
        ids, dev = prompt.ids, prompt.ids.device
        p = min(shared_prefix(self.last.keys, keys), len(keys) - 1) if self.last else 0
        if p and isinstance(keys[p], tuple) and keys[p][0] != "box":  # never start inside an image
            p -= keys[p][1]
        if p:
            cache = self.last.cache
            cache.ensure(len(keys) + extra)
        else:
            dtype = m.decoder.embed_tokens.weight.dtype
            cache = new_cache(cfg.decoder, len(keys) + extra, dtype, dev, self.run)
        self.last = None  # the cache is being overwritten from p on
        starts = [i for i, k in enumerate(keys) if isinstance(k, tuple) and k[0] != "box" and k[1] == 0]
        later_boxes = prompt.boxes[sum(1 for k in keys[:p] if isinstance(k, tuple) and k[0] == "box"):]
        todo = [(start, img) for img, start in enumerate(starts) if start >= p]  # images to place
        pos = torch.arange(len(keys), device=dev)
        t0 = time.perf_counter()
        vision_s = 0.0
        stats = dict(reused_prefix_tokens=p, prefilled_tokens=len(keys) - p, images_encoded=0,
                     visual_cache_hits=0, visual_cache_misses=0)
        # Composite: each image's visual K/V comes from the store or is computed once per image
        # (unless the prompt ends on an image: its last row then needs its own hidden state).
        reuse_visual = self.run.attention == "composite" and isinstance(keys[-1], int)
        visual_kv, feats = None, None
        if reuse_visual and todo:
            kvs = []
            for _, img in todo:
                kv, vs = self._visual_kv(prompt, img, stats)
                vision_s += vs
                kvs.append(kv)
            visual_kv = [(torch.cat([kv[i][0] for kv in kvs], 2), torch.cat([kv[i][1] for kv in kvs], 2))
                         for i in range(cfg.decoder.n_layers)]
            # Placeholders for the visual rows' embeddings: their hidden states are not recomputed.
            feats = torch.zeros(sum(prompt.image_tokens[img] for _, img in todo), cfg.decoder.hidden, device=dev)
        elif todo:
            tv = time.perf_counter()
            feats = m.image_features(prompt.pixels[[img for _, img in todo]].to(dev))
            vision_s = time.perf_counter() - tv
            stats["images_encoded"] = len(todo)
        values = (self._image_values(prompt, starts, p, cache, todo, visual_kv, feats)
                  if m.has_region_read and later_boxes else None)
        x, is_visual = m.embed(ids[p:], feats, later_boxes, values)
        h = forward(m.decoder, x, pos[p:], is_visual, cache, self.run, visual_kv)
        logits = m.head(h[0, -1])
        timings.vision_ms = vision_s * 1e3
        timings.prefill_ms = (time.perf_counter() - t0 - vision_s) * 1e3
        timings.extra.update(stats, visual_tokens=sum(prompt.image_tokens))
        return logits, cache, keys

    def _image_values(self, prompt: Prompt, starts: list, p: int, cache: KVCache, todo: list, visual_kv, feats):
        """Region reading: every image's first-layer values (N, V), from where they are: the cached
        prefix, the visual KV store's layers, or this prefill's features."""
        # this prefill's images, one row each: their layer-0 V, from the store's layers or the features
        if visual_kv is not None:
            rows = visual_kv[0][1][0].transpose(0, 1).flatten(1)
        elif feats is not None:
            f = torch.cat(list(feats)) if isinstance(feats, (list, tuple)) else feats.reshape(-1, feats.shape[-1])
            rows = self.model.visual_values(f.to(self.model.decoder.embed_tokens.weight.dtype))
        out, done = [], 0
        for img, start in enumerate(starts):
            n = prompt.image_tokens[img]
            if start < p:
                out.append(cached_values(cache, torch.arange(start, start + n, device=prompt.ids.device)))
            else:
                out.append(rows[done:done + n])
                done += n
        return out

    def _visual_kv(self, prompt: Prompt, img: int, stats: dict):
        """One image's per-layer (K before RoPE, V): from the store, or computed and stored."""
        m = self.model
        key = VisualKVStore.key(self.namespace, prompt.image_hashes[img])
        dtype = m.decoder.embed_tokens.weight.dtype
        kv = self.store.get(key, dtype, prompt.ids.device) if self.store else None
        if kv is not None:
            stats["visual_cache_hits"] += 1
            return kv, 0.0
        stats["visual_cache_misses"] += 1
        stats["images_encoded"] += 1
        t0 = time.perf_counter()
        feats = m.image_features(prompt.pixels[img:img + 1].to(prompt.ids.device))
        feats = torch.cat(list(feats))[None]  # (1, tokens, D), a tiled image's list or not
        vision_s = time.perf_counter() - t0
        kv, _ = visual_layers(m.decoder, feats, self.run.visual_mlp, self.run.compile)
        if self.store:
            self.store.put(key, kv)
        return kv, vision_s

    def remember(self, keys: list, cache: KVCache) -> None:
        """After a generation: `keys` describe every cache position that now holds valid K/V."""
        self.last = CachedConversation(keys, cache)
