"""Servers for the remote engine's tests: one plain, one with --api_key, a fresh one a test may
kill, one serving a tiny exported vision model, and a socket that never answers."""
from __future__ import annotations

import socket

import pytest

pytest.importorskip("llama_cpp.server.app", reason="llama-cpp-python[server] is not installed")

from remote_servers import API_KEY, VISION_ALIAS, LlamaServer  # noqa: E402


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    s = LlamaServer(tmp_path_factory.mktemp("srv") / "server.log")
    yield s
    s.stop()


@pytest.fixture(scope="session")
def keyed_server(tmp_path_factory):
    s = LlamaServer(tmp_path_factory.mktemp("srv") / "keyed.log", api_key=API_KEY)
    yield s
    s.stop()


@pytest.fixture
def fresh_server(tmp_path):
    s = LlamaServer(tmp_path / "fresh.log")
    yield s
    s.stop()


@pytest.fixture(scope="session")
def vision_server(tiny_llava, tmp_path_factory):
    """The tiny LLaVA checkpoint exported to GGUF + mmproj, served with llama.cpp's LLaVA-1.5
    handler, as a user serves a LLaVA GGUF pair."""
    from engine.gguf.export import export_checkpoint
    lm, mmproj = export_checkpoint(tiny_llava, tmp_path_factory.mktemp("vision-gguf"), "f16")
    s = LlamaServer(tmp_path_factory.mktemp("srv") / "vision.log", model=lm,
                    args=["--clip_model_path", mmproj, "--chat_format", "llava-1-5",
                          "--model_alias", VISION_ALIAS])
    yield s
    s.stop()


@pytest.fixture
def silent_port():
    """A socket that accepts connections and never answers: a hung server."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield s.getsockname()[1]


@pytest.fixture(autouse=True)
def no_key_in_env(monkeypatch):
    monkeypatch.delenv("VLCHAT_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
