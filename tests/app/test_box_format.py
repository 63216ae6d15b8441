"""The box format a model writes can be set by hand (`--box-format`, the Model panel's dropdown)
for a model whose config and name do not say it; the status panel says where boxes come from."""
from __future__ import annotations

import pytest

from app_testfiles import client, start_app, wait_until
from app.status import status_html

pytestmark = pytest.mark.slow


def test_box_format_from_the_command_line_and_from_the_panel(tmp_path, tiny_model):
    demo, app = start_app(tmp_path, tiny_model, box_format="kosmos2")
    try:
        assert app.slot.state == "ready", app.slot.error
        assert app.slot.engine.box_format == "kosmos2"
        assert "kosmos2 box text" in status_html(app.slot)

        c = client(demo)
        c.predict(str(tiny_model), "torch", "full", "none", "florence2", api_name="/load_model")
        assert wait_until(lambda: app.slot.state == "ready" and app.slot.engine.box_format == "florence2",
                          timeout=120), app.slot.error
        assert "florence2 box text" in c.predict(api_name="/status")

        # Back to what the model says: the tiny checkpoint names no format, so any is read.
        c.predict(str(tiny_model), "torch", "full", "none", "from the model", api_name="/load_model")
        assert wait_until(lambda: app.slot.state == "ready" and app.slot.engine.box_format == "auto",
                          timeout=120), app.slot.error
        assert "any known box text (auto)" in c.predict(api_name="/status")
    finally:
        demo.close()
        app.store.close()
