"""A Qwen3-VL GGUF (named so, as a pull from ggml-org leaves it) loads with the qwen3_vl box format,
and its answer's boxes (0..1000 of the image) land on the right pixels of a wide image. The tiny
model's weights are random, so its answer is scripted; the load, the box parser the engine was
given and the drawing are the real ones."""
from __future__ import annotations

import shutil

from PIL import Image, ImageDraw

from app.draw import DARK, PALETTE, draw_boxes
from engine import Box, Done, GenParams, Message, Token, load

ANSWER = '```json\n[\n\t{"bbox_2d": [250, 100, 750, 600], "label": "red block"}\n]\n```'
RED = (220, 20, 20)


def test_a_qwen3_vl_answers_boxes_land_on_the_right_pixels(exported, tmp_path):
    lm, proj = exported("f16")
    folder = tmp_path / "ggml-org--Qwen3-VL-2B-Instruct-GGUF"
    folder.mkdir()
    model = shutil.copy(lm, folder / "Qwen3-VL-2B-Instruct-F16.gguf")
    shutil.copy(proj, folder / "mmproj-Qwen3-VL-2B-Instruct-F16.gguf")
    picture = tmp_path / "wide.png"   # 640x360: the red block is x 160..479, y 36..215
    im = Image.new("RGB", (640, 360), (240, 240, 240))
    ImageDraw.Draw(im).rectangle([160, 36, 479, 215], fill=RED)
    im.save(picture)

    engine = load(model, backend="gguf", threads=1)
    try:
        assert engine.box_format == "qwen3_vl" and engine.info.grounding
        pieces = [ANSWER[i:i + 5] for i in range(0, len(ANSWER), 5)]   # as tokens stream
        engine.inner.stream = lambda messages, params=None, cancel=None: iter([*map(Token, pieces), Done("stop")])
        events = list(engine.stream([Message.user("Where is the red block?", [str(picture)])], GenParams()))
    finally:
        engine.close()
    box, = [e for e in events if isinstance(e, Box)]
    assert (box.x1, box.y1, box.x2, box.y2) == (0.25, 0.1, 0.75, 0.6)
    assert "".join(e.text for e in events if isinstance(e, Token)) == "```json\n[\n\tred block [0]\n]\n```"
    drawn = draw_boxes(im, [box])
    y = 126                                    # halfway down the block
    assert drawn.getpixel((160, y)) == DARK and drawn.getpixel((479, y)) == DARK   # on its left and right edges
    assert drawn.getpixel((158, y)) == PALETTE[0]                                   # box 0's colour just outside
    assert drawn.getpixel((163, y)) == RED and drawn.getpixel((476, y)) == RED     # inside: the block itself
    assert drawn.getpixel((320, 36)) == DARK and drawn.getpixel((320, 215)) == DARK  # top and bottom edges
