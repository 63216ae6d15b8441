"""`python -m engine pull OWNER/REPO[:QUANT or FILE]`: download a model from the Hugging Face hub
(or HF_ENDPOINT) into the models folder, where the app's model list finds it. Resumable; the hub's
hashes are checked; HF_TOKEN is sent for gated repos. A GGUF repo gives the chosen quant (default
Q4_K_M) and its mmproj; a transformers repo its config, safetensors and tokenizer files."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m engine pull", description=__doc__)
    ap.add_argument("repo", help="OWNER/REPO, optionally :QUANT (Q4_K_M) or :FILE (x.gguf)")
    ap.add_argument("--file", help="one file of the repo (a GGUF brings its mmproj along)")
    ap.add_argument("--quant", help="the GGUF quant to pull, e.g. Q4_K_M, Q8_0")
    ap.add_argument("--revision", default="main", help="branch, tag or commit (default: main)")
    ap.add_argument("--data-dir", help="the app's data folder (models go to DATA_DIR/models)")
    a = ap.parse_args(argv)
    from ..catalog import data_dir
    from ..hub import Cancelled, PullError
    from ..hub.terminal import pull_here
    models_dir = data_dir(a.data_dir) / "models"
    try:
        path = pull_here(a.repo, models_dir, a.revision, a.file, a.quant)
    except PullError as e:
        print(f"pull: {e}", file=sys.stderr)
        return 130 if isinstance(e, Cancelled) else 1
    print(str(path))
    print(f"Ready: python run.py --model {_quoted(path)}", file=sys.stderr)
    return 0


def _quoted(p: Path) -> str:
    s = str(p)
    return f'"{s}"' if " " in s else s
