"""`python -m engine bench NAME`: each benchmark is a module here with `main(argv)`."""
from __future__ import annotations

import importlib

BENCHES = {"prefill": "engine.bench.prefill", "decode": "engine.bench.decode", "precision": "engine.bench.precision",
           "turns": "engine.bench.turns", "documents": "engine.bench.documents", "own": "engine.bench.own"}


# A benchmark's variant for one model family: `bench prefill --family llava_next`.
FAMILIES = {("prefill", "llava"): "engine.bench.prefill", ("prefill", "llava_next"): "engine.bench.prefill_tiled"}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in BENCHES:
        print(f"usage: python -m engine bench {{{'|'.join(BENCHES)}}} [--json] ...")
        return 2
    name, rest = argv[0], argv[1:]
    module = BENCHES[name]
    if "--family" in rest:
        i = rest.index("--family")
        family = rest[i + 1] if i + 1 < len(rest) else ""
        known = sorted(f for n, f in FAMILIES if n == name)
        if (name, family) not in FAMILIES:
            print(f"bench {name} --family: one of {', '.join(known) or 'none (this bench has no variants)'}")
            return 2
        module, rest = FAMILIES[name, family], rest[:i] + rest[i + 2:]
    return importlib.import_module(module).main(rest) or 0
