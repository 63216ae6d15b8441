"""The streaming answer is saved by time, not by token: when the engine goes quiet mid-answer,
the text it already sent reaches SQLite within a second all the same."""
import time

import pytest

from app_testfiles import PausesMidAnswer, ask, stored, wait_until

pytestmark = pytest.mark.slow


def test_text_before_a_pause_is_saved_within_a_second(tmp_path, slot):
    real = slot.engine
    slot.engine = paused = PausesMidAnswer(real, after=3, pause=3.0)
    try:
        store, answer = ask(tmp_path, slot, max_tokens=8)
        assert paused.paused.wait(timeout=60)
        assert paused.text_at_pause.strip()
        caught_up = wait_until(lambda: stored(store, answer.msg_id)[0] == paused.text_at_pause,
                               timeout=1.0, every=0.02)
        waited = time.monotonic() - paused.paused_at
        text, status = stored(store, answer.msg_id)
        assert caught_up and waited < 1.0, (text, paused.text_at_pause, waited)
        assert status == "streaming" and paused.paused.is_set()  # saved while the engine was silent
        answer.join(timeout=60)
    finally:
        slot.engine = real
    assert answer.status == "done" and stored(store, answer.msg_id) == (answer.text, "done")
    assert answer.text.startswith(paused.text_at_pause)
