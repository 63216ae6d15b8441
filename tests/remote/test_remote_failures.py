"""What real servers and networks do wrong becomes a clear message; partial answers are kept."""
from __future__ import annotations

import pytest

from remote_servers import API_KEY, free_port
from engine.api import EngineError, GenParams, Message, Token, collect
from engine.backends import load

LONG = GenParams(max_new_tokens=400, temperature=0.0)


@pytest.mark.slow
def test_server_killed_mid_stream_keeps_the_partial_answer(fresh_server):
    engine = load(fresh_server.url, backend="openai")
    tokens, events = [], []
    for ev in engine.stream([Message.user("Write a long story about a dragon.")], LONG):
        events.append(ev)
        if isinstance(ev, Token):
            tokens.append(ev.text)
            if len(tokens) == 5:
                fresh_server.kill()
    engine.close()
    done = events[-1]
    assert len(tokens) >= 5 and done.reason == "error"
    assert "lost mid-answer" in done.error and "partial answer is kept" in done.error
    assert fresh_server.url in done.error


def test_wrong_port_is_refused_at_load():
    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(EngineError, match=r"Cannot reach the server at .*refused"):
        load(url, backend="openai")


@pytest.mark.slow
def test_wrong_model_name_lists_what_the_server_has(server):
    with pytest.raises(EngineError, match=r"no model 'llava-7b'; it serves: .*SmolLM2") as e:
        load(server.url, backend="openai", model="llava-7b")
    assert "--model" in str(e.value)


@pytest.mark.slow
def test_base_url_without_v1_says_so(server):
    with pytest.raises(EngineError, match=r"404.*/v1"):
        load(server.url.removesuffix("/v1"), backend="openai")


def test_not_a_url_is_refused():
    with pytest.raises(EngineError, match="not a server URL"):
        load("127.0.0.1:8000", backend="openai")


def test_hung_server_times_out_clearly(silent_port):
    with pytest.raises(EngineError, match=r"did not answer within 0.5 s"):
        load(f"http://127.0.0.1:{silent_port}/v1", backend="openai", timeout=0.5)


@pytest.mark.slow
def test_wrong_api_key_is_401(keyed_server):
    with pytest.raises(EngineError, match=r"refused the API key \(401\).*--api-key"):
        load(keyed_server.url, backend="openai", api_key="wrong-key")


@pytest.mark.slow
def test_missing_api_key_is_401(keyed_server):
    with pytest.raises(EngineError, match=r"401"):
        load(keyed_server.url, backend="openai")


@pytest.mark.slow
def test_openai_api_key_from_the_environment_is_never_sent(keyed_server, monkeypatch):
    # A user's real OpenAI key must not leak to whatever server this is.
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    with pytest.raises(EngineError, match=r"401"):
        load(keyed_server.url, backend="openai")


@pytest.mark.slow
@pytest.mark.parametrize("via_env", [False, True])
def test_right_api_key_streams_and_is_not_kept_in_info(keyed_server, monkeypatch, via_env):
    if via_env:
        monkeypatch.setenv("VLCHAT_API_KEY", API_KEY)
    engine = load(keyed_server.url, backend="openai", api_key=None if via_env else API_KEY)
    text, rest = collect(engine.stream([Message.user("Say hello.")], GenParams(max_new_tokens=8)))
    engine.close()
    assert text and rest[-1].reason in ("stop", "length"), rest
    assert API_KEY not in repr(engine.info) and API_KEY not in repr(engine)


@pytest.mark.slow
def test_image_to_a_text_only_server_says_so(server, tmp_path):
    from PIL import Image as PILImage
    path = tmp_path / "red.png"
    PILImage.new("RGB", (64, 48), (200, 10, 10)).save(path)
    engine = load(server.url, backend="openai")
    text, rest = collect(engine.stream([Message.user("What colour is this?", [str(path)])],
                                       GenParams(max_new_tokens=8)))
    assert text == "" and rest[-1].reason == "error"
    assert "text-only" in rest[-1].error and "(500)" in rest[-1].error
    text, rest = collect(engine.stream([Message.user("Say hello.")], GenParams(max_new_tokens=8)))
    engine.close()
    assert text, f"the engine goes on after the error: {rest}"


@pytest.mark.slow
def test_unreadable_image_fails_before_any_request(server):
    engine = load(server.url, backend="openai")
    text, rest = collect(engine.stream([Message.user("What is this?", [b"not an image"])],
                                       GenParams(max_new_tokens=8)))
    engine.close()
    assert text == "" and rest[-1].reason == "error" and "not an image" in rest[-1].error
