"""`python -m engine bench prefill [--json]`: vision encoding and decoder prefill, full vs composite
(visual MLP on and off), at 576 and 2304 visual tokens + 64 text tokens, on a random model of
realistic shape (decoder hidden 1024, 16 layers, GQA 16:4; CLIP ViT-L/14 tower timed on its own).
Everything is timed side by side in one run; FLOPs and the fraction of this machine's measured
matmul rate are printed next to each time."""
from __future__ import annotations

import argparse
import json
import math

import torch

from ..llava.config import DecoderConfig, ModelConfig, VisionConfig
from ..llava.decoder import KVCache
from ..llava.forward import ATTENTION
from ..llava.model import LlavaModel
from .common import best_of, interleaved, matmul_flops_per_s, print_table

TEXT_TOKENS = 64


def shapes(hidden=1024, layers=16, heads=16, kv_heads=4, vision_layers=24):
    dec = DecoderConfig(family="llama", vocab_size=32064, hidden=hidden, intermediate=int(hidden * 2.75),
                        n_layers=layers, n_heads=heads, n_kv_heads=kv_heads, head_dim=hidden // heads,
                        norm_eps=1e-5, rope={"rope_type": "default", "rope_theta": 10000.0},
                        max_positions=8192, qkv_bias=False, o_bias=False, mlp_bias=False,
                        tie_embeddings=False)
    vis = VisionConfig(family="clip", hidden=1024, intermediate=4096, n_layers=vision_layers, n_heads=16,
                       image_size=336, patch_size=14, norm_eps=1e-5, act="quick_gelu")
    return ModelConfig(decoder=dec, vision=vis, image_token_id=32000)


def decoder_flops(d: DecoderConfig, n_vis: int, n_text: int, mode: str, visual_mlp: bool) -> float:
    """Matmul FLOPs of one prefill (2 per multiply-add)."""
    hd, kv = d.head_dim, d.n_kv_heads * d.head_dim
    qo, kvp, mlp = 2 * 2 * d.hidden * d.n_heads * hd, 2 * 2 * d.hidden * kv, 2 * 3 * d.hidden * d.intermediate
    t = n_vis + n_text
    if mode == "full":
        rows = t * (qo + kvp + mlp)
        attn = 2 * 2 * d.n_heads * hd * t * (t + 1) / 2          # causal QK^T and AV
    else:
        rows = n_text * (qo + kvp + mlp) + n_vis * (qo / 2 + kvp + (mlp if visual_mlp else 0))
        first_text = n_vis                                         # text mostly sits after the image
        attn = 2 * 2 * d.n_heads * hd * sum(first_text + i + 1 for i in range(n_text))
    return d.n_layers * (rows + attn)


def vision_flops(v: VisionConfig, layers: int, tokens: int) -> float:
    per_layer = tokens * (2 * 4 * v.hidden ** 2 + 2 * 2 * v.hidden * v.intermediate) + 2 * 2 * tokens ** 2 * v.hidden
    return layers * per_layer + tokens * 2 * 3 * v.patch_size ** 2 * v.hidden


def run(n_visual_list=(576, 2304), repeats=3, layers=16, hidden=1024):
    torch.manual_seed(0)
    cfg = shapes(hidden=hidden, layers=layers)
    with torch.no_grad():
        model = LlavaModel(cfg).eval()
    peak = matmul_flops_per_s()
    rows, speedup = [], {}
    for n_vis in n_visual_list:
        side = int(math.isqrt(n_vis)) * cfg.vision.patch_size      # 336 px -> 576, 672 px -> 2304
        v = VisionConfig(**{**cfg.vision.__dict__, "image_size": side})
        model.vision.embeddings.position_embedding = torch.nn.Embedding(v.n_patches + 1, v.hidden)
        pixels = torch.randn(1, 3, side, side)
        with torch.inference_mode():
            vis_s = best_of(lambda: model.vision(pixels), repeats=max(1, repeats - 1))
        vflops = vision_flops(v, len(model.vision.encoder.layers), v.n_patches + 1)
        rows.append(dict(visual=n_vis, stage="vision tower", ms=vis_s * 1e3, gflop=vflops / 1e9,
                         frac=vflops / vis_s / peak))
        t = n_vis + TEXT_TOKENS
        x = torch.randn(1, t, cfg.decoder.hidden) * 0.02
        is_vis = torch.zeros(t, dtype=torch.bool)
        is_vis[8:8 + n_vis] = True                                  # a system prefix, image, question
        pos = torch.arange(t)
        cache = KVCache(cfg.decoder, t, torch.float32, "cpu")
        modes = {"decoder full": ("full", True), "decoder composite (visual MLP on)": ("composite", True),
                 "decoder composite (visual MLP off)": ("composite", False)}

        def prefill_fn(mode, vmlp):
            def fn():
                with torch.inference_mode():
                    ATTENTION[mode](model.decoder, x, pos, is_vis, cache, visual_mlp=vmlp)
            return fn
        times = interleaved({k: prefill_fn(*m) for k, m in modes.items()}, repeats=repeats)
        for label, (mode, vmlp) in modes.items():
            s, f = times[label], decoder_flops(cfg.decoder, n_vis, TEXT_TOKENS, mode, vmlp)
            rows.append(dict(visual=n_vis, stage=label, ms=s * 1e3, gflop=f / 1e9, frac=f / s / peak,
                             ttft_ms=(vis_s + s) * 1e3))
        speedup[str(n_vis)] = times["decoder full"] / times["decoder composite (visual MLP off)"]
    return dict(rows=rows, speedup=speedup, matmul_gflops=peak / 1e9, text_tokens=TEXT_TOKENS,
                decoder=dict(hidden=hidden, layers=layers, heads=16, kv_heads=4),
                threads=torch.get_num_threads())


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m engine bench prefill", description=__doc__)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--visual", type=int, nargs="+", default=[576, 2304])
    ap.add_argument("--layers", type=int, default=16)
    ap.add_argument("--hidden", type=int, default=1024)
    a = ap.parse_args(argv)
    res = run(tuple(a.visual), a.repeats, a.layers, a.hidden)
    if a.json:
        print(json.dumps(res, indent=2))
        return 0
    print(f"matmul rate measured here: {res['matmul_gflops']:.0f} GFLOP/s fp32, {res['threads']} threads; "
          f"{TEXT_TOKENS} text tokens")
    print_table(res["rows"], [("visual", "visual tokens", "d"), ("stage", "stage", "s"), ("ms", "ms", ".0f"),
                              ("gflop", "GFLOP", ".1f"), ("frac", "of matmul rate", ".0%"),
                              ("ttft_ms", "time to first token ms", ".0f")])
    for k, v in res["speedup"].items():
        print(f"decoder prefill speedup, full / composite (visual MLP off), {k} visual tokens: {v:.2f}x")
    return 0
