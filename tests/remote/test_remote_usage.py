"""Server-side token counts: asked for in every stream; where the server sends none (llama-cpp-
python's server does not, even when asked), the prompt's size is reported as unknown, not 0."""
from __future__ import annotations

import json

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionChunk

from engine.api import GenParams, Message, Stats, Token
from engine.backends import load
from engine.remote.engine import _Run
from checking_proxy import CheckingProxy

pytestmark = pytest.mark.slow

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture
def recording_proxy(server):
    p = CheckingProxy(server.url, lambda body: None)
    yield p
    p.stop()


def test_usage_is_asked_for_and_its_absence_is_reported_as_unknown(server, recording_proxy):
    # What the real server does: a stream asked for usage still carries none.
    with httpx.stream("POST", f"{server.url}/chat/completions", timeout=60, json={
            "messages": QUESTION, "max_tokens": 4, "stream": True,
            "stream_options": {"include_usage": True}}) as r:
        chunks = [json.loads(line[6:]) for line in r.iter_lines() if line.startswith("data: {")]
    assert chunks and not any(c.get("usage") for c in chunks)

    engine = load(recording_proxy.url, backend="openai")
    try:
        events = list(engine.stream([Message.user("What is the capital of France?")],
                                    GenParams(max_new_tokens=8, temperature=0)))
    finally:
        engine.close()
    sent = json.loads(recording_proxy.httpd.bodies[-1])
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    stats = next(e for e in events if isinstance(e, Stats))
    assert stats.extra["prompt_tokens_known"] is False and stats.prompt_tokens == 0
    assert stats.extra["tokens_counted_by"] == "stream chunks"
    assert stats.generated_tokens == sum(isinstance(e, Token) for e in events) > 0


def test_usage_from_the_server_is_reported_when_it_comes(server):
    """The usage-bearing path with the server's own numbers: the real stream's chunks, then the
    final no-choices chunk that OpenAI, vLLM and SGLang send, carrying the usage this server
    returns for the same greedy request without streaming."""
    client = openai.OpenAI(base_url=server.url, api_key="none", max_retries=0)
    try:
        kw = dict(model=client.models.list().data[0].id, messages=QUESTION, max_tokens=6,
                  temperature=0)
        usage = client.chat.completions.create(**kw).usage
        streamed = list(client.chat.completions.create(stream=True, **kw))
    finally:
        client.close()
    assert usage.prompt_tokens > 5 and usage.completion_tokens == 6
    last = streamed[-1]
    final = ChatCompletionChunk(id=last.id, created=last.created, model=last.model,
                                object="chat.completion.chunk", choices=[], usage=usage)
    run = _Run()
    tokens = [t for c in streamed + [final] for t in run.chunk(c)]
    stats = run.stats(last.model)
    assert stats.prompt_tokens == usage.prompt_tokens and stats.extra["prompt_tokens_known"] is True
    assert stats.generated_tokens == 6 == len(tokens)
    assert stats.extra["tokens_counted_by"] == "server usage"
    assert stats.extra["server_usage"]["prompt_tokens"] == usage.prompt_tokens
