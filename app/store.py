"""Chats in SQLite (WAL): one row per message, a parent id per message so that regenerate and
edit make branches instead of overwriting. Each chat remembers the head (the last message of the
branch on screen); the branch is the path from the root to the head."""
from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS chats (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    head INTEGER,
    system TEXT NOT NULL DEFAULT '',
    sampling TEXT NOT NULL DEFAULT '{}',
    deleted REAL
);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    chat_id INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    parent_id INTEGER REFERENCES messages(id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    text TEXT NOT NULL,
    blobs TEXT NOT NULL DEFAULT '[]',
    status TEXT NOT NULL DEFAULT 'done',
    meta TEXT NOT NULL DEFAULT '{}',
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_chat ON messages(chat_id);
CREATE INDEX IF NOT EXISTS messages_parent ON messages(parent_id);
"""

NEW_CHAT_TITLE = "New chat"
NEWER_COLUMNS = {"system": "TEXT NOT NULL DEFAULT ''", "sampling": "TEXT NOT NULL DEFAULT '{}'",
                 "deleted": "REAL"}
# status of a message: done | streaming (being written) | interrupted (the app died mid-answer)
# | cancelled (the user pressed stop) | error (the engine failed; the partial answer is kept)


@dataclass
class StoredMessage:
    id: int
    chat_id: int
    parent_id: int | None
    role: str
    text: str
    blobs: list[str] = field(default_factory=list)
    status: str = "done"
    meta: dict = field(default_factory=dict)


@dataclass
class Chat:
    id: int
    title: str
    updated: float
    head: int | None
    system: str = ""  # the system prompt its answers use
    sampling: dict = field(default_factory=dict)  # the user's sampling for it; {}: the model's


class Store:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL survives an app crash
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(SCHEMA)
        columns = {r[1] for r in self._db.execute("PRAGMA table_info(chats)")}
        for column, kind in NEWER_COLUMNS.items():  # a database from before the column
            if column not in columns:
                self._db.execute(f"ALTER TABLE chats ADD COLUMN {column} {kind}")
        # Chats deleted before the last exit are gone for good: Undo lasts a session at most.
        self._db.execute("DELETE FROM chats WHERE deleted IS NOT NULL")
        # Whatever was streaming when the last process died will never finish.
        self._db.execute("UPDATE messages SET status='interrupted' WHERE status='streaming'")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _q(self, sql: str, args=()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def _exec(self, sql: str, args=()) -> int:
        with self._lock:
            return self._db.execute(sql, args).lastrowid

    # ---- chats --------------------------------------------------------------------------------
    def new_chat(self, title: str = NEW_CHAT_TITLE) -> int:
        now = time.time()
        return self._exec("INSERT INTO chats(title, created, updated) VALUES (?,?,?)", (title, now, now))

    def chats(self) -> list[Chat]:
        rows = self._q(f"SELECT {_CHAT_COLS} FROM chats WHERE deleted IS NULL ORDER BY updated DESC, id DESC")
        return [_chat(r) for r in rows]

    def chat(self, chat_id: int) -> Chat | None:
        rows = self._q(f"SELECT {_CHAT_COLS} FROM chats WHERE id=? AND deleted IS NULL", (chat_id,))
        return _chat(rows[0]) if rows else None

    def search_chats(self, query: str) -> list[Chat]:
        """Chats whose name or any message holds `query` (SQLite LIKE: ASCII letters match in
        either case), newest first."""
        like = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        rows = self._q(f"SELECT {_CHAT_COLS} FROM chats c WHERE deleted IS NULL AND (c.title LIKE ? ESCAPE '\\' "
                       "OR EXISTS (SELECT 1 FROM messages m WHERE m.chat_id = c.id AND m.text LIKE ? ESCAPE '\\')) "
                       "ORDER BY updated DESC, id DESC", (like, like))
        return [_chat(r) for r in rows]

    def set_system(self, chat_id: int, system: str) -> None:
        self._exec("UPDATE chats SET system=? WHERE id=?", (system, chat_id))

    def rename_chat(self, chat_id: int, title: str) -> None:
        self._exec("UPDATE chats SET title=? WHERE id=?", (title, chat_id))

    def set_sampling(self, chat_id: int, sampling: dict) -> None:
        self._exec("UPDATE chats SET sampling=? WHERE id=?", (json.dumps(sampling), chat_id))

    def delete_chat(self, chat_id: int) -> None:
        """Hidden at once, kept until undelete_chat, purge_deleted or the next start."""
        self._exec("UPDATE chats SET deleted=? WHERE id=?", (time.time(), chat_id))

    def undelete_chat(self, chat_id: int) -> bool:
        with self._lock:
            return self._db.execute("UPDATE chats SET deleted=NULL WHERE id=? AND deleted IS NOT NULL",
                                    (chat_id,)).rowcount > 0

    def purge_deleted(self, before: float) -> None:
        self._exec("DELETE FROM chats WHERE deleted < ?", (before,))

    def set_head(self, chat_id: int, message_id: int | None) -> None:
        self._exec("UPDATE chats SET head=?, updated=? WHERE id=?", (message_id, time.time(), chat_id))

    # ---- messages -----------------------------------------------------------------------------
    def add(self, chat_id: int, parent_id: int | None, role: str, text: str,
            blobs: list[str] | tuple = (), status: str = "done", meta: dict | None = None,
            title: str | None = None) -> int:
        """Append a message under parent_id and make it the chat's head. A first user message
        names the chat by `title` (default: its text)."""
        now = time.time()
        with self._lock, self._db:  # one transaction: the row and the new head together
            self._db.execute("BEGIN")
            mid = self._db.execute(
                "INSERT INTO messages(chat_id, parent_id, role, text, blobs, status, meta, created, updated)"
                " VALUES (?,?,?,?,?,?,?,?,?)",
                (chat_id, parent_id, role, text, json.dumps(list(blobs)), status,
                 json.dumps(meta or {}), now, now)).lastrowid
            self._db.execute("UPDATE chats SET head=?, updated=? WHERE id=?", (mid, now, chat_id))
            if role == "user":  # the first words of the first question name the chat
                title = " ".join((title or text).split())[:60] or "Images"
                self._db.execute("UPDATE chats SET title=? WHERE id=? AND title=?",
                                 (title, chat_id, NEW_CHAT_TITLE))
        return mid

    def update(self, message_id: int, *, text: str | None = None, status: str | None = None,
               meta: dict | None = None) -> None:
        sets, args = ["updated=?"], [time.time()]
        for col, val in (("text", text), ("status", status),
                         ("meta", None if meta is None else json.dumps(meta))):
            if val is not None:
                sets.append(f"{col}=?")
                args.append(val)
        self._exec(f"UPDATE messages SET {', '.join(sets)} WHERE id=?", (*args, message_id))

    def get(self, message_id: int) -> StoredMessage | None:
        rows = self._q(f"SELECT {_COLS} FROM messages WHERE id=?", (message_id,))
        return _row(rows[0]) if rows else None

    def messages(self, chat_id: int) -> list[StoredMessage]:
        return [_row(r) for r in self._q(f"SELECT {_COLS} FROM messages WHERE chat_id=? ORDER BY id",
                                         (chat_id,))]

    def snapshot(self, chat_id: int) -> tuple[Chat | None, list[StoredMessage]]:
        """The chat's row and all its messages, read together (under the one lock every write
        takes): one consistent view for a page refresh, even while an answer is being saved."""
        with self._lock:
            chat = self._db.execute(f"SELECT {_CHAT_COLS} FROM chats WHERE id=? AND deleted IS NULL",
                                    (chat_id,)).fetchall()
            rows = self._db.execute(f"SELECT {_COLS} FROM messages WHERE chat_id=? ORDER BY id",
                                    (chat_id,)).fetchall()
        return (_chat(chat[0]) if chat else None), [_row(r) for r in rows]

    def branch(self, chat_id: int, head: int | None = None) -> list[StoredMessage]:
        """Messages from the root to `head` (default: the chat's head)."""
        if head is None:
            chat = self.chat(chat_id)
            head = chat.head if chat else None
        by_id = {m.id: m for m in self.messages(chat_id)}
        path = []
        while head is not None and head in by_id:
            path.append(by_id[head])
            head = by_id[head].parent_id
        return path[::-1]

    def children(self, message_id: int) -> list[StoredMessage]:
        return [_row(r) for r in self._q(f"SELECT {_COLS} FROM messages WHERE parent_id=? ORDER BY id",
                                         (message_id,))]

    def leaves(self, chat_id: int) -> list[StoredMessage]:
        """The last message of every branch, oldest first."""
        return [_row(r) for r in self._q(
            f"SELECT {_COLS} FROM messages m WHERE chat_id=? AND NOT EXISTS "
            "(SELECT 1 FROM messages c WHERE c.parent_id=m.id) ORDER BY id", (chat_id,))]

    def delete_from(self, message_id: int) -> None:
        """Delete a message and everything under it; the head moves to its parent."""
        msg = self.get(message_id)
        if msg is None:
            return
        chat = self.chat(msg.chat_id)
        self._exec("DELETE FROM messages WHERE id=?", (message_id,))  # children cascade
        if chat and chat.head is not None and self.get(chat.head) is None:
            self.set_head(msg.chat_id, msg.parent_id)


_CHAT_COLS = "id, title, updated, head, system, sampling"
_COLS = "id, chat_id, parent_id, role, text, blobs, status, meta"


def _row(r) -> StoredMessage:
    return StoredMessage(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), r[6], json.loads(r[7]))


def _chat(r) -> Chat:
    return Chat(*r[:5], json.loads(r[5]))
