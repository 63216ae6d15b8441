"""Fixtures for the app tests: a tiny random LLaVA checkpoint (made by the engine's own
make-tiny, nothing downloaded), images made here, and the app served for real on 127.0.0.1."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image

from app_testfiles import PADDED_BOX, served_box_head, start_app

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


@pytest.fixture(scope="session")
def served(tmp_path_factory, tiny_model):
    """The app on the tiny model, served once for every module: tests that use it each open a
    chat of their own (a fresh gradio_client session) and restore anything else they change."""
    demo, app = start_app(tmp_path_factory.mktemp("data"), tiny_model, max_image_mb=0.05,
                          max_image_megapixels=1, max_tokens=48)
    assert app.slot.state == "ready", app.slot.error
    yield demo, app
    demo.close()
    app.store.close()


@pytest.fixture(scope="session")
def grounded(tmp_path_factory, make_tiny_ckpt):
    """The app on a box-head model that always answers PADDED_BOX, shared like `served`."""
    yield from served_box_head(tmp_path_factory, make_tiny_ckpt, 5, PADDED_BOX)


@pytest.fixture(scope="session")
def wide(tmp_path_factory):
    """80x50, dark with a white square: boxes must read on both."""
    from PIL import ImageDraw
    path = tmp_path_factory.mktemp("g") / "wide.png"
    im = Image.new("RGB", (80, 50), (20, 20, 30))
    ImageDraw.Draw(im).rectangle([30, 15, 60, 40], fill=(250, 250, 250))
    im.save(path)
    return path


@pytest.fixture(scope="module")
def slot(tiny_model):
    """A model slot with the tiny model loaded, without the page."""
    from app.model_slot import ModelSlot, ModelSpec
    s = ModelSlot()
    s.load(ModelSpec(str(tiny_model), backend="torch"))
    assert s.wait(timeout=120) and s.state == "ready", s.error
    yield s
    s.engine.close()
