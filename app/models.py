"""The model picker's choices: the default model, everything under data_dir/models, and paths
the user typed. (Moves to engine.catalog.list_models once that lands.)"""
from __future__ import annotations

from pathlib import Path

from engine import catalog


def _is_model(p: Path) -> bool:
    return p.suffix.lower() == ".gguf" or (p.is_dir() and ((p / "config.json").exists()
                                                           or any(p.glob("*.gguf"))))


def model_choices(data_dir: Path, extra: list[str] = ()) -> list[str]:
    found = []
    default = catalog.default_model()
    if default is not None:
        found.append(str(default))
    models = data_dir / "models"
    if models.is_dir():
        found += [str(p) for p in sorted(models.iterdir())
                  if _is_model(p) and "mmproj" not in p.name.lower()]
    found += [str(e) for e in extra if e]
    return list(dict.fromkeys(found))  # keep order, drop repeats
