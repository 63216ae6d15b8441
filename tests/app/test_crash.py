"""kill -9 in the middle of an answer: after a restart on the same data dir, the chat is there
with the partial answer marked as interrupted."""
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from app_testfiles import ROOT, free_port, last_answer, send, wait_until

pytestmark = pytest.mark.slow


def start(data_dir, model, log):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "run.py", "--model", str(model), "--backend", "torch",
                             "--no-browser", "--data-dir", str(data_dir), "--port", str(port)],
                            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    from gradio_client import Client
    holder = {}

    def up():
        assert proc.poll() is None, open(log.name).read()
        try:
            holder["c"] = Client(f"http://127.0.0.1:{port}/", verbose=False)
            return True
        except Exception:
            return False
    assert wait_until(up, timeout=90, every=0.5)
    return proc, holder["c"]


def partial(db_path):
    with sqlite3.connect(db_path) as db:
        return db.execute("SELECT chat_id, text, status FROM messages WHERE role='assistant' "
                          "ORDER BY id DESC LIMIT 1").fetchone()


def test_kill_9_mid_answer_keeps_the_partial_answer(tmp_path, tiny_model):
    data = tmp_path / "data"
    db = data / "chats.sqlite3"
    with open(tmp_path / "log.txt", "w") as log:
        proc, c = start(data, tiny_model, log)
        try:
            job = send(c, "Write a very long answer.", max_tokens=4000)
            assert wait_until(lambda: partial(db) and partial(db)[1], timeout=90)
            time.sleep(1.2)  # let it write more than once
            assert any(last_answer(o).strip("▌ ") for o in job.outputs())
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
        chat_id, text, status = partial(db)
        assert status == "streaming" and text  # what the dead process left: the partial answer

        proc, c = start(data, tiny_model, log)
        try:
            out = c.predict(chat_id, api_name="/open_chat")
            shown = last_answer(out)
            assert shown.startswith(text) and "Interrupted" in shown
            assert partial(db)[1:] == (text, "interrupted")
            out = send(c, "Are you back?").result(timeout=90)  # the chat goes on
            assert len(out[0]) == 4 and partial(db)[2] == "done"
        finally:
            proc.kill()
            proc.wait(timeout=10)
