"""`python -m engine bench prefill [--json] [--device cuda]`: vision encoding and decoder prefill,
full vs composite (visual MLP on and off), at 576 and 2304 visual tokens + 64 text tokens, on a
random model of realistic shape, timed side by side in one run (round-robin). Next to each time:
the FLOPs it implies and the fraction of this device's measured matmul rate it reached.

CPU default: decoder hidden 1024, 16 layers, GQA 16:4; CLIP ViT-L/14 tower timed on its own.
`--device cuda --shape 7b`: hidden 4096, 32 layers, 32 heads (LLaVA-1.5-7B's decoder), bf16,
every available kernel, and --quant none 8bit 4bit."""
from __future__ import annotations

import argparse
import json
import math

import torch

from ..llava.config import DecoderConfig, ModelConfig, VisionConfig
from ..llava.decoder import KVCache
from ..llava.forward import RunConfig, available_kernels, forward
from ..llava.model import LlavaModel
from .common import best_of, interleaved, matmul_flops_per_s, print_table

TEXT_TOKENS = 64
SHAPES = {"small": dict(hidden=1024, layers=16, heads=16, kv_heads=4, intermediate=2816),
          "7b": dict(hidden=4096, layers=32, heads=32, kv_heads=32, intermediate=11008)}
MODES = {"full": ("full", True), "composite (visual MLP on)": ("composite", True),
         "composite (visual MLP off)": ("composite", False)}


def shapes(hidden=1024, layers=16, heads=16, kv_heads=4, intermediate=None, vision_layers=24):
    dec = DecoderConfig(family="llama", vocab_size=32064, hidden=hidden,
                        intermediate=intermediate or int(hidden * 2.75), n_layers=layers, n_heads=heads,
                        n_kv_heads=kv_heads, head_dim=hidden // heads, norm_eps=1e-5,
                        rope={"rope_type": "default", "rope_theta": 10000.0}, max_positions=8192,
                        qkv_bias=False, o_bias=False, mlp_bias=False, tie_embeddings=False)
    vis = VisionConfig(family="clip", hidden=1024, intermediate=4096, n_layers=vision_layers, n_heads=16,
                       image_size=336, patch_size=14, norm_eps=1e-5, act="quick_gelu")
    return ModelConfig(decoder=dec, vision=vis, image_token_id=32000)


def decoder_flops(d: DecoderConfig, n_vis: int, n_text: int, mode: str, visual_mlp: bool) -> float:
    """Matmul FLOPs of one prefill (2 per multiply-add); text is taken to follow the image."""
    hd, kv = d.head_dim, d.n_kv_heads * d.head_dim
    qo, kvp, mlp = 2 * 2 * d.hidden * d.n_heads * hd, 2 * 2 * d.hidden * kv, 2 * 3 * d.hidden * d.intermediate
    t = n_vis + n_text
    if mode == "full":
        rows = t * (qo + kvp + mlp)
        attn = 2 * 2 * d.n_heads * hd * t * (t + 1) / 2          # causal QK^T and AV
    else:
        rows = n_text * (qo + kvp + mlp) + n_vis * (qo / 2 + kvp + (mlp if visual_mlp else 0))
        attn = 2 * 2 * d.n_heads * hd * sum(n_vis + i + 1 for i in range(n_text))
    return d.n_layers * (rows + attn)


def vision_flops(v: VisionConfig, layers: int, tokens: int) -> float:
    per_layer = tokens * (2 * 4 * v.hidden ** 2 + 2 * 2 * v.hidden * v.intermediate) + 2 * 2 * tokens ** 2 * v.hidden
    return layers * per_layer + tokens * 2 * 3 * v.patch_size ** 2 * v.hidden


def _synced(fn, device: str):
    if not device.startswith("cuda"):
        return fn

    def run():
        fn()
        torch.cuda.synchronize()
    return run


def build(cfg: ModelConfig, device: str, dtype, quant: str | None):
    torch.manual_seed(0)
    with torch.device(device if quant is None else "cpu"), torch.no_grad():
        model = LlavaModel(cfg).to(dtype).eval()
    if quant:
        from ..llava.quant import quantize_decoder
        quantize_decoder(model, quant, device, dtype)
    return model.to(device)


def run(n_visual_list=(576, 2304), repeats=3, shape="small", device="cpu", dtype=torch.float32,
        kernels=("sdpa",), quants=(None,), vision=True, compiled=False):
    cfg = shapes(**SHAPES[shape])
    peak = matmul_flops_per_s(dtype=dtype, device=device)
    rows, speedup, speedup_compiled = [], {}, {}
    for quant in quants:
        model = build(cfg, device, dtype, quant)
        for n_vis in n_visual_list:
            side = int(math.isqrt(n_vis)) * cfg.vision.patch_size      # 336 px -> 576, 672 px -> 2304
            vis_s = 0.0
            if vision and quant == quants[0]:
                v = VisionConfig(**{**cfg.vision.__dict__, "image_size": side})
                model.vision.embeddings.position_embedding = torch.nn.Embedding(
                    v.n_patches + 1, v.hidden, device=device, dtype=dtype)
                pixels = torch.randn(1, 3, side, side, device=device, dtype=dtype)
                with torch.inference_mode():
                    vis_s = best_of(_synced(lambda: model.vision(pixels), device), repeats=max(1, repeats - 1))
                vf = vision_flops(v, len(model.vision.encoder.layers), v.n_patches + 1)
                rows.append(dict(visual=n_vis, stage="vision tower", kernel="sdpa", quant="-",
                                 ms=vis_s * 1e3, gflop=vf / 1e9, tflops=vf / vis_s / 1e12, frac=vf / vis_s / peak))
            t = n_vis + TEXT_TOKENS
            x = (torch.randn(1, t, cfg.decoder.hidden, device=device) * 0.02).to(dtype)
            is_vis = torch.zeros(t, dtype=torch.bool, device=device)
            is_vis[8:8 + n_vis] = True                               # a system prefix, image, question
            pos = torch.arange(t, device=device)
            cache = KVCache(cfg.decoder, t, dtype, device)

            def prefill_fn(mode, vmlp, kernel, comp):
                def fn():
                    with torch.inference_mode():
                        forward(model.decoder, x, pos, is_vis, cache, RunConfig(mode, vmlp, kernel, comp))
                return _synced(fn, device)
            # Compiled layers (torch.compile, one layer compiled for all) with the first kernel,
            # unquantized only: bitsandbytes' matmuls break the graph.
            variants = [(k, False) for k in kernels] + ([(kernels[0], True)] if compiled and quant is None else [])
            fns = {(label, k, c): prefill_fn(*m, k, c) for k, c in variants for label, m in MODES.items()}
            times = interleaved(fns, repeats=repeats, warmup=2 if compiled else 1)
            for (label, kernel, comp), s in times.items():
                f = decoder_flops(cfg.decoder, n_vis, TEXT_TOKENS, *MODES[label])
                rows.append(dict(visual=n_vis, stage="decoder " + label, kernel=kernel, compiled=comp,
                                 quant=quant or dtype_name(dtype), ms=s * 1e3, gflop=f / 1e9, tflops=f / s / 1e12,
                                 frac=f / s / peak, ttft_ms=(vis_s + s) * 1e3 if vis_s else None))
            if quant == quants[0]:
                k = kernels[0]
                speedup[str(n_vis)] = times[("full", k, False)] / times[("composite (visual MLP off)", k, False)]
                if ("full", k, True) in times:
                    speedup_compiled[str(n_vis)] = (times[("full", k, True)]
                                                    / times[("composite (visual MLP off)", k, True)])
        del model
    return dict(rows=rows, speedup=speedup, speedup_compiled=speedup_compiled, device=device_name(device), peak_tflops=peak / 1e12,
                text_tokens=TEXT_TOKENS, shape=SHAPES[shape], threads=torch.get_num_threads())


def dtype_name(dtype) -> str:
    return str(dtype).replace("torch.", "")


def device_name(device: str) -> str:
    return torch.cuda.get_device_name(0) if device.startswith("cuda") else f"cpu ({torch.get_num_threads()} threads)"


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m engine bench prefill", description=__doc__)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--visual", type=int, nargs="+", default=[576, 2304])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--shape", choices=list(SHAPES), help="default: small on CPU, 7b on CUDA")
    ap.add_argument("--kernels", nargs="+", help="default: every kernel available on the device")
    ap.add_argument("--quant", nargs="+", default=None, help="none 8bit 4bit (default: none; all on CUDA)")
    ap.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                    help="also time compiled layers (default: on CUDA)")
    a = ap.parse_args(argv)
    cuda = a.device.startswith("cuda")
    if cuda and not torch.cuda.is_available():
        print("no CUDA GPU here: run with --device cpu")
        return 1
    quants = [None if q == "none" else q for q in (a.quant or (["none", "8bit", "4bit"] if cuda else ["none"]))]
    res = run(tuple(a.visual), a.repeats, a.shape or ("7b" if cuda else "small"), a.device,
              torch.bfloat16 if cuda else torch.float32, tuple(a.kernels or available_kernels(a.device)), quants,
              compiled=cuda if a.compile is None else a.compile)
    if a.json:
        print(json.dumps(res, indent=2))
        return 0
    print(f"{res['device']}: measured matmul rate {res['peak_tflops']:.2f} TFLOP/s; decoder {res['shape']}; "
          f"{TEXT_TOKENS} text tokens")
    print_table(res["rows"], [("visual", "visual tokens", "d"), ("stage", "stage", "s"), ("kernel", "kernel", "s"),
                              ("compiled", "compiled", ""), ("quant", "weights", "s"), ("ms", "ms", ".1f"), ("gflop", "GFLOP", ".1f"),
                              ("tflops", "TFLOP/s", ".3f"), ("frac", "of matmul rate", ".0%"),
                              ("ttft_ms", "time to first token ms", ".0f")])
    for k, v in res["speedup"].items():
        print(f"decoder prefill speedup, full / composite (visual MLP off), {k} visual tokens: {v:.2f}x")
    for k, v in res["speedup_compiled"].items():
        print(f"the same, compiled layers: {k} visual tokens: {v:.2f}x")
    return 0
