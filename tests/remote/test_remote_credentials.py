"""A base URL may carry user:password@ (basic auth to a proxy): it is used, never shown."""
from __future__ import annotations

import pytest

from engine.api import EngineError, GenParams, Message
from engine.backends import load
from remote_servers import free_port

pytestmark = pytest.mark.slow

SECRET = "s3cr3t-pw"


def with_credentials(url: str) -> str:
    return url.replace("http://", f"http://alice:{SECRET}@")


def test_load_errors_never_show_the_credentials(server):
    refused = f"http://127.0.0.1:{free_port()}/v1"
    for url, pattern in [(with_credentials(refused), "Cannot reach"),
                         (with_credentials(server.url), "no model 'nope'"),
                         (with_credentials(server.url).removesuffix("/v1"), "404")]:
        with pytest.raises(EngineError, match=pattern) as e:
            load(url, backend="openai", model="nope" if "no model" in pattern else None)
        assert SECRET not in str(e.value) and "alice" not in str(e.value)
        assert "127.0.0.1:" in str(e.value), "the host and port are still named"


def test_stream_errors_info_and_repr_never_show_the_credentials(fresh_server):
    engine = load(with_credentials(fresh_server.url), backend="openai")
    try:
        assert SECRET not in repr(engine) and SECRET not in repr(engine.info)
        fresh_server.kill()
        events = list(engine.stream([Message.user("Hello")], GenParams(max_new_tokens=4)))
    finally:
        engine.close()
    assert events[-1].reason == "error" and "Cannot reach" in events[-1].error
    assert fresh_server.url in events[-1].error and SECRET not in events[-1].error
    assert "alice" not in events[-1].error
