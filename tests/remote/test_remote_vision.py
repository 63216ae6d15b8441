"""An image reaching a vision model through a real server: the tiny LLaVA exported to GGUF +
mmproj and served by llama.cpp. Its weights are random, so what is checked is the path (the image
is sent, the server encodes it into the prompt, an answer streams), not the words."""
from __future__ import annotations

import openai
import pytest

from engine.api import Done, GenParams, Message, Stats, Token
from engine.backends import load
from engine.grounded import Grounded
from engine.grounding.formats import format_for_model
from engine.remote.messages import to_openai
from remote_servers import VISION_ALIAS

pytestmark = pytest.mark.slow

GREEDY = GenParams(max_new_tokens=6, temperature=0)


def test_an_image_streams_an_answer_from_a_served_vision_model(vision_server, images):
    engine = load(vision_server.url, backend="openai")
    try:
        events = list(engine.stream([Message.user("What is in the image?", [images[0]])], GREEDY))
    finally:
        engine.close()
    assert sum(isinstance(e, Token) for e in events) >= 1
    assert isinstance(events[-2], Stats) and isinstance(events[-1], Done)
    assert events[-1].reason in ("stop", "length"), events[-1]


def test_the_server_counts_the_image_tokens(vision_server, images):
    """The messages our backend sends, with no image, one and two: the server's own prompt count
    grows by 16 visual positions per image (56 px / 14 px patches, squared). (No image vs one is
    not exactly 16: llama.cpp's LLaVA-1.5 handler words a text-only prompt differently.)"""
    client = openai.OpenAI(base_url=vision_server.url, api_key="none", max_retries=0)
    try:
        counts = [client.chat.completions.create(
            model=VISION_ALIAS, messages=to_openai([Message.user("What is in the image?", shown)])[0],
            max_tokens=1, temperature=0).usage.prompt_tokens
            for shown in ([], images[:1], images[:2])]
    finally:
        client.close()
    assert counts[0] < counts[1] and counts[2] - counts[1] == 16, counts


def test_load_wraps_the_engine_in_the_box_parser_chosen_by_the_served_name(vision_server, server):
    vision = load(vision_server.url, backend="openai")
    plain = load(server.url, backend="openai")
    try:
        assert isinstance(vision, Grounded) and vision.info.name == VISION_ALIAS
        assert vision.box_format == format_for_model(VISION_ALIAS) == "qwen_vl"
        assert vision.info.grounding is True, "a known box format means the answers can ground"
        assert isinstance(plain, Grounded) and plain.box_format == "auto"
        assert plain.info.grounding is False
    finally:
        vision.close()
        plain.close()
