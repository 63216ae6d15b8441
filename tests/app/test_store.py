"""The chat store on a real SQLite file: branches, heads, crash recovery, blobs by sha256."""
import hashlib
import sqlite3
import time

from app.blobs import BlobStore
from app.store import Store


def test_wal_and_branches(tmp_path):
    s = Store(tmp_path / "chats.sqlite3")
    assert s._q("PRAGMA journal_mode")[0][0] == "wal"
    chat = s.new_chat()
    q = s.add(chat, None, "user", "What is in the picture?", ["abc.png"])
    a1 = s.add(chat, q, "assistant", "A cat.")
    a2 = s.add(chat, q, "assistant", "A dog.")          # regenerate: a sibling, a1 is kept
    assert [m.id for m in s.branch(chat)] == [q, a2]
    assert [m.id for m in s.branch(chat, a1)] == [q, a1]
    q2 = s.add(chat, None, "user", "Edited question", ["abc.png"])  # edit: a second root
    a3 = s.add(chat, q2, "assistant", "A bird.")
    assert [m.id for m in s.leaves(chat)] == [a1, a2, a3]
    assert [m.text for m in s.branch(chat)] == ["Edited question", "A bird."]
    assert s.chat(chat).title == "What is in the picture?"
    assert s.branch(chat)[0].blobs == ["abc.png"]
    s.delete_from(q2)
    assert s.chat(chat).head is None and [m.id for m in s.leaves(chat)] == [a1, a2]
    s.delete_chat(chat)  # hidden at once, restorable (Undo) until purged or the next start
    assert s.chats() == [] and s.chat(chat) is None and s.search_chats("picture") == []
    assert s.undelete_chat(chat) and s.chat(chat).title == "What is in the picture?"
    assert [m.id for m in s.leaves(chat)] == [a1, a2]  # nothing lost
    s.delete_chat(chat)
    s.purge_deleted(time.time() + 1)
    assert s.messages(chat) == [] and not s.undelete_chat(chat)


def test_a_deleted_chat_is_gone_after_a_restart(tmp_path):
    s = Store(tmp_path / "c.sqlite3")
    chat = s.new_chat()
    s.add(chat, None, "user", "Delete me")
    s.delete_chat(chat)
    s.close()
    s = Store(tmp_path / "c.sqlite3")
    assert s.messages(chat) == [] and not s.undelete_chat(chat)


def test_streaming_answer_is_marked_interrupted_on_reopen(tmp_path):
    path = tmp_path / "chats.sqlite3"
    s = Store(path)
    chat = s.new_chat()
    q = s.add(chat, None, "user", "hi")
    a = s.add(chat, q, "assistant", "", status="streaming")
    s.update(a, text="partial ans", meta={"boxes": []})
    # Another connection sees the partial answer at once (WAL, autocommit): what a crash leaves.
    other = sqlite3.connect(path)
    assert other.execute("SELECT text, status FROM messages WHERE id=?", (a,)).fetchone() == (
        "partial ans", "streaming")
    other.close()
    s.close()
    again = Store(path)
    m = again.get(a)
    assert (m.text, m.status) == ("partial ans", "interrupted")


def test_blobs_are_stored_once_by_sha256(tmp_path):
    b = BlobStore(tmp_path / "blobs")
    data = b"\x89PNG fake bytes"
    name = b.put(data, ".PNG")
    assert name == hashlib.sha256(data).hexdigest() + ".png"
    assert b.put(data, ".png") == name
    assert b.path(name).read_bytes() == data
    assert len(list((tmp_path / "blobs").rglob("*"))) == 2  # one folder, one file
