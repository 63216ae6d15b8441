"""Deleting a chat while its answer streams, through gradio_client on the real app: the chat is
hidden at once (Undo brings it back whole), the answer's thread has stopped, the chat list no longer
offers the chat, and the next start removes its rows."""
import sqlite3

import pytest

from app_testfiles import client, last_answer, send, wait_until

pytestmark = pytest.mark.slow


def rows(db, chat_id):
    with sqlite3.connect(db) as con:  # a second reader, as after a restart
        return (con.execute("SELECT COUNT(*) FROM messages WHERE chat_id=?", (chat_id,)).fetchone()[0],
                con.execute("SELECT COUNT(*) FROM chats WHERE id=? AND deleted IS NULL", (chat_id,)).fetchone()[0])


def test_delete_chat_while_it_answers(served):
    demo, app = served
    c = client(demo)
    send(c, "keep this chat", max_tokens=16).result(timeout=60)
    kept = app.store.chats()[0].id
    c = client(demo)  # a second page, whose chat is deleted mid-answer
    job = send(c, "Write a very long answer.", max_tokens=4000)
    assert wait_until(lambda: any(last_answer(o).strip("▌ ") for o in job.outputs()), timeout=60)
    chat = app.store.chats()[0].id
    answer = app.answers[chat]
    assert chat != kept and rows(app.store.path, chat) == (2, 1)

    out = c.predict(api_name="/delete_chat")
    assert answer.finished and answer.status == "cancelled"  # stopped before the rows went
    assert not answer._thread.is_alive()
    assert rows(app.store.path, chat) == (2, 0) and chat not in app.answers  # hidden, not yet gone
    assert out[0] == [] and [v for _, v in out[2]["choices"]] == [ch.id for ch in app.store.chats()]
    assert chat not in [v for _, v in out[2]["choices"]] and kept in [v for _, v in out[2]["choices"]]
    assert rows(app.store.path, kept) == (2, 1)
    job.result(timeout=30)  # the page's stream ended too
    stopped = app.store.branch(chat, answer.msg_id)[-1]

    out = c.predict(api_name="/undo_delete")  # a misclick undone: the chat is back, whole
    assert rows(app.store.path, chat) == (2, 1) and chat in [v for _, v in out[2]["choices"]]
    assert app.store.branch(chat)[-1] == stopped and stopped.status == "cancelled"  # nothing written after
    app.store.delete_chat(chat)
    from app.store import Store
    Store(app.store.path).close()  # the next start
    assert rows(app.store.path, chat) == (0, 0)
