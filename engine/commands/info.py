"""`python -m engine info --model PATH`: load a model and print what was found."""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys

from .. import EngineError
from .chat import add_model_args, load_from_args


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m engine info", description=__doc__)
    add_model_args(ap)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    try:
        info = load_from_args(a).info
    except EngineError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    d = dataclasses.asdict(info)
    print(json.dumps(d, indent=2) if a.json else "\n".join(f"{k:15s} {v}" for k, v in d.items()))
    return 0
