"""A server that stops sending in the middle of an answer (here: the real llama.cpp server
process frozen with SIGSTOP) ends the answer after --timeout with a clear message; the tokens that
arrived are kept."""
from __future__ import annotations

import os
import signal
import time

import pytest

from engine.api import GenParams, Message, Token
from engine.backends import load

pytestmark = pytest.mark.slow

TIMEOUT = 8.0  # generous: on a busy machine even a warm server can take seconds to its first token


def test_timeout_mid_stream_keeps_the_partial_answer(fresh_server):
    # A fresh server's first answer is slow to start on a busy machine (seen over 3 s in CI):
    # one short answer first, without the short timeout, so the timed one streams at once.
    warm = load(fresh_server.url, backend="openai")
    list(warm.stream([Message.user("Hi")], GenParams(max_new_tokens=2, temperature=0.0)))
    warm.close()
    engine = load(fresh_server.url, backend="openai", timeout=TIMEOUT)
    tokens, events, frozen_at = [], [], None
    try:
        for ev in engine.stream([Message.user("Write a long story about a dragon.")],
                                GenParams(max_new_tokens=400, temperature=0.0)):
            events.append(ev)
            if isinstance(ev, Token):
                tokens.append(ev.text)
                if len(tokens) == 3:
                    os.kill(fresh_server.pid, signal.SIGSTOP)
                    frozen_at = time.monotonic()
        assert frozen_at is not None, f"the answer ended after {len(tokens)} tokens: {events[-1]}"
        waited = time.monotonic() - frozen_at
    finally:
        os.kill(fresh_server.pid, signal.SIGCONT)  # so the fixture can stop it
        engine.close()
    done = events[-1]
    assert len(tokens) >= 3 and done.reason == "error", done
    assert "stopped sending mid-answer" in done.error and f"{TIMEOUT:g} s" in done.error
    assert "--timeout" in done.error and "partial answer is kept" in done.error
    assert fresh_server.url in done.error
    assert TIMEOUT - 0.5 < waited < TIMEOUT + 10, "the read timeout, not the end of the answer"
