"""Stop stops the caller's chat only: two pages each with a chat answering (one streams, the other
waits for the model), and a third page with no chat, all through gradio_client on the real app."""
import time

import pytest

from app_testfiles import client, last_answer, send, wait_until

pytestmark = pytest.mark.slow


def grows(app, chat_id, seconds=1.5) -> bool:
    """The chat's answer is still being written: its text gets longer."""
    before = len(app.answers[chat_id].text)
    return wait_until(lambda: len(app.answers[chat_id].text) > before, timeout=seconds)


def test_stop_leaves_other_chats_answering(served):
    demo, app = served
    a, b, idle = client(demo), client(demo), client(demo)
    job_a = send(a, "Tell me a very long story.", max_tokens=4000)
    assert wait_until(lambda: any(last_answer(o).strip("▌ ") for o in job_a.outputs()), timeout=60)
    chat_a = app.store.chats()[0].id
    job_b = send(b, "Tell me another very long story.", max_tokens=4000)
    assert wait_until(lambda: any("Waiting for the answer in progress" in last_answer(o)
                                  for o in job_b.outputs()), timeout=60)
    chat_b = app.store.chats()[0].id
    assert chat_b != chat_a

    idle.predict(api_name="/stop")  # a page with no chat stops nothing
    assert grows(app, chat_a) and not app.answers[chat_a].cancel.is_set()
    assert not app.answers[chat_b].cancel.is_set()

    a.predict(api_name="/stop")  # A stops; B gets the model and streams
    t = time.monotonic()
    assert last_answer(job_a.result(timeout=30)).endswith("*■ Stopped.*")
    assert time.monotonic() - t < 10 and app.store.branch(chat_a)[-1].status == "cancelled"
    assert wait_until(lambda: app.answers[chat_b].text, timeout=30) and grows(app, chat_b)
    assert app.store.branch(chat_b)[-1].status == "streaming" and not job_b.done()

    b.predict(api_name="/stop")
    assert last_answer(job_b.result(timeout=30)).endswith("*■ Stopped.*")
    assert app.store.branch(chat_b)[-1].status == "cancelled"
