"""A server as strict as api.openai.com about request fields (checking_proxy.openai_fields: its 400
in its own words, in front of the real llama.cpp server) refuses top_k and the repetition
penalty. The answer still comes, sampled without them, and says so; later answers do not ask
again. Servers that take the fields (vLLM, SGLang, llama.cpp) still get them."""
from __future__ import annotations

import json

import pytest

from checking_proxy import CheckingProxy, openai_fields
from engine.api import GenParams, Message, collect
from engine.backends import load

pytestmark = pytest.mark.slow

QUESTION = [Message.user("What is the capital of France?")]


@pytest.fixture
def strict_proxy(server):
    p = CheckingProxy(server.url, openai_fields)
    yield p
    p.stop()


def test_a_strict_server_answers_without_the_fields_it_refuses(strict_proxy):
    engine = load(strict_proxy.url, backend="openai")
    try:
        params = GenParams(max_new_tokens=8, temperature=0, top_k=40)
        text, rest = collect(engine.stream(QUESTION, params))
        done = rest[-1]
        assert done.reason in ("stop", "length") and text.strip(), done
        assert any("does not take" in n and "top_k" in n and "repetition_penalty" in n
                   for n in done.notes), done.notes
        assert any("does not take" in n for n in engine.info.notes)

        bodies = [json.loads(b) for b in strict_proxy.httpd.bodies]
        assert "top_k" in bodies[0] and "repetition_penalty" in bodies[0], "first ask as usual"
        assert not {"top_k", "repetition_penalty", "repeat_penalty"} & set(bodies[1])

        text2, rest2 = collect(engine.stream(QUESTION, params))
        assert text2 == text and rest2[-1].notes == (), "greedy: same answer, asked once"
        assert len(strict_proxy.httpd.bodies) == 3
        assert "top_k" not in json.loads(strict_proxy.httpd.bodies[-1])
    finally:
        engine.close()


def test_a_refusal_about_something_else_is_not_retried(server):
    """A 400 that names none of the extra fields is the server's answer, reported as it is."""
    error = {"error": {"message": "Invalid 'messages[0].content': string too long.",
                       "type": "invalid_request_error", "param": "messages", "code": None}}
    proxy = CheckingProxy(server.url, lambda body: (400, "application/json", json.dumps(error).encode()))
    engine = load(proxy.url, backend="openai")
    try:
        _, rest = collect(engine.stream(QUESTION, GenParams(max_new_tokens=8, temperature=0)))
    finally:
        engine.close()
        proxy.stop()
    done = rest[-1]
    assert done.reason == "error" and "string too long" in done.error and done.notes == ()
    assert len(proxy.httpd.bodies) == 1, "asked once: not again without the extra fields"
