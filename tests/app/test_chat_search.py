"""Finding a chat: by words in its name or in any of its messages (a real SQLite file), through the
served page's /search_chats and in Chromium, where a found chat opens with a click. Each chat keeps
its system prompt: reopening it puts that prompt back in the box."""
from __future__ import annotations

import sqlite3

import pytest

from app.store import Store
from app_testfiles import chromium_page, client, send, wait_until


def test_search_matches_names_and_messages_literally(tmp_path):
    store = Store(tmp_path / "chats.sqlite3")
    a, b, c = store.new_chat("Cats"), store.new_chat("Taxes 2025"), store.new_chat("Misc")
    store.add(a, None, "user", "Is my tabby cat ok?")
    store.add(b, None, "user", "What is 50% of 7_000?")
    store.add(c, None, "user", "nothing here")

    def found(q):
        return {ch.id for ch in store.search_chats(q)}
    assert found("TABBY") == {a} and found("taxes") == {b}       # messages and names, any case
    assert found("50%") == {b} and found("7_0") == {b}            # % and _ are literal, not wildcards
    assert found("%") == {b} and found("_") == {b}
    assert found("zebra") == set()


def test_an_old_database_gains_the_system_column(tmp_path):
    db = tmp_path / "chats.sqlite3"
    with sqlite3.connect(db) as con:  # the chats table as it was before system prompts
        con.execute("CREATE TABLE chats (id INTEGER PRIMARY KEY, title TEXT NOT NULL, "
                    "created REAL NOT NULL, updated REAL NOT NULL, head INTEGER)")
        con.execute("INSERT INTO chats(title, created, updated) VALUES ('old one', 1, 1)")
    store = Store(db)
    old, = store.chats()
    assert old.title == "old one" and old.system == ""
    store.set_system(old.id, "Be terse.")
    assert store.chat(old.id).system == "Be terse."


@pytest.mark.slow
def test_search_and_per_chat_system_prompt_in_the_page(served, tmp_path):
    demo, app = served
    c = client(demo)
    c.submit({"text": "The zebra question", "files": []}, 0.7, 0.95, 16, False, 1.1, "Talk like a pirate.",
             api_name="/send").result(timeout=60)
    zebra = app.store.chats()[0].id
    send(client(demo), "An ordinary question").result(timeout=60)  # the default system prompt: none
    other = app.store.chats()[0].id
    assert app.store.chat(zebra).system == "Talk like a pirate." and app.store.chat(other).system == ""

    found = c.predict("ZEBRA", api_name="/search_chats")
    assert [v for _, v in found["choices"]] == [zebra] and found["visible"] is True

    with chromium_page(tmp_path) as page:
        page.goto(demo.local_url)
        search = page.locator("#chat-search input, #chat-search textarea").first
        system = page.locator("#system-prompt textarea").first
        search.wait_for(timeout=30_000)
        page.get_by_role("button", name="System prompt and sampling").click()
        system.wait_for(timeout=10_000)
        search.fill("zebra")
        hit = page.locator("#chat-found label", has_text="The zebra question")
        hit.wait_for(timeout=10_000)
        hit.click()
        assert wait_until(lambda: "The zebra question" in page.locator("#chatbot").inner_text(), timeout=10)
        assert wait_until(lambda: system.input_value() == "Talk like a pirate.", timeout=10)
        page.locator("#chat-list label", has_text="An ordinary question").click()
        assert wait_until(lambda: system.input_value() == "", timeout=10), system.input_value()
        search.fill("")
        assert wait_until(lambda: not page.locator("#chat-found").is_visible(), timeout=10)


def test_the_export_opens_with_the_chats_system_prompt(tmp_path):
    from app.blobs import BlobStore
    from app.export import chat_markdown
    store = Store(tmp_path / "chats.sqlite3")
    chat = store.new_chat("Pirates")
    store.add(chat, None, "user", "Ahoy?")
    store.set_system(chat, "Talk like a pirate.\nNever break character.")
    md = chat_markdown("Pirates", store.branch(chat), BlobStore(tmp_path / "blobs"), store.chat(chat).system)
    assert md.startswith("# Pirates\n\n**System prompt**\n\n> Talk like a pirate.\n> Never break character.\n\n**You**")
    assert "System prompt" not in chat_markdown("Pirates", store.branch(chat), BlobStore(tmp_path / "b"))
