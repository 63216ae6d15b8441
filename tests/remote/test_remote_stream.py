"""Streaming against a real llama.cpp server: answers, turns, stop, stats."""
from __future__ import annotations

import threading

import httpx
import pytest

from engine.api import Done, GenParams, Message, Stats, Text, Token, collect
from engine.backends import load

pytestmark = pytest.mark.slow

GREEDY = GenParams(max_new_tokens=40, temperature=0.0)


def events_of(engine, messages, params=GREEDY, cancel=None):
    return list(engine.stream(messages, params, cancel))


def test_streams_an_answer_with_measured_stats(server):
    engine = load(server.url, backend="openai", attention="composite")
    try:
        events = events_of(engine, [Message.user("What is the capital of France?")])
    finally:
        engine.close()
    tokens = [e for e in events if isinstance(e, Token)]
    stats, done = events[-2], events[-1]
    assert len(tokens) > 3, "the answer should arrive as many streamed tokens"
    assert "Paris" in "".join(t.text for t in tokens)
    assert isinstance(stats, Stats) and isinstance(done, Done) and done.reason in ("stop", "length")
    assert stats.prefill_ms > 0 and stats.decode_tokens_per_s > 0
    assert stats.generated_tokens == len(tokens)  # this server sends one token per chunk
    assert stats.extra["finish_reason"] == done.reason
    info = engine.info
    assert info.backend == "openai" and info.name.endswith(".gguf") and info.vision
    assert any("attention" in n for n in info.notes), "ignored kwargs are noted"


def test_first_listed_model_or_the_named_one(server):
    served = httpx.get(f"{server.url}/models").json()["data"][0]["id"]
    engine = load(server.url, backend="openai", model=served)
    assert engine.info.name == served
    engine.close()


def test_multi_turn_sends_the_history(server):
    engine = load(server.url, backend="openai")
    question = Message.user("What is the secret word?")
    history = [Message("system", [Text("You are a helpful assistant.")]),
               Message.user("The secret word is banana."),
               Message.assistant("Understood, the secret word is banana.")]
    with_history, rest = collect(engine.stream(history + [question], GREEDY))
    alone, _ = collect(engine.stream([question], GREEDY))
    engine.close()
    assert rest[-1].reason in ("stop", "length")
    assert "banana" in with_history.lower()
    assert "banana" not in alone.lower(), "control: without the history the model cannot know it"


def test_stop_mid_stream_keeps_tokens_and_server_stays_usable(server):
    engine = load(server.url, backend="openai")
    cancel, seen = threading.Event(), []
    for ev in engine.stream([Message.user("Write a long story about a dragon.")],
                            GenParams(max_new_tokens=300, temperature=0.0), cancel):
        seen.append(ev)
        if isinstance(ev, Token) and len(seen) == 3:
            cancel.set()
    assert [type(e) for e in seen] == [Token, Token, Token, Stats, Done]
    assert seen[-1] == Done("cancelled")
    text, rest = collect(engine.stream([Message.user("Say hello.")], GREEDY))
    engine.close()
    assert text and rest[-1].reason in ("stop", "length"), rest


def test_cancel_before_the_first_token(server):
    engine = load(server.url, backend="openai")
    cancel = threading.Event()
    cancel.set()
    events = events_of(engine, [Message.user("Hello")], cancel=cancel)
    engine.close()
    assert not any(isinstance(e, Token) for e in events) and events[-1] == Done("cancelled")


def test_prompt_too_long_is_a_clear_error_and_engine_goes_on(server):
    engine = load(server.url, backend="openai")
    text, rest = collect(engine.stream([Message.user("word " * 4000)], GREEDY))
    assert text == "" and rest[-1].reason == "error"
    assert "maximum context length is 2048" in rest[-1].error  # the server's own words
    text, rest = collect(engine.stream([Message.user("Say hello.")], GREEDY))
    engine.close()
    assert text and rest[-1].reason in ("stop", "length"), rest


def test_sampling_params_reach_the_server(server):
    engine = load(server.url, backend="openai")
    ask = [Message.user("Tell me about cats.")]
    seeded = GenParams(max_new_tokens=16, temperature=1.0, top_k=40, repetition_penalty=1.1, seed=7)
    first, _ = collect(engine.stream(ask, seeded))
    again, _ = collect(engine.stream(ask, seeded))
    stopped, rest = collect(engine.stream(ask, GenParams(max_new_tokens=60, temperature=0.0,
                                                         stop=(".",))))
    short, rest_short = collect(engine.stream(ask, GenParams(max_new_tokens=3, temperature=0.0)))
    engine.close()
    assert first == again, "same seed, same answer"
    assert stopped and "." not in stopped and rest[-1].reason == "stop", (stopped, rest)
    assert rest_short[-1].reason == "length" and rest_short[-2].generated_tokens == 3
