"""Session fixtures shared by every test area: tiny checkpoints written by the project itself."""
from __future__ import annotations

import os
import tempfile

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
# Nothing a test does may touch the user's real data dir (chats, kv cache).
os.environ.setdefault("VLCHAT_DATA_DIR", tempfile.mkdtemp(prefix="vlchat-test-"))


@pytest.fixture(scope="session")
def make_tiny_ckpt(tmp_path_factory):
    """make_tiny_ckpt(**kw) -> folder; one folder per distinct kwargs for the whole session."""
    from engine.llava.tiny import make_tiny
    made = {}

    def make(**kw):
        key = repr(sorted(kw.items()))
        if key not in made:
            made[key] = make_tiny(tmp_path_factory.mktemp("tiny"), **kw)
        return made[key]
    return make


@pytest.fixture(scope="session")
def tiny_llava(make_tiny_ckpt):
    """The default tiny checkpoint: Llama decoder (GQA 4:2) + CLIP tower, 16 visual tokens."""
    return make_tiny_ckpt()


@pytest.fixture(scope="session")
def images(tmp_path_factory):
    """Two real PNG files of different sizes and colours."""
    from PIL import Image, ImageDraw
    d = tmp_path_factory.mktemp("img")
    paths = []
    for i, (size, colour) in enumerate([((80, 50), (200, 30, 30)), ((40, 90), (20, 160, 220))]):
        im = Image.new("RGB", size, colour)
        ImageDraw.Draw(im).rectangle([5, 5, size[0] // 2, size[1] // 2], fill=(250, 250, 250))
        im.save(d / f"im{i}.png")
        paths.append(str(d / f"im{i}.png"))
    return paths


@pytest.fixture
def float32_default(monkeypatch):
    """The torch engine's CPU default back to float32 for one test: logit-for-logit parity (with
    transformers, between cache paths, with training) is measured in float32, as transformers' own
    tests do; bf16 against float32 is tests/engine/test_cpu_precision.py's and test_cpu_own_model's."""
    from engine.llava import cpu
    monkeypatch.setattr(cpu, "BF16_DEFAULT_ON_CPU", False)


@pytest.fixture
def load_engine():
    """engine.load for one test: every engine it loads is closed when the test ends (a torch
    engine holds its weights and caches until closed)."""
    import engine
    loaded = []

    def load(*args, **kw):
        loaded.append(engine.load(*args, **kw))
        return loaded[-1]
    yield load
    for e in loaded:
        e.close()
