"""The boxes panel: an answer's stored Box events drawn on the image they belong to (given boxes,
until the grounding engine sends real ones), and the app never importing torch."""
import subprocess
import sys

import pytest

from app.chat_app import ChatApp, Settings
from app.draw import DARK, PALETTE
from app_testfiles import ROOT


def test_last_answers_boxes_are_drawn_on_their_image(tmp_path, pictures):
    app = ChatApp(Settings(data_dir=tmp_path))
    chat = app.store.new_chat()
    red = app.blobs.put(pictures["red"].read_bytes(), ".png")
    blue = app.blobs.put(pictures["blue"].read_bytes(), ".jpg")
    q = app.store.add(chat, None, "user", "where?", [red, blue])
    boxes = [{"ref": 0, "image_index": 1, "x1": 0.1, "y1": 0.1, "x2": 0.9, "y2": 0.9},
             {"ref": 1, "image_index": 0, "x1": 0.5, "y1": 0.5, "x2": 1.0, "y2": 1.0}]
    app.store.add(chat, q, "assistant", "Here [0] and there [1].", meta={"boxes": boxes})

    choices, pick = app.image_choices(chat)
    assert choices == [("image 1", 0), ("image 2", 1)] and pick == 1  # the first box's image
    drawn = app.boxed_image(chat, 1)
    assert drawn.size == (40, 40)
    assert drawn.getpixel((4, 20)) == DARK  # the box edge at x = 0.1 * 39
    assert max(abs(a - b) for a, b in zip(drawn.getpixel((20, 20)), (30, 30, 200))) < 4  # inside: the JPEG
    assert PALETTE[0] in {c for _, c in drawn.getcolors(10000)}
    assert PALETTE[1] not in {c for _, c in drawn.getcolors(10000)}  # box [1] is on image 1
    plain = app.boxed_image(chat, 0)
    assert PALETTE[1] in {c for _, c in plain.getcolors(10000)}
    assert app.boxed_image(chat, 5) is None


@pytest.mark.slow
def test_app_never_imports_torch_or_llama_cpp():
    code = ("import sys, app.cli, app.ui, app.chat_app; "
            "bad = [m for m in ('torch', 'llama_cpp', 'transformers') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
