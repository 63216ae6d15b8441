"""Answers with the real tiny LLaVA engine: written to SQLite while they stream, stopped through
the engine's cancel event, kept when the engine fails, and clear errors for bad models."""
import time

import pytest

from app.answer import FLUSH_SECONDS
from app.model_slot import ModelSlot, ModelSpec
from app_testfiles import FailsMidAnswer, ask, stored, wait_until

pytestmark = pytest.mark.slow


def test_answer_streams_with_images_and_is_stored(tmp_path, slot, pictures):
    store, answer = ask(tmp_path, slot, images=[pictures["red"], pictures["blue"]], max_tokens=40)
    seen = [(a.finished, a.text) for a in answer.follow()]
    partial = [t for done, t in seen if t and not done]
    assert partial and len(partial[0]) < len(answer.text)  # text came in pieces, not at the end
    assert seen[-1] == (True, answer.text)
    assert answer.status == "done" and answer.text
    assert stored(store, answer.msg_id) == (answer.text, "done")
    meta = store.get(answer.msg_id).meta
    assert meta["stats"]["generated_tokens"] > 0 and meta["stats"]["prompt_tokens"] > 32  # 2 x 16 image tokens
    assert slot.last_stats is not None


def test_partial_answer_is_in_the_store_while_streaming_and_stop_stops(tmp_path, slot):
    store, answer = ask(tmp_path, slot, max_tokens=4000)
    assert wait_until(lambda: answer.text, timeout=60)
    started = time.monotonic()
    assert wait_until(lambda: stored(store, answer.msg_id)[0], timeout=3 * FLUSH_SECONDS + 2)
    text, status = stored(store, answer.msg_id)
    assert status == "streaming" and answer.text.startswith(text)
    answer.stop()
    answer.join(timeout=10)
    assert answer.finished and answer.status == "cancelled"
    assert time.monotonic() - started < 15
    assert store.get(answer.msg_id).meta["stats"]["generated_tokens"] < 4000
    assert stored(store, answer.msg_id) == (answer.text, "cancelled")


def test_engine_error_mid_answer_keeps_the_partial_answer(tmp_path, slot):
    real = slot.engine
    slot.engine = FailsMidAnswer(real)
    try:
        store, answer = ask(tmp_path, slot, max_tokens=50)
        answer.join(timeout=60)
    finally:
        slot.engine = real
    assert answer.status == "error" and "failed mid-answer" in answer.error
    text, status = stored(store, answer.msg_id)
    assert status == "error" and text == answer.text and text
    assert store.get(answer.msg_id).meta["error"] == answer.error


def broken_checkpoint(d):
    (d / "broken").mkdir()
    (d / "broken" / "config.json").write_text("{oops")
    return d / "broken"


@pytest.mark.parametrize("make, words", [
    (lambda d: d / "no-such-model", "Model path not found"),
    (broken_checkpoint, "broken"),
])
def test_bad_model_gives_a_clear_error_and_answers_say_so(tmp_path, make, words):
    bad = ModelSlot()
    bad.load(ModelSpec(str(make(tmp_path)), backend="torch"))
    assert bad.wait(timeout=60)
    assert bad.state == "error" and words in bad.error
    store, answer = ask(tmp_path, bad)
    answer.join(timeout=10)
    assert answer.status == "error" and words in answer.error
    assert stored(store, answer.msg_id)[1] == "error"
