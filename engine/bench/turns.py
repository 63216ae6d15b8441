"""`python -m engine bench turns [--json]`: time to first token of turn 1 and of turn 2 (a follow-up
question about the same image), full vs composite, with and without reuse, at 576 and 2304 visual
tokens, side by side in one run, on the random model of realistic shape used by `bench prefill`.

Rows: full with no reuse (what most local apps do: re-prefill everything every turn), full with the
prefix cache, composite with no reuse, composite with prefix cache + visual KV store, and the
same image asked about in a new chat, where a prefix cache cannot help and only composite's visual
KV store can (`speedup_new_chat`)."""
from __future__ import annotations

import argparse
import json
import math
import time

import torch

from ..llava.generate import RunConfig, Timings, decode_one
from ..llava.kvstore import VisualKVStore
from ..llava.model import LlavaModel
from ..llava.prompt import Prompt
from ..llava.reuse import Prefiller
from .common import print_table
from .prefill import SHAPES, shapes

IMAGE_TOKEN = 32000


def prompts(n_vis: int, side: int, gen: torch.Generator):
    t = lambda n: torch.randint(100, 30000, (n,), generator=gen)
    turn1 = torch.cat([t(8), torch.full((n_vis,), IMAGE_TOKEN), t(56)])
    answer = t(16)
    turn2 = torch.cat([turn1, answer, t(40)])
    other_chat = torch.cat([t(20), torch.full((n_vis,), IMAGE_TOKEN), t(40)])
    pixels = torch.randn(1, 3, side, side, generator=gen)
    mk = lambda ids: Prompt(ids, pixels, ["image-a"], image_tokens=[n_vis])
    return mk(turn1), answer, mk(turn2), mk(other_chat)


def ttft(pre: Prefiller, prompt: Prompt) -> tuple[float, Timings]:
    tm = Timings()
    t0 = time.perf_counter()
    logits, cache, keys = pre.prefill(prompt, 64, tm)
    int(logits.argmax())
    return time.perf_counter() - t0, (tm, cache, keys)


def conversation(model, mode: str, reuse: bool, p1, answer, p2, p3):
    run = RunConfig(mode, visual_mlp=False)
    store = VisualKVStore(disk_dir=None) if reuse and mode == "composite" else None
    pre = Prefiller(model, run, store, "bench")
    s1, (_, cache, keys) = ttft(pre, p1)
    for i, tok in enumerate(answer.tolist()):          # the answer goes through the cache
        decode_one(model, tok, len(keys) + i, cache, run)
    if reuse:
        pre.remember(keys + answer.tolist(), cache)
    else:
        pre.last = None
    s2, _ = ttft(pre, p2)
    s3 = None
    if reuse:                                           # a new chat about the same image: only the
        pre.last = None                                 # visual KV store can help (composite)
        s3, _ = ttft(pre, p3)
    return s1, s2, s3


def run(n_visual=(576, 2304), layers=16, hidden=1024, repeats=1):
    torch.manual_seed(0)
    cfg = shapes(**{**SHAPES["small"], "hidden": hidden, "layers": layers})
    with torch.no_grad():
        model = LlavaModel(cfg).eval()
    gen = torch.Generator().manual_seed(0)
    rows, speedup, speedup_new_chat = [], {}, {}
    configs = [("full", False, "full, no reuse"), ("full", True, "full + prefix cache"),
               ("composite", False, "composite, no reuse"), ("composite", True, "composite + prefix cache + visual KV")]
    for n_vis in n_visual:
        side = int(math.isqrt(n_vis)) * cfg.vision.patch_size
        model.vision.embeddings.position_embedding = torch.nn.Embedding(n_vis + 1, cfg.vision.hidden)
        model.cfg.vision.image_size = side
        p1, answer, p2, p3 = prompts(n_vis, side, gen)
        res = {}
        with torch.inference_mode():
            conversation(model, "composite", True, p1, answer, p2, p3)   # warm-up
            for _ in range(repeats):
                for mode, reuse, label in configs:
                    r = conversation(model, mode, reuse, p1, answer, p2, p3)
                    res[label] = [min(a, b) if a is not None else None for a, b in zip(r, res.get(label, r))]
        for label, (s1, s2, s3) in res.items():
            rows.append(dict(visual=n_vis, config=label, turn1_ms=s1 * 1e3, turn2_ms=s2 * 1e3,
                             new_chat_ms=None if s3 is None else s3 * 1e3))
        speedup[str(n_vis)] = res["full, no reuse"][1] / res["composite + prefix cache + visual KV"][1]
        speedup_new_chat[str(n_vis)] = res["full + prefix cache"][2] / res["composite + prefix cache + visual KV"][2]
    return dict(rows=rows, speedup=speedup, speedup_new_chat=speedup_new_chat, decoder=dict(hidden=hidden, layers=layers),
                note="visual_mlp=false for composite; times include the vision tower where it runs")


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m engine bench turns", description=__doc__)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--visual", type=int, nargs="+", default=[576, 2304])
    ap.add_argument("--layers", type=int, default=16)
    ap.add_argument("--hidden", type=int, default=1024)
    ap.add_argument("--repeats", type=int, default=1)
    a = ap.parse_args(argv)
    res = run(tuple(a.visual), a.layers, a.hidden, a.repeats)
    if a.json:
        print(json.dumps(res, indent=2))
        return 0
    print_table(res["rows"], [("visual", "visual tokens", "d"), ("config", "config", "s"),
                              ("turn1_ms", "turn 1 TTFT ms", ".0f"), ("turn2_ms", "turn 2 TTFT ms", ".0f"),
                              ("new_chat_ms", "same image, new chat ms", ".0f")])
    for k, v in res["speedup"].items():
        print(f"turn-2 time to first token, full re-prefill / composite cached, {k} visual tokens: {v:.1f}x")
    for k, v in res["speedup_new_chat"].items():
        print(f"same image in a new chat, full (prefix cache cannot help) / composite visual KV, {k} visual tokens: "
              f"{v:.1f}x")
    return 0
