"""Fixtures for the app tests: a tiny random LLaVA checkpoint (made by the engine's own
make-tiny, nothing downloaded), images made here, and the app served for real on 127.0.0.1."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image

from app_testfiles import start_app

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"


@pytest.fixture(scope="session")
def tiny_model(tiny_llava) -> Path:
    """The project's shared tiny LLaVA checkpoint (tests/conftest.py, made by make-tiny)."""
    return Path(tiny_llava)


@pytest.fixture(scope="session")
def pictures(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("images")
    red = d / "red.png"
    Image.new("RGB", (64, 48), (200, 30, 30)).save(red)
    blue = d / "blue.jpg"
    Image.new("RGB", (40, 40), (30, 30, 200)).save(blue)
    return {"red": red, "blue": blue}


@pytest.fixture(scope="module")
def served(tmp_path_factory, tiny_model):
    demo, app = start_app(tmp_path_factory.mktemp("data"), tiny_model, max_image_mb=0.05,
                          max_image_megapixels=1, max_tokens=48)
    assert app.slot.state == "ready", app.slot.error
    yield demo, app
    demo.close()
    app.store.close()


