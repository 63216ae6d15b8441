"""A hub-compatible server on 127.0.0.1 serving the tiny LLaVA (transformers layout) and its GGUF
export (two quants + mmproj), with huggingface_hub pointed at it and nowhere else."""
from __future__ import annotations

from pathlib import Path

import pytest

from hub_server import GGUF_REPO, TORCH_REPO, FakeHub, Repo, gguf_repo_files, point_client_at


@pytest.fixture(scope="session")
def gguf_files(tiny_llava, tmp_path_factory) -> dict[str, bytes]:
    return gguf_repo_files(Path(tiny_llava), tmp_path_factory.mktemp("gguf-repo"))


@pytest.fixture
def hub(tiny_llava, gguf_files, monkeypatch):
    h = FakeHub({TORCH_REPO: Repo.from_folder(Path(tiny_llava)), GGUF_REPO: Repo(dict(gguf_files)),
                 "tests/gated": Repo.from_folder(Path(tiny_llava), token="secret-token")}).start()
    point_client_at(h, monkeypatch)
    yield h
    h.stop()


@pytest.fixture
def models_dir(tmp_path) -> Path:
    return tmp_path / "models"
