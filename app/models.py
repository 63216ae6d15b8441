"""The model picker's choices: engine.catalog's list (the default model, everything under
data_dir/models, paths the user typed), as (label, path) pairs for the dropdown."""
from __future__ import annotations

from pathlib import Path

from engine import catalog


def model_choices(data_dir, extra: list[str] = ()) -> list[tuple[str, str]]:
    entries = catalog.list_models([e for e in extra if e], models_dir=Path(data_dir) / "models")
    return [(f"{e.name} ({e.backend}{', sees images' if e.vision else ''})", e.path) for e in entries]
