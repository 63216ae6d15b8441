"""`python -m engine.remote.bench [GGUF]`: what the HTTP hop costs. The same GGUF, greedy, the same
prompt, answered in-process by llama_cpp.Llama and through llama-cpp-python's own OpenAI-compatible
server by the remote engine, runs interleaved, medians and their ratio printed."""
from __future__ import annotations

import socket
import statistics
import subprocess
import sys
import time

from ..api import EngineError, GenParams, Message, Stats
from ..catalog import default_model
from .engine import load_openai_engine

PROMPT = "Write a short story about a lighthouse keeper."
TOKENS, RUNS, THREADS = 64, 3, 1


def local_run(llm) -> tuple[float, float]:
    t0 = time.perf_counter()
    first = last = 0.0
    n = 0
    for chunk in llm.create_chat_completion([{"role": "user", "content": PROMPT}], max_tokens=TOKENS,
                                            temperature=0.0, stream=True):
        if chunk["choices"][0]["delta"].get("content"):
            last = time.perf_counter()
            first = first or last
            n += 1
    return (first - t0) * 1000, (n - 1) / (last - first)


def remote_run(engine) -> tuple[float, float]:
    params = GenParams(max_new_tokens=TOKENS, temperature=0.0)
    stats = next(e for e in engine.stream([Message.user(PROMPT)], params) if isinstance(e, Stats))
    return stats.prefill_ms, stats.decode_tokens_per_s


def start_server(gguf: str, port: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", gguf, "--host",
                             "127.0.0.1", "--port", str(port), "--n_threads", str(THREADS),
                             "--n_ctx", "2048", "--verbose", "False"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def connect(url: str, limit_s: float = 60.0):
    deadline = time.monotonic() + limit_s
    while True:
        try:
            return load_openai_engine(url, timeout=60)
        except EngineError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def main(argv: list[str] | None = None) -> int:
    from llama_cpp import Llama

    argv = sys.argv[1:] if argv is None else argv
    gguf = argv[0] if argv else str(default_model())
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = start_server(gguf, port)
    try:
        engine = connect(f"http://127.0.0.1:{port}/v1")
        llm = Llama(gguf, n_ctx=2048, n_threads=THREADS, verbose=False)
        local, remote = [], []
        for _ in range(RUNS + 1):  # the first pair warms both up and is dropped
            local.append(local_run(llm))
            remote.append(remote_run(engine))
        engine.close()
    finally:
        server.terminate()
        server.wait(10)
    med = {name: [statistics.median(v) for v in zip(*runs[1:])]
           for name, runs in (("in-process", local), ("remote", remote))}
    print(f"{gguf}: greedy, {TOKENS} tokens, {THREADS} thread, median of {RUNS}")
    for name, (prefill, tps) in med.items():
        print(f"  {name:10s}  first token {prefill:7.1f} ms   decode {tps:6.1f} tok/s")
    print(f"  remote/in-process decode ratio {med['remote'][1] / med['in-process'][1]:.2f}, "
          f"first-token ratio {med['remote'][0] / med['in-process'][0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
