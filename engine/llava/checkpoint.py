"""Read checkpoint weights: safetensors only (never pickle), with Hugging Face key layouts
(legacy `language_model.model.*`, transformers-5 `model.language_model.*`, text-only `model.*`)
mapped onto this engine's module names."""
from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import safe_open

from ..api import EngineError

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".ckpt")

# Ordered: the first matching prefix wins.
PREFIXES = [
    ("model.image_newline", "image_newline"), ("image_newline", "image_newline"),  # LLaVA-NeXT
    ("model.loc_encoder.", "grounding.loc_encoder."), ("model.loc_decoder.", "grounding.loc_decoder."),
    ("loc_encoder.", "grounding.loc_encoder."), ("loc_decoder.", "grounding.loc_decoder."),
    ("point_q.", "grounding.point_q."), ("patch_box.", "grounding.patch_box."),  # the own model's pointer
    ("region_read.", "grounding.region_read."),  # and its region reading
    ("null_", "grounding.null_"),  # and its null
    ("loc_waves.", "grounding.loc_waves."),  # and its box centres' waves
    ("model.vision_tower.vision_model.", "vision."), ("model.vision_tower.", "vision."),
    ("vision_tower.vision_model.", "vision."), ("vision_tower.", "vision."),
    ("model.multi_modal_projector.", "projector."), ("multi_modal_projector.", "projector."),
    ("language_model.model.", "decoder."), ("language_model.lm_head.", "lm_head."),
    ("model.language_model.", "decoder."), ("model.", "decoder."), ("lm_head.", "lm_head."),
]


def canonical(key: str) -> str:
    for old, new in PREFIXES:
        if key.startswith(old):
            return new + key[len(old):]
    return key


def safetensors_files(folder: str | Path) -> list[Path]:
    folder = Path(folder)
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        names = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        files = [folder / n for n in names]
    else:
        files = sorted(folder.glob("*.safetensors"))
    if not files:
        pickles = [p.name for p in folder.iterdir() if p.suffix in PICKLE_SUFFIXES] if folder.is_dir() else []
        if pickles:
            raise EngineError(
                f"{folder} holds only pickle weights ({', '.join(pickles[:3])}). Pickle files can run "
                "arbitrary code when loaded, so they are never read here. Convert the checkpoint to "
                "safetensors (transformers: model.save_pretrained(dir, safe_serialization=True)).")
        raise EngineError(f"{folder} holds no *.safetensors weights.")
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        raise EngineError(f"{folder}: weight shards are missing: {', '.join(missing)}.")
    return files


def read_weights(folder: str | Path, dtype=None, progress=None, float32: tuple[str, ...] = ()) -> dict:
    """All tensors, keyed by canonical name, optionally cast to dtype (float tensors only); those
    whose name starts with one of `float32` are read as float32 instead.
    progress(done, total): bytes of the shards read so far, of their total size on disk; called
    after each tensor, so a multi-GB checkpoint shows real progress while it loads."""
    files = safetensors_files(folder)
    sizes = [f.stat().st_size for f in files]
    total, start = sum(sizes), 0
    report = progress or (lambda *_: None)
    report(0, total)
    out = {}
    for f, size in zip(files, sizes):
        done = start
        for key, t in _tensors(f):
            done += t.nbytes  # as stored: counted before the cast to dtype
            name = canonical(key)
            to = torch.float32 if float32 and name.startswith(float32) else dtype
            out[name] = t.to(to) if to is not None and t.is_floating_point() else t
            report(done, total)
        start += size
        report(start, total)  # the shard's header counts once the whole shard is read
    return out


def _tensors(f: Path):
    """(key, tensor) of one shard. Only safetensors' own errors are blamed on the file, not
    those of the caller's loop (a progress callback's, say)."""
    try:
        with safe_open(str(f), framework="pt") as st:
            for key in st.keys():
                yield key, st.get_tensor(key)
    except Exception as e:  # safetensors raises several types for a damaged header or body
        raise EngineError(f"{f.name} is not a readable safetensors file ({e}).") from None


def fingerprint(folder: str | Path, sample: int = 1 << 16) -> str:
    """Identifies a checkpoint's weights cheaply: config, shard sizes and headers, and three
    sampled blocks of each shard (two fine-tunes of one shape differ there, almost surely)."""
    import hashlib
    h = hashlib.sha256()
    folder = Path(folder)
    h.update((folder / "config.json").read_bytes())
    for f in safetensors_files(folder):
        size = f.stat().st_size
        h.update(f"{f.name}:{size}".encode())
        with open(f, "rb") as fh:
            for at in (0, size // 2, max(0, size - sample)):
                fh.seek(at)
                h.update(fh.read(sample))
    return h.hexdigest()
