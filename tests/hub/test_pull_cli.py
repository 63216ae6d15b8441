"""`python -m engine pull` in a real process, and `run.py --model hf:...`: progress with bytes,
speed and time left; one line when it fails; an hf: model pulled once, then found offline."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from app.cli import make_app, parse
from hub_server import GGUF_REPO, TORCH_REPO


def run_pull(hub_url: str, data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING_FACE"))}
    env.update(HF_ENDPOINT=hub_url, HF_TOKEN_PATH=str(data_dir / "no-token"))
    return subprocess.run([sys.executable, "-m", "engine", "pull", *args, "--data-dir", str(data_dir)],
                          capture_output=True, text=True, env=env, timeout=120)


def test_the_cli_pulls_a_gguf_with_progress_and_prints_the_path(hub, tmp_path):
    hub.bytes_per_s = 1.5e6   # slow enough for a line with a speed and a time left (one each 2 s)
    r = run_pull(hub.url, tmp_path, GGUF_REPO, "--quant", "Q8_0")
    assert r.returncode == 0, r.stderr
    path = Path(r.stdout.strip().splitlines()[-1])
    assert path.is_file() and path.parent == tmp_path / "models" / "tests--tiny-llava-GGUF"
    lines = r.stderr.splitlines()
    assert any(" of " in ln and "MB/s" in ln and " left" in ln for ln in lines), r.stderr
    assert lines[-1] == f"Ready: python run.py --model {path}"


def test_the_cli_says_a_failure_in_one_line(hub, tmp_path):
    r = run_pull(hub.url, tmp_path, "tests/no-such-model")
    assert r.returncode == 1
    assert r.stderr.strip().count("\n") == 0 and r.stderr.startswith("pull: ") and "404" in r.stderr


def test_run_py_hf_model_is_pulled_once_then_found_offline(hub, tmp_path, monkeypatch):
    argv = ["--model", f"hf:{TORCH_REPO}", "--data-dir", str(tmp_path), "--no-browser"]
    app = make_app(parse(argv))
    try:
        assert app.settings.model == str(tmp_path / "models" / "tests--tiny-llava")
        assert app.slot.wait(timeout=120) and app.slot.state == "ready", app.slot.error
    finally:
        app.store.close()
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")   # the hub gone: nothing is asked of it
    gets = len(hub.gets)
    app = make_app(parse(argv))
    app.store.close()
    assert app.settings.model == str(tmp_path / "models" / "tests--tiny-llava") and len(hub.gets) == gets
