"""`python -m engine bench prefill [--json] [--device cuda]`: vision encoding and decoder prefill,
full vs composite (visual MLP on and off), at 576 and 2304 visual tokens + 64 text tokens, on a
random model of realistic shape, timed side by side in one run (round-robin). Next to each time:
the FLOPs it implies and the fraction of this device's measured matmul rate it reached.

CPU default: decoder hidden 1024, 16 layers, GQA 16:4; CLIP ViT-L/14 tower timed on its own (and
compiled with --compile); float32 and, where the CPU has native bf16, bfloat16, with the closing
lines: bf16 vs float32 per stage, capped by the measured bf16/float32 matmul rates, and the first
token end to end, composite vs full, with the tower's share.
`--device cuda --shape 7b`: hidden 4096, 32 layers, 32 heads (LLaVA-1.5-7B's decoder), bf16,
every available kernel, and --quant none 8bit 4bit."""
from __future__ import annotations

import argparse
import copy
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
          "7b": dict(hidden=4096, layers=32, heads=32, kv_heads=32, intermediate=11008),
          "tiny": dict(hidden=64, layers=2, heads=4, kv_heads=2, intermediate=128)}  # smoke runs only
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


def _vision_rows(model, cfg, n_vis, device, dtype, repeats, compiled):
    """The CLIP tower alone at the side that gives n_vis patches, eager (and compiled): rows, and
    the seconds of the first (what the first token waits for when the image is new)."""
    side = int(math.isqrt(n_vis)) * cfg.vision.patch_size      # 336 px -> 576, 672 px -> 2304
    v = VisionConfig(**{**cfg.vision.__dict__, "image_size": side})
    model.vision.embeddings.position_embedding = torch.nn.Embedding(v.n_patches + 1, v.hidden, device=device,
                                                                    dtype=dtype)
    pixels = torch.randn(1, 3, side, side, device=device, dtype=dtype)
    vf = vision_flops(v, len(model.vision.encoder.layers), v.n_patches + 1)
    fns = {False: _synced(lambda: model.vision(pixels), device)}
    if compiled:
        tower = copy.deepcopy(model.vision)
        tower.compile_layers()
        fns[True] = _synced(lambda: tower(pixels), device)
    with torch.inference_mode():
        times = interleaved(fns, repeats=max(1, repeats - 1), warmup=2 if compiled else 1)
    return [dict(visual=n_vis, stage="vision tower", kernel="sdpa", compiled=c, dtype=dtype_name(dtype),
                 quant=dtype_name(dtype), ms=s * 1e3, gflop=vf / 1e9, tflops=vf / s / 1e12)
            for c, s in times.items()], times[False]


def run(n_visual_list=(576, 2304), repeats=3, shape="small", device="cpu", dtypes=(torch.float32,),
        kernels=("sdpa",), quants=(None,), vision=True, compiled=False):
    cfg = shapes(**SHAPES[shape])
    peaks = {dtype_name(d): matmul_flops_per_s(dtype=d, device=device) for d in dtypes}
    rows, speedup, speedup_compiled = [], {}, {}
    for dtype in dtypes:
        for quant in quants:
            model = build(cfg, device, dtype, quant)
            for n_vis in n_visual_list:
                vis_s = 0.0
                if vision and quant == quants[0]:
                    vrows, vis_s = _vision_rows(model, cfg, n_vis, device, dtype, repeats, compiled)
                    rows += vrows
                rows += _decoder_rows(model, cfg, n_vis, device, dtype, quant, kernels, repeats,
                                      compiled and quant is None, vis_s)
                if quant == quants[0] and dtype == dtypes[0]:
                    times = {(r["stage"][len("decoder "):], r["kernel"], r["compiled"]): r["ms"] for r in rows
                             if r["visual"] == n_vis and r["stage"].startswith("decoder") and r["quant"] == (
                                 quant or dtype_name(dtype))}
                    k = kernels[0]
                    speedup[str(n_vis)] = times[("full", k, False)] / times[("composite (visual MLP off)", k, False)]
                    if ("full", k, True) in times:
                        speedup_compiled[str(n_vis)] = (times[("full", k, True)]
                                                        / times[("composite (visual MLP off)", k, True)])
            del model
    for r in rows:  # each against the matmul rate of its own dtype
        r["frac"] = r["tflops"] * 1e12 / peaks[r["dtype"]]
    return dict(rows=rows, speedup=speedup, speedup_compiled=speedup_compiled, device=device_name(device),
                peak_tflops=max(peaks.values()) / 1e12, peaks_tflops={k: v / 1e12 for k, v in peaks.items()},
                text_tokens=TEXT_TOKENS, shape=SHAPES[shape], threads=torch.get_num_threads(),
                dtypes=[dtype_name(d) for d in dtypes], kernel=kernels[0])


def _decoder_rows(model, cfg, n_vis, device, dtype, quant, kernels, repeats, compiled, vis_s):
    """Decoder prefill of a system prefix, the image's n_vis rows and the question, per attention
    mode and kernel (and compiled layers with the first kernel), round-robin."""
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
    variants = [(k, False) for k in kernels] + ([(kernels[0], True)] if compiled else [])
    fns = {(label, k, c): prefill_fn(*m, k, c) for k, c in variants for label, m in MODES.items()}
    times = interleaved(fns, repeats=repeats, warmup=2 if compiled else 1)
    rows = []
    for (label, kernel, comp), s in times.items():
        f = decoder_flops(cfg.decoder, n_vis, TEXT_TOKENS, *MODES[label])
        rows.append(dict(visual=n_vis, stage="decoder " + label, kernel=kernel, compiled=comp, dtype=dtype_name(dtype),
                         quant=quant or dtype_name(dtype), ms=s * 1e3, gflop=f / 1e9, tflops=f / s / 1e12,
                         ttft_ms=(vis_s + s) * 1e3 if vis_s else None,
                         tower_share=vis_s / (vis_s + s) if vis_s else None))
    return rows


def dtype_name(dtype) -> str:
    return str(dtype).replace("torch.", "")


def device_name(device: str) -> str:
    return torch.cuda.get_device_name(0) if device.startswith("cuda") else f"cpu ({torch.get_num_threads()} threads)"


def common_args(prog: str, about: str) -> argparse.ArgumentParser:
    """The options every prefill bench takes (this one and prefill_tiled)."""
    ap = argparse.ArgumentParser(prog=prog, description=about)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--shape", choices=list(SHAPES), help="default: small on CPU, 7b on CUDA")
    return ap


def no_cuda(device: str) -> bool:
    if device.startswith("cuda") and not torch.cuda.is_available():
        print("no CUDA GPU here: run with --device cpu")
        return True
    return False


def main(argv: list[str]) -> int:
    ap = common_args("python -m engine bench prefill", __doc__)
    ap.add_argument("--visual", type=int, nargs="+", default=[576, 2304])
    ap.add_argument("--kernels", nargs="+", help="default: every kernel available on the device")
    ap.add_argument("--quant", nargs="+", default=None,
                    help="none 8bit 4bit (CUDA) | none int8 int4 (CPU) (default: none; all bitsandbytes on CUDA)")
    ap.add_argument("--threads", type=int, help="torch CPU threads (default: torch's own, one per core)")
    ap.add_argument("--dtypes", nargs="+", choices=["float32", "bfloat16", "float16"],
                    help="default: bfloat16 on CUDA; on the CPU float32 and, where native, bfloat16")
    ap.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                    help="also time compiled layers (default: on CUDA)")
    a = ap.parse_args(argv)
    cuda = a.device.startswith("cuda")
    if no_cuda(a.device):
        return 1
    if a.threads:
        torch.set_num_threads(a.threads)
    quants = [None if q == "none" else q for q in (a.quant or (["none", "8bit", "4bit"] if cuda else ["none"]))]
    dtypes, why = cpu_dtypes() if not cuda and not a.dtypes else ([torch.bfloat16] if cuda else [], None)
    dtypes = [getattr(torch, d) for d in a.dtypes] if a.dtypes else dtypes
    res = run(tuple(a.visual), a.repeats, a.shape or ("7b" if cuda else "small"), a.device, tuple(dtypes),
              tuple(a.kernels or available_kernels(a.device)), quants,
              compiled=cuda if a.compile is None else a.compile)
    res["summary"] = summary(res) + ([why] if why else [])
    if a.json:
        print(json.dumps(res, indent=2))
        return 0
    rates = ", ".join(f"{k} {v:.2f}" for k, v in res["peaks_tflops"].items())
    print(f"{res['device']}: measured matmul rate (TFLOP/s) {rates}; decoder {res['shape']}; {TEXT_TOKENS} text tokens")
    print_table(res["rows"], [("visual", "visual tokens", "d"), ("stage", "stage", "s"), ("kernel", "kernel", "s"),
                              ("compiled", "compiled", ""), ("quant", "weights", "s"), ("ms", "ms", ".1f"), ("gflop", "GFLOP", ".1f"),
                              ("tflops", "TFLOP/s", ".3f"), ("frac", "of matmul rate", ".0%"),
                              ("ttft_ms", "time to first token ms", ".0f"), ("tower_share", "tower share", ".0%")])
    for k, v in res["speedup"].items():
        print(f"decoder prefill speedup, full / composite (visual MLP off), {k} visual tokens: {v:.2f}x")
    for k, v in res["speedup_compiled"].items():
        print(f"the same, compiled layers: {k} visual tokens: {v:.2f}x")
    print("\n".join(res["summary"]))
    return 0


def cpu_dtypes():
    """float32, and bfloat16 where this CPU has it natively; else why not."""
    from ..llava.cpu import native_bf16
    if native_bf16():
        return [torch.float32, torch.bfloat16], None
    return [torch.float32], ("bfloat16 not timed: this CPU has no native bf16 (avx512_bf16 / AMX / Arm bf16); "
                             "PyTorch would emulate it, slower than float32")


def summary(res) -> list[str]:
    """The closing lines: bf16 vs float32 per stage (and why a gain is capped: the measured bf16
    matmul rate over the float32 one), and the first token end to end, composite vs full, with the
    vision tower's share. Eager, first kernel, unquantized rows."""
    eager = {(r["visual"], r["stage"], r["dtype"]): r for r in res["rows"]
             if not r["compiled"] and r["quant"] == r["dtype"] and (r["stage"] == "vision tower"
                                                                    or r["kernel"] == res["kernel"])}
    out, peaks = [], res["peaks_tflops"]
    if "float32" in peaks and "bfloat16" in peaks:
        cap = peaks["bfloat16"] / peaks["float32"]
        for n in sorted({r["visual"] for r in res["rows"]}):
            parts = []
            for stage in ("vision tower", "decoder full", "decoder composite (visual MLP off)"):
                a, b = eager.get((n, stage, "float32")), eager.get((n, stage, "bfloat16"))
                if a and b:
                    parts.append(f"{stage} {a['ms'] / b['ms']:.2f}x")
            if parts:
                out.append(f"bf16 vs float32, {n} visual tokens (floor 1.5x): " + ", ".join(parts))
        out.append(f"this CPU's measured bf16 matmul rate is {cap:.2f}x its float32 rate: the most bf16 can gain "
                   "in matmul-bound work" + (" (below 1.5x: the floor cannot be met here)" if cap < 1.5 else ""))
    for (n, stage, dtype), r in sorted(eager.items()):
        if stage != "decoder full" or r.get("ttft_ms") is None:
            continue
        c = eager.get((n, "decoder composite (visual MLP off)", dtype))
        if c and c.get("ttft_ms"):
            out.append(f"first token, {n} visual tokens, {dtype}: full {r['ttft_ms']:.0f} ms (tower "
                       f"{r['tower_share']:.0%}) vs composite {c['ttft_ms']:.0f} ms (tower {c['tower_share']:.0%}): "
                       f"{r['ttft_ms'] / c['ttft_ms']:.2f}x")
    return out
