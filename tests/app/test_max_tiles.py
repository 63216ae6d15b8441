"""LLaVA-NeXT's tiles per image can be capped (`--max-tiles`, the Model panel's dropdown), and the
status says how many visual tokens the last question's images took."""
from __future__ import annotations

import pytest
from PIL import Image

from app_testfiles import ask, client, start_app, status_rows, wait_until
from app.status import status_html
from engine.llava.tiny import v16_pinpoints

pytestmark = pytest.mark.slow


def visual_tokens_after_a_question(tmp_path, slot, image) -> str:
    tmp_path.mkdir()
    _, answer = ask(tmp_path, slot, images=[image], max_tokens=2)
    answer.join(timeout=60)
    return status_rows(status_html(slot))["images"]


def test_tiles_from_the_command_line_and_from_the_panel(tmp_path, make_tiny_ckpt):
    # llava-v1.6's grids scaled to 28 px tiles of 2x2 patches: the same choices, few tokens.
    folder = make_tiny_ckpt(image_size=28, pinpoints=v16_pinpoints(28))
    image = tmp_path / "wide.png"
    Image.new("RGB", (100, 75), (200, 120, 30)).save(image)
    demo, app = start_app(tmp_path / "data", folder, max_tiles="2")
    try:
        assert app.slot.state == "ready", app.slot.error
        assert any("at most 2 tiles" in n for n in app.slot.info.notes)
        # 1x2 tiles of 2x2 patches: a 2x4 grid, unpadded to 2x2 (a 4:3 image), a newline per row,
        # after the base view's 4
        assert visual_tokens_after_a_question(tmp_path / "q1", app.slot, image) == "10 visual tokens"

        c = client(demo)
        c.predict(str(folder), "torch", "full", "none", "from the model", "base", api_name="/load_model")
        assert wait_until(lambda: app.slot.state == "ready" and app.slot.spec.max_tiles == "base",
                          timeout=120), app.slot.error
        assert visual_tokens_after_a_question(tmp_path / "q2", app.slot, image) == "5 visual tokens"
    finally:
        demo.close()
        app.store.close()
