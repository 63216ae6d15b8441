"""A page opened after another model was loaded shows that model in the Model panel (path,
backend, attention, box format), not the one the app started with."""
from __future__ import annotations

import shutil

import pytest

from app_testfiles import chromium_page, client, start_app, wait_until

pytestmark = pytest.mark.slow


def test_a_new_page_shows_the_model_loaded_now(tmp_path, tiny_model):
    second = tmp_path / "second-model"
    shutil.copytree(tiny_model, second)
    demo, app = start_app(tmp_path / "data", tiny_model)
    try:
        client(demo).predict(str(second), "torch", "composite", "none", "florence2", api_name="/load_model")
        assert wait_until(lambda: app.slot.state == "ready" and app.slot.engine.box_format == "florence2",
                          timeout=120), app.slot.error
        with chromium_page(tmp_path) as page:
            page.goto(demo.local_url)
            composite = page.get_by_label("composite", exact=True)
            composite.wait_for(timeout=30_000)
            assert wait_until(lambda: composite.is_checked(), timeout=10)
            assert page.get_by_label("torch", exact=True).is_checked()
            assert wait_until(lambda: page.locator("#box-format input").input_value() == "florence2", timeout=10)
            shown = page.locator("#model-path input").input_value()  # the choice's label
            assert shown.startswith("second-model") and tiny_model.name not in shown
    finally:
        demo.close()
        app.store.close()
