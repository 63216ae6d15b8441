"""Backends as a table: name -> loader. Each loader imports its heavy library only when called."""
from __future__ import annotations

import os
from pathlib import Path

from .api import EngineError
from .catalog import OWN_MODEL, OWN_NAME, OWN_SEES


# data_dir: the folder where the app keeps its files; each backend takes from it what it keeps
# (the torch engine its visual KV cache; llama.cpp and remote servers keep nothing there).
def _torch(path, data_dir=None, **kw):
    from .llava.engine import load_torch_engine
    if data_dir is not None and kw.get("kv_cache_dir") is None:
        kw["kv_cache_dir"] = Path(data_dir) / "kvcache"
    return load_torch_engine(path, **kw)


def _gguf(path, data_dir=None, **kw):
    from .gguf.engine import load_gguf_engine
    return load_gguf_engine(path, **kw)


def _openai(path, data_dir=None, **kw):
    from .remote.engine import load_openai_engine
    return load_openai_engine(path, **kw)


BACKENDS = {"torch": _torch, "gguf": _gguf, "openai": _openai}


def cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def pick_backend(path: str | os.PathLike | None) -> str:
    """ARCHITECTURE.md: torch on CUDA, else gguf if a GGUF is given, else torch on CPU."""
    p = str(path or "")
    if p.startswith(("http://", "https://")):
        return "openai"
    if p.lower().endswith(".gguf"):
        return "gguf"
    if cuda_available():
        return "torch"
    if Path(p).is_dir() and list(Path(p).glob("*.gguf")) and not (Path(p) / "config.json").exists():
        return "gguf"
    return "torch"


def load(path, backend: str = "auto", box_format: str | None = None, progress=None, **kw):
    """Load a model and return an Engine (see api.Engine) whose answers' box text becomes Box
    events (box_format: a name from engine.grounding.formats, default: from the model, or auto;
    each backend loads with it, to write a user's regions in the same box text).

    progress(done, total): bytes loaded so far, called from the loading thread, never going
    back, ending with done == total, by the backends that can tell (torch: safetensors shards
    read; gguf: the model file, then its mmproj); a remote server says nothing."""
    if progress is not None:  # passed only when asked for, as every optional setting is
        kw["progress"] = progress
    from .grounded import Grounded
    own = str(path) == OWN_MODEL
    if own:  # assembled from the shipped parts + the SmolLM2 GGUF on first use, then cached
        from .own.build import own_model_folder
        path, backend = own_model_folder(), "torch" if backend == "auto" else backend
    name = pick_backend(path) if backend == "auto" else backend
    if name not in BACKENDS:
        raise EngineError(f"Unknown backend {backend!r}; choose one of: auto, {', '.join(BACKENDS)}.")
    inner = BACKENDS[name](path, box_format=box_format or None, **kw)
    if own:
        # 192 px generated scenes: a page image is a picture of nothing it knows (it answered
        # document questions with "It is a rectangle."), so documents reach it as text only
        inner.info.name, inner.info.sees, inner.info.reads_pages = OWN_NAME, OWN_SEES, False
        from .own.build import base_gguf
        from .own.engine import OwnEngine
        inner = OwnEngine(inner, _gguf(base_gguf()))  # a chat without an image: the base decoder
    return Grounded(inner, inner.box_format, inner.emits_boxes)
