"""The app pointed at a real OpenAI-compatible server: `run.py --base-url URL --api-key KEY`."""
from __future__ import annotations

import sqlite3

import pytest

from remote_servers import API_KEY, free_port


@pytest.mark.slow
def test_app_chats_through_a_keyed_server_and_never_stores_the_key(keyed_server, tmp_path):
    from gradio_client import Client

    from app.cli import launch, make_app, parse
    args = parse(["--base-url", keyed_server.url, "--api-key", API_KEY, "--no-browser",
                  "--data-dir", str(tmp_path), "--port", str(free_port())])
    app = make_app(args)
    demo = launch(app, args, block=False)
    try:
        assert app.slot.wait(timeout=60) and app.slot.state == "ready", app.slot.error
        assert app.slot.info.backend == "openai"
        c = Client(demo.local_url, verbose=False)
        out = c.submit({"text": "What is the capital of France?", "files": []}, 0.0, 0.95, 24, False,
                       api_name="/send").result(timeout=120)
        answer = out[0][-1]["content"]
        answer = answer if isinstance(answer, str) else "".join(
            p.get("text", "") if isinstance(p, dict) else str(p) for p in answer)
        assert answer.strip()
    finally:
        demo.close()
    db = tmp_path / "chats.sqlite3"
    with sqlite3.connect(db) as con:
        rows = con.execute("select text from messages").fetchall()
    assert any("capital of France" in str(r) for r in rows)
    for f in tmp_path.rglob("*"):
        if f.is_file():
            assert API_KEY.encode() not in f.read_bytes(), f


def test_app_timeout_flag_reaches_the_remote_engine(silent_port, tmp_path):
    """`run.py --timeout 1` against a server that accepts and never answers: the page's status
    says so after about a second (not the 120 s default) and names the flag that raises it."""
    import time

    from app.cli import make_app, parse
    url = f"http://127.0.0.1:{silent_port}/v1"
    app = make_app(parse(["--base-url", url, "--timeout", "1", "--no-browser",
                          "--data-dir", str(tmp_path)]))
    t0 = time.monotonic()
    assert app.slot.wait(timeout=30)
    waited = time.monotonic() - t0
    assert app.slot.state == "error"
    assert "did not answer within 1 s" in app.slot.error and "--timeout" in app.slot.error
    assert waited < 10, waited
