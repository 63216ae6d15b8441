"""`python -m engine bench decode --device cuda`: decode tokens/s of the torch engine on a random
model of realistic shape (LLaVA-1.5-7B's decoder by default), bf16 / 8bit / 4bit, each attention
kernel, eager and compiled, with the weight bytes read per token, the GB/s that implies, and
that as a fraction of the device's measured copy bandwidth (the bound for decoding one token)."""
from __future__ import annotations

import argparse
import json
import time

import torch

from ..llava.decoder import KVCache
from ..llava.forward import available_kernels, forward
from ..llava.generate import RunConfig, decode_one
from .common import print_table
from .prefill import SHAPES, build, device_name, shapes


def copy_bandwidth(device: str, mib: int = 1024) -> float:
    src = torch.ones(mib * 2 ** 20 // 4, device=device)
    dst = torch.empty_like(src)
    best = float("inf")
    for _ in range(5):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        dst.copy_(src)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    return 2 * src.numel() * 4 / best


def weight_bytes_per_token(model) -> int:
    """Every weight is read once per token, except the embedding table (one row)."""
    n = 0
    for name, t in list(model.decoder.named_parameters()) + list(model.decoder.named_buffers()):
        if "embed_tokens" not in name and "inv_freq" not in name:
            n += t.numel() * t.element_size()
    head = model.lm_head.weight if hasattr(model, "lm_head") else model.decoder.embed_tokens.weight
    return n + head.numel() * head.element_size()


def _seconds_per_token(model, cfg, device, dtype, kernel, comp, context, tokens) -> float:
    run_cfg = RunConfig("full", True, kernel, comp)
    cache = KVCache(cfg.decoder, context + tokens + 1, dtype, device, bucket=1024 if comp else 1)
    with torch.inference_mode():
        x = (torch.randn(1, context, cfg.decoder.hidden, device=device) * 0.02).to(dtype)
        forward(model.decoder, x, torch.arange(context, device=device), None, cache, RunConfig(kernel=kernel))
        for i in range(3):                                   # warm-up (and compile)
            decode_one(model, 1, context + i, cache, run_cfg)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for i in range(tokens):
            decode_one(model, 1, context + i, cache, run_cfg)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        return (time.perf_counter() - t0) / tokens


def run(shape="7b", device="cuda", dtype=torch.bfloat16, quants=(None,), kernels=("sdpa",), context=640,
        tokens=64, compile_modes=(False, True)):
    cfg = shapes(**SHAPES[shape])
    bw = copy_bandwidth(device)
    rows = []
    for quant in quants:
        model = build(cfg, device, dtype, quant)
        per_token = weight_bytes_per_token(model)
        for kernel in kernels:
            for comp in compile_modes:
                try:
                    s = _seconds_per_token(model, cfg, device, dtype, kernel, comp, context, tokens)
                except Exception as e:  # one variant failing (a compiler error) must not lose the others
                    rows.append(dict(weights=quant or str(dtype).replace("torch.", ""), kernel=kernel,
                                     compiled=comp, error=f"{type(e).__name__}: {str(e).splitlines()[0][:60]}"))
                    continue
                rows.append(dict(weights=quant or str(dtype).replace("torch.", ""), kernel=kernel,
                                 compiled=comp, tok_s=1 / s, mb_token=per_token / 1e6,
                                 gb_s=per_token / s / 1e9, frac=per_token / s / bw))
        del model
        if device.startswith("cuda"):
            torch.cuda.empty_cache()
    return dict(rows=rows, device=device_name(device), copy_gb_s=bw / 1e9, shape=SHAPES[shape], context=context)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m engine bench decode --device cuda", description=__doc__)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--shape", choices=list(SHAPES), default=None)
    ap.add_argument("--quant", nargs="+", default=None, help="none 8bit 4bit")
    ap.add_argument("--kernels", nargs="+")
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--no-compile", action="store_true")
    a = ap.parse_args(argv)
    cuda = a.device.startswith("cuda")
    if cuda and not torch.cuda.is_available():
        print("no CUDA GPU here: `python -m engine bench decode` compares torch and llama.cpp on the CPU")
        return 1
    quants = [None if q == "none" else q for q in (a.quant or (["none", "8bit", "4bit"] if cuda else ["none"]))]
    res = run(a.shape or ("7b" if cuda else "small"), a.device, torch.bfloat16 if cuda else torch.float32,
              tuple(quants), tuple(a.kernels or available_kernels(a.device)), tokens=a.tokens,
              compile_modes=(False,) if a.no_compile or not cuda else (False, True))
    if a.json:
        print(json.dumps(res, indent=2))
        return 0
    print(f"{res['device']}: measured copy bandwidth {res['copy_gb_s']:.0f} GB/s; decoder {res['shape']}; "
          f"context {res['context']}")
    print_table(res["rows"], [("weights", "weights", "s"), ("kernel", "kernel", "s"), ("compiled", "compiled", ""),
                              ("tok_s", "tok/s", ".1f"), ("mb_token", "MB read/token", ".0f"),
                              ("gb_s", "GB/s", ".0f"), ("frac", "of copy bandwidth", ".0%"),
                              ("error", "error", "s")])
    return 0
