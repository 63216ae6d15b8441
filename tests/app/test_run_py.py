"""`python run.py` as a user starts it, in a subprocess whose environment does not turn Gradio's
analytics off: the served page still has analytics off and no share link, binds 127.0.0.1, and
its status says the model is ready with composite attention."""
import os
import subprocess
import sys

import httpx
import pytest

from app_testfiles import ROOT, free_port, send, status_rows, wait_until

pytestmark = pytest.mark.slow


def test_run_py_composite_on_localhost(tmp_path, tiny_model):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "GRADIO_ANALYTICS_ENABLED"}
    with open(tmp_path / "log.txt", "w") as log:
        proc = subprocess.Popen([sys.executable, "run.py", "--model", str(tiny_model), "--backend", "torch",
                                 "--attention", "composite", "--host", "127.0.0.1", "--port", str(port),
                                 "--no-browser", "--data-dir", str(tmp_path / "data")],
                                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        def up():
            assert proc.poll() is None, (tmp_path / "log.txt").read_text()
            try:
                return httpx.get(url + "config", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False
        assert wait_until(up, timeout=90, every=0.5)
        config = httpx.get(url + "config", timeout=10).json()
        assert config["analytics_enabled"] is False and not config.get("share_url")
        assert config["root"].startswith("http://127.0.0.1:")

        from gradio_client import Client
        c = Client(url, verbose=False)
        assert wait_until(lambda: "Ready" in c.predict(api_name="/status"), timeout=90, every=0.5)
        shown = status_rows(c.predict(api_name="/status"))
        assert shown["attention"] == "composite" and shown["backend"] == "torch" and shown["device"] == "cpu"
        out = send(c, "Hello there.", max_tokens=16).result(timeout=60)
        assert out[0][-1]["role"] == "assistant"
        assert "prefill" in status_rows(c.predict(api_name="/status"))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    text = (tmp_path / "log.txt").read_text()
    assert "gradio.live" not in text and "Running on public URL" not in text
