"""Messages become OpenAI chat messages: images as base64 data URLs that decode to the same
pixels, regions as text, text-only messages as plain strings."""
from __future__ import annotations

import base64
import io

from PIL import Image as PILImage

import pytest

from engine.api import GenParams, Image, Message, Region, Text, collect
from engine.backends import load
from engine.remote.messages import PNG_LIMIT, to_openai
from engine.remote.params import request_options


def png_bytes(size=(40, 30), color=(10, 200, 30), mode="RGB") -> bytes:
    buf = io.BytesIO()
    PILImage.new(mode, size, color).save(buf, "PNG")
    return buf.getvalue()


def decode(url: str) -> PILImage.Image:
    header, data = url.split(",", 1)
    assert header in ("data:image/png;base64", "data:image/jpeg;base64")
    return PILImage.open(io.BytesIO(base64.b64decode(data)))


def test_text_only_messages_are_plain_strings():
    out, sizes = to_openai([Message("system", [Text("Be brief.")]), Message.user("Hi"),
                            Message.assistant("Hello!")])
    assert out == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
                   {"role": "assistant", "content": "Hello!"}]
    assert sizes == []


def test_images_go_as_data_urls_with_the_same_pixels(tmp_path):
    path = tmp_path / "a.png"
    path.write_bytes(png_bytes((40, 30), (10, 200, 30)))
    rgba = png_bytes((8, 8), (255, 0, 0, 128), mode="RGBA")
    out, sizes = to_openai([Message.user("Compare them.", [str(path), rgba])])
    parts = out[0]["content"]
    assert [p["type"] for p in parts] == ["image_url", "image_url", "text"]
    first, second = (decode(p["image_url"]["url"]) for p in parts[:2])
    assert first.size == (40, 30) and first.getpixel((5, 5)) == (10, 200, 30)
    assert second.mode == "RGB", "re-encoded as RGB, alpha dropped"
    assert sizes == [(40, 30), (8, 8)]
    assert parts[2] == {"type": "text", "text": "Compare them."}


@pytest.mark.slow
def test_large_images_fall_back_to_jpeg():
    noise = PILImage.effect_noise((2200, 2200), 120).convert("RGB")
    buf = io.BytesIO()
    noise.save(buf, "PNG")
    assert buf.tell() > PNG_LIMIT, "the test image must be past the PNG limit"
    out, _ = to_openai([Message.user("Noise?", [buf.getvalue()])])
    assert out[0]["content"][0]["image_url"]["url"].startswith("data:image/jpeg;base64,")


@pytest.mark.parametrize("fmt, written", [
    ("auto", "[region on image 1: x1=0.100, y1=0.200, x2=0.500, y2=0.750, normalized 0..1]"),
    ("qwen_vl", "<box>(100,200),(500,750)</box>"),
    ("shikra", "[0.100,0.275,0.500,0.688]"),            # 40x30 on a 40x40 square: 5 px above
    ("qwen2_5_vl", '{"bbox_2d": [8, 11, 42, 42]}'),    # 40x30 resized up to 84x56 (min pixels)
])
def test_regions_become_the_models_box_text_next_to_their_question(fmt, written):
    msg = Message("user", [Image(png_bytes()), Text("What is in "), Region(0, (0.1, 0.2, 0.5, 0.75)),
                           Text("?")])
    out, _ = to_openai([msg], fmt)
    assert out[0]["content"][1]["text"] == f"What is in {written}?"


@pytest.mark.slow
def test_load_hands_the_box_format_to_the_remote_engine(server):
    e = load(server.url, backend="openai", box_format="qwen_vl")
    try:
        assert e.inner.box_format == "qwen_vl"
        text, rest = collect(e.stream([Message("user", [Text("Repeat: "), Region(0, (0.1, 0.2, 0.5, 0.75))])],
                                      GenParams(max_new_tokens=4, temperature=0.0)))
    finally:
        e.close()
    assert rest[-1].reason in ("stop", "length"), rest


def test_sampling_options_beyond_openai():
    plain = request_options(GenParams(max_new_tokens=7, temperature=0.0, top_p=1.0,
                                      repetition_penalty=1.0))
    # 1.0 is sent too: left out, llama.cpp's server would apply its own 1.1
    assert plain == {"max_tokens": 7, "temperature": 0.0, "top_p": 1.0,
                     "extra_body": {"repetition_penalty": 1.0, "repeat_penalty": 1.0}}
    default = request_options(GenParams())  # repetition_penalty 1.1 by default, under both names
    assert default["extra_body"] == {"repetition_penalty": 1.1, "repeat_penalty": 1.1}
    full = request_options(GenParams(top_k=20, repetition_penalty=1.1, seed=3, stop=("###",)))
    assert full["seed"] == 3 and full["stop"] == ["###"]
    assert full["extra_body"] == {"top_k": 20, "repetition_penalty": 1.1, "repeat_penalty": 1.1}
