"""`python -m engine bench NAME`: each benchmark is a module here with `main(argv)`."""
from __future__ import annotations

import importlib

BENCHES = {"prefill": "engine.bench.prefill", "decode": "engine.bench.decode", "precision": "engine.bench.precision",
           "turns": "engine.bench.turns", "documents": "engine.bench.documents", "own": "engine.bench.own"}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in BENCHES:
        print(f"usage: python -m engine bench {{{'|'.join(BENCHES)}}} [--json] ...")
        return 2
    return importlib.import_module(BENCHES[argv[0]]).main(argv[1:]) or 0
