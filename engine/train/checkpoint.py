"""Training state in safetensors (never pickle): the parts (shipped format), the stage heads and
the optimizer's tensors, with the counters and param groups as JSON metadata."""
from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from ..atomic import replacing

PARTS, STATE = "parts.safetensors", "state.safetensors"


def save_state(work: Path, state: dict, heads: dict, opt: dict | None) -> None:
    tensors = {f"heads.{k}": v.detach().float().contiguous() for k, v in heads.items()}
    meta = {"state": json.dumps(state)}
    if opt:
        for idx, s in opt["state"].items():
            for name, v in s.items():
                tensors[f"opt.{idx}.{name}"] = (v if torch.is_tensor(v) else torch.tensor(v)).detach().cpu().contiguous()
        meta["param_groups"] = json.dumps([{k: v for k, v in g.items() if k != "params"} | {"params": g["params"]}
                                           for g in opt["param_groups"]])
    with replacing(work / STATE) as tmp:
        save_file(tensors, str(tmp), metadata=meta)


def load_state(work: Path) -> tuple[dict, dict, dict | None]:
    path = work / STATE
    if not path.is_file():
        return {"stage": 0, "step": 0, "samples": 0, "seconds": 0.0}, {}, None
    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
        t = {k: f.get_tensor(k) for k in f.keys()}
    heads = {k[len("heads."):]: v for k, v in t.items() if k.startswith("heads.")}
    opt = None
    if "param_groups" in meta:
        state: dict = {}
        for k, v in t.items():
            if k.startswith("opt."):
                _, idx, name = k.split(".", 2)
                state.setdefault(int(idx), {})[name] = v
        opt = {"state": state, "param_groups": json.loads(meta["param_groups"])}
    return json.loads(meta["state"]), heads, opt
