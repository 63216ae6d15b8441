"""The app served for real on 127.0.0.1 with the tiny LLaVA model, driven by gradio_client."""
import time

import pytest

from app_testfiles import client, last_answer, send, texts, wait_until

pytestmark = pytest.mark.slow


def newest_chat(app):
    return app.store.chats()[0].id


def test_two_images_stream_and_are_stored(served, pictures):
    demo, app = served
    assert demo.local_url.startswith("http://127.0.0.1:")
    job = send(client(demo), "What is in these two pictures?", [pictures["red"], pictures["blue"]], 48)
    outputs = list(job)
    partial = [last_answer(o) for o in outputs if last_answer(o).endswith("▌")]
    final = last_answer(outputs[-1])
    assert len(set(partial)) >= 2, "the answer did not stream"
    assert final and not final.endswith("▌")
    user = outputs[-1][0][-2]
    files = [p for p in user["content"] if p.get("type") == "file"]
    assert len(files) == 2 and texts(user) == "What is in these two pictures?"

    q, a = app.store.branch(newest_chat(app))
    assert q.role == "user" and len(q.blobs) == 2
    assert all(app.blobs.path(b).is_file() for b in q.blobs)
    assert app.blobs.path(q.blobs[0]).read_bytes() == pictures["red"].read_bytes()
    assert a.status == "done" and a.text and final.startswith(a.text)


def test_stop_ends_the_answer_and_the_chat_stays_usable(served):
    demo, app = served
    c = client(demo)
    job = send(c, "Tell me a very long story.", max_tokens=4000)
    assert wait_until(lambda: any(last_answer(o).strip("▌ ") for o in job.outputs()), timeout=60)
    c.predict(api_name="/stop")
    t = time.monotonic()
    final = last_answer(job.result(timeout=30))
    assert time.monotonic() - t < 10
    assert final.endswith("*■ Stopped.*")
    chat = newest_chat(app)
    stopped = app.store.branch(chat)[-1]
    assert stopped.status == "cancelled" and stopped.meta["stats"]["generated_tokens"] < 4000

    final = last_answer(send(c, "Still there?").result(timeout=60))
    last = app.store.branch(chat)[-1]
    assert last.status == "done" and final.startswith(last.text)
    assert len(app.store.branch(chat)) == 4  # both turns in the same chat


def test_regenerate_and_edit_make_branches_in_sqlite(served, pictures):
    demo, app = served
    c = client(demo)
    send(c, "first question", [pictures["red"]]).result(timeout=60)
    chat = newest_chat(app)
    q, a1 = app.store.branch(chat)

    out = c.submit(0.7, 0.95, 16, api_name="/regenerate").result(timeout=60)
    answers = app.store.children(q.id)
    assert [m.role for m in answers] == ["assistant", "assistant"]  # the old answer is kept
    assert app.store.branch(chat)[-1].id == answers[1].id != a1.id
    assert len(out[0]) == 2

    out = c.submit(0, "edited question", 0.7, 0.95, 16, api_name="/edit").result(timeout=60)
    q2, a3 = app.store.branch(chat)
    assert (q2.parent_id, q2.text, q2.blobs) == (None, "edited question", q.blobs)
    assert texts(out[0][0]) == "edited question" and a3.status == "done"
    leaves = app.store.leaves(chat)
    assert [m.id for m in leaves] == [a1.id, answers[1].id, a3.id]
    labels = [label for label, _ in out[3]["choices"]]
    assert len(labels) == 3  # the branch picker lists all three, told apart by their answers
    assert labels[0].startswith("1. first question → ") and labels[1].startswith("2. first question → ")
    assert labels[0] != labels[1] or a1.text[:29] == answers[1].text[:29]
    assert labels[2].startswith("3. edited question → ")

    out = c.predict(a1.id, api_name="/pick_branch")
    assert texts(out[0][0]) == "first question" and app.store.chat(chat).head == a1.id


def test_chats_survive_reopening(served, pictures):
    demo, app = served
    c = client(demo)
    send(c, "remember me", [pictures["blue"]]).result(timeout=60)
    chat = newest_chat(app)
    other = client(demo)  # a new browser session opens the stored chat
    out = other.predict(chat, api_name="/open_chat")
    assert texts(out[0][0]) == "remember me" and len(out[0]) == 2
    assert out[4]["choices"][0][1] == 0  # the image list offers the chat's image


def test_leaving_a_chat_mid_answer_keeps_the_answer_going_into_the_store(served):
    demo, app = served
    c = client(demo)
    job = send(c, "A long one, please.", max_tokens=96)
    assert wait_until(lambda: any(last_answer(o).strip("▌ ") for o in job.outputs()), timeout=60)
    chat = newest_chat(app)
    out = c.predict(api_name="/new_chat")
    assert out[0] == [] and out[1] == {"text": "", "files": []}
    answer = app.answers[chat]
    answer.join(timeout=60)
    stored = app.store.branch(chat)[-1]
    assert answer.status == "done" and stored.status == "done" and stored.text == answer.text
