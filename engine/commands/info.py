"""`python -m engine info --model PATH`: load a model and print what was found."""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from .. import EngineError
from .chat import add_model_args, load_from_args


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m engine info", description=__doc__)
    add_model_args(ap)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    try:
        loaded = load_from_args(a)
    except EngineError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    d = dataclasses.asdict(loaded.info)
    d["boxes"] = loaded.box_source
    if a.model and not a.base_url and (Path(a.model) / "config.json").is_file():
        d["architecture"] = architecture(a.model)
    print(json.dumps(d, indent=2) if a.json else "\n".join(f"{k:15s} {v}" for k, v in d.items()))
    return 0


def architecture(folder: str) -> str:
    """What a LLaVA-layout config.json describes, in one line (read without the weights)."""
    from ..llava.config import read_config
    c = read_config(folder)
    d = c.decoder
    rope = d.rope.get("rope_type", "default") + f" theta {d.rope.get('rope_theta'):g}"
    out = (f"decoder {d.family}: {d.n_layers} layers, hidden {d.hidden}, heads {d.n_heads} "
           f"(kv {d.n_kv_heads}), MLP {d.intermediate}, RoPE {rope}, {d.max_positions} positions"
           f"{', tied embeddings' if d.tie_embeddings else ''}")
    if c.vision:
        v = c.vision
        out += (f"; vision {v.family}: {v.n_layers} layers, hidden {v.hidden}, {v.image_size}px / patch "
                f"{v.patch_size} -> {c.image_seq_length} visual tokens per image")
        if c.grid_pinpoints:  # LLaVA-NeXT: a tile's tokens per view, the base view and up to 4 tiles
            from ..llava.anyres import most_image_tokens
            grids = ", ".join(f"{h // v.image_size}x{w // v.image_size}" for h, w in c.grid_pinpoints)
            out += (f" view; any-resolution tiles ({grids}): up to {most_image_tokens(c):,} visual tokens "
                    "per image (--max-tiles caps them)")
    return out
