"""The models the app offers to download (engine/model_catalog.json, data), and whether each fits
this machine's memory."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

CATALOG = Path(__file__).resolve().parents[1] / "model_catalog.json"
UNVERIFIED = "runs through llama.cpp; not verified here"


@dataclass(frozen=True)
class Offer:
    name: str
    repo: str
    backend: str                      # torch | gguf
    size_gb: float                    # the download
    memory_gb: dict                   # {"cpu": GB, "cuda": GB}: what a load needs there
    licence: str
    files: list = field(default_factory=list)
    quant: str | None = None
    sees: bool = True
    grounds: bool = False
    box_format: str | None = None
    verified: bool = False

    @property
    def spec(self) -> str:
        return f"{self.repo}:{self.quant}" if self.quant else self.repo

    @property
    def trust(self) -> str:
        return "tested here" if self.verified else UNVERIFIED


def offers(path: str | os.PathLike | None = None) -> list[Offer]:
    data = json.loads(Path(path or CATALOG).read_text())
    return [Offer(**m) for m in data["models"]]


def find(repo_or_spec: str) -> Offer | None:
    key = repo_or_spec.strip().removeprefix("hf:")
    return next((o for o in offers() if key in (o.repo, o.spec)), None)


@dataclass(frozen=True)
class Machine:
    ram_gb: float
    gpu_gb: float | None = None       # CUDA memory, when torch sees a GPU


def this_machine() -> Machine:
    try:
        import psutil
        ram = psutil.virtual_memory().total / 1e9
    except ImportError:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
    gpu = None
    try:
        import torch
        if torch.cuda.is_available():
            gpu = torch.cuda.get_device_properties(0).total_memory / 1e9
    except ImportError:
        pass
    return Machine(ram, gpu)


def fit(offer: Offer, machine: Machine) -> tuple[bool, str]:
    """(fits, the words for it): torch runs on the GPU when there is one; GGUF here on the CPU."""
    on_gpu = offer.backend == "torch" and machine.gpu_gb is not None and "cuda" in offer.memory_gb
    need = offer.memory_gb["cuda" if on_gpu else "cpu"]
    have = machine.gpu_gb if on_gpu else machine.ram_gb
    where = "GPU memory" if on_gpu else "memory"
    how = " (bfloat16 on the GPU)" if on_gpu else " (float32 on the CPU)" if offer.backend == "torch" else ""
    if need <= have:
        return True, f"fits: needs about {need:g} GB of {have:.0f} GB {where}{how}"
    return False, f"does not fit: needs about {need:g} GB {where}{how}, this machine has {have:.0f} GB"
