"""`python -m engine export-gguf CHECKPOINT OUT_DIR [--quant q8_0|q4_k_m|f16]`: a LLaVA checkpoint
(Hugging Face layout: config.json + *.safetensors + tokenizer files) as a language-model GGUF plus
an mmproj GGUF that llama.cpp loads. A text-only Llama/Qwen2 folder gives the model GGUF alone."""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from ..api import EngineError
from .export_tensors import QUANTS


# Tried (2026-12-03): an mmproj with clip.vision.image_grid_pinpoints, mm_patch_merge_type
# spatial_unpad and model.image_newline loads in llama-cpp-python 0.3.36's mtmd, but it cuts the
# image into slices of 576 tokens with no unpadding and no row ends: 750x1000 becomes 2,880 tokens
# (transformers: 2,340) and 200x300 one slice of 576 (1,464). The model would read a layout it was
# not trained on, so the export is refused.
ANYRES_REFUSAL = ("This is a LLaVA-NeXT (llava-v1.6, any-resolution) checkpoint: its GGUF export is not "
                  "supported (llama.cpp lays a tiled image out differently from the way this model was "
                  "trained: no unpadding, no row ends). Run it with the torch backend (--backend torch; "
                  "--max-tiles 2 or base for a faster first token on a CPU).")


def export_checkpoint(checkpoint, out_dir, quant: str = "q8_0") -> tuple[Path, Path | None]:
    """Write OUT_DIR/<name>-<quant>.gguf and OUT_DIR/mmproj-<name>-f16.gguf; return their paths."""
    import numpy as np
    import torch

    from ..llava.checkpoint import read_weights
    from ..llava.config import read_config
    from .export_lm import write_language_model
    from .export_mmproj import write_mmproj

    if quant not in QUANTS:
        raise EngineError(f"Unknown --quant {quant!r}; choose one of {', '.join(QUANTS)}.")
    folder, out_dir = Path(checkpoint), Path(out_dir)
    cfg = read_config(folder)
    if cfg.grid_pinpoints is not None:
        raise EngineError(ANYRES_REFUSAL)
    weights = {k: v.numpy() for k, v in read_weights(folder, dtype=torch.float32).items()}
    assert all(isinstance(v, np.ndarray) for v in weights.values())
    if out_dir.exists() and not out_dir.is_dir():
        raise EngineError(f"{out_dir} is a file; give a folder to write the GGUF files into.")
    out_dir.mkdir(parents=True, exist_ok=True)
    name = folder.resolve().name
    lm = out_dir / f"{name}-{quant}.gguf"
    if quant == "q4_k_m":  # llama.cpp quantizes from an f16 file it reads back
        from .cpu import physical_cores
        from .export_tensors import llama_quantize
        with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
            f16 = Path(tmp) / "f16.gguf"
            write_language_model(cfg, weights, folder, f16, "f16", name)
            llama_quantize(str(f16), str(lm), quant, physical_cores())
    else:
        write_language_model(cfg, weights, folder, lm, quant, name)
    mmproj = None
    if cfg.vision is not None:
        mmproj = write_mmproj(cfg, weights, folder, out_dir / f"mmproj-{name}-f16.gguf", name)
    return lm, mmproj


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m engine export-gguf", description=__doc__)
    ap.add_argument("checkpoint")
    ap.add_argument("out_dir")
    ap.add_argument("--quant", choices=QUANTS, default="q8_0")
    a = ap.parse_args(argv)
    try:
        lm, mmproj = export_checkpoint(a.checkpoint, a.out_dir, a.quant)
    except EngineError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    for p in (lm, mmproj):
        if p is not None:
            print(f"wrote {p} ({os.path.getsize(p) / 2**20:.1f} MiB)")
    return 0
