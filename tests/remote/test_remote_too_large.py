"""A request over a server's body limit (413) becomes a clear message, and the chat goes on.

The limit is a real reverse proxy's (checking_proxy.py, as nginx in front of a model server),
in front of the real llama.cpp server: llama-cpp-python's server has no body limit itself."""
from __future__ import annotations

import io

import pytest
from PIL import Image as PILImage

from engine.api import GenParams, Message, collect
from engine.backends import load
from checking_proxy import CheckingProxy, body_limit

pytestmark = pytest.mark.slow

LIMIT = 64 * 1024


@pytest.fixture
def proxy(server):
    p = CheckingProxy(server.url, body_limit(LIMIT))
    yield p
    p.stop()


def noise_png(side: int) -> bytes:
    buf = io.BytesIO()
    PILImage.effect_noise((side, side), 100).convert("RGB").save(buf, "PNG")
    return buf.getvalue()


def test_413_is_a_clear_message_and_the_next_small_request_answers(proxy):
    big = noise_png(400)
    assert len(big) > LIMIT, "the image alone must be over the proxy's limit"
    engine = load(proxy.url, backend="openai")
    try:
        text, rest = collect(engine.stream([Message.user("What is this?", [big])],
                                           GenParams(max_new_tokens=8, temperature=0)))
        assert text == "" and rest[-1].reason == "error"
        assert "too large" in rest[-1].error and "(413)" in rest[-1].error
        assert "fewer or smaller images" in rest[-1].error and proxy.url in rest[-1].error
        # the same server, through the same proxy, still answers what fits
        text, rest = collect(engine.stream([Message.user("Say hello.")],
                                           GenParams(max_new_tokens=8, temperature=0)))
        assert text and rest[-1].reason in ("stop", "length"), rest
    finally:
        engine.close()
