"""Renaming and exporting a chat: the Markdown export on a real Store and blob store, and both
tools through gradio_client on the real served app (/rename_chat, /export_chat)."""
import base64
import re
import sqlite3
import urllib.request
from pathlib import Path

import pytest

from app.blobs import BlobStore
from app.chat_app import TITLE_CHARS
from app.export import chat_markdown, file_name
from app.store import Store
from app_testfiles import chromium_page, client, png_bytes, send, wait_until

DATA_URI = re.compile(r"!\[image (\d+)\]\(data:(image/[a-z]+);base64,([A-Za-z0-9+/=]+)\)")


def stored_title(db, chat_id):
    with sqlite3.connect(db) as con:  # a second reader, as after a restart
        return con.execute("SELECT title FROM chats WHERE id=?", (chat_id,)).fetchone()[0]


def in_order(text, *needles):
    """Every needle is in text, each after the one before."""
    at = 0
    for n in needles:
        at = text.index(n, at) + len(n)
    return True


# ---- the Markdown, from a real Store -------------------------------------------------------
def test_markdown_of_a_branch_with_images_boxes_a_document_and_an_error(tmp_path):
    store, blobs = Store(tmp_path / "chats.sqlite3"), BlobStore(tmp_path / "blobs")
    png, jpg = blobs.put(png_bytes((8, 8)), ".png"), blobs.put(b"\xff\xd8 not decoded here", ".jpg")
    chat = store.new_chat()
    s = store.add(chat, None, "system", "Be brief.")
    q = store.add(chat, s, "user", "What is [0.1, 0.2, 0.3, 0.4]?", [png, jpg],
                  meta={"notes": ["clipped a region"]})
    a = store.add(chat, q, "assistant", "A square [0].", status="error",
                  meta={"error": "The engine failed.", "notes": ["dropped a box"],
                        "boxes": [{"ref": 0, "image_index": 1, "x1": 0.1, "y1": 0.25, "x2": 0.5, "y2": 2 / 3}]})
    store.add(chat, a, "assistant", "The old answer.")  # a sibling branch: not the one shown
    store.set_head(chat, a)
    d = store.add(chat, a, "user", "", meta={"document": {"name": "report.pdf", "pages": 2, "ocr": 0,
                                                          "empty": [], "thumbs": []}})
    store.add(chat, d, "user", "Summarise it.")
    store.add(chat, store.chat(chat).head, "assistant", "It says hi.", status="cancelled")

    md = chat_markdown("Squares\nand more", store.branch(chat), blobs)
    assert md.startswith("# Squares and more\n")
    assert in_order(md, "**System**", "Be brief.", "**You**", "![image 1](", "![image 2](",
                    "What is [0.1, 0.2, 0.3, 0.4]?", "*clipped a region*",
                    "**Assistant**", "A square [0].", "*⚠ The engine failed.*", "*dropped a box*",
                    "- [0] image 2: 0.100, 0.250, 0.500, 0.667",
                    "**You**", "📄 **report.pdf**: 2 pages indexed",
                    "**You**", "Summarise it.", "**Assistant**", "It says hi.", "*■ Stopped.*")
    assert "The old answer." not in md
    uris = DATA_URI.findall(md)
    assert [(n, mime) for n, mime, _ in uris] == [("1", "image/png"), ("2", "image/jpeg")]
    assert base64.b64decode(uris[0][2]) == blobs.path(png).read_bytes()
    assert base64.b64decode(uris[1][2]) == blobs.path(jpg).read_bytes()
    store.close()


def test_file_names_are_safe():
    assert file_name("What is this?") == "What is this.md"
    assert file_name("../../etc/passwd") == "etc_passwd.md"
    assert file_name("a/b\\c: d\n e") == "a_b_c_ d e.md"
    assert file_name(" ... ") == "chat.md" and file_name("") == "chat.md"
    assert len(file_name("x" * 500)) == 60 + len(".md")


# ---- through the served app ----------------------------------------------------------------
@pytest.mark.slow
def test_rename_through_the_api(served):
    demo, app = served
    c = client(demo)
    send(c, "a question to name the chat", max_tokens=16).result(timeout=60)
    chat = app.store.chats()[0].id

    choices, shown = c.predict("  Holiday   photos \n", api_name="/rename_chat")
    assert shown == "Holiday photos" == stored_title(app.store.path, chat)
    assert ["Holiday photos", chat] in choices["choices"] and choices["value"] == chat

    choices, shown = c.predict("   ", api_name="/rename_chat")  # blank: refused, the old name back
    assert shown == "Holiday photos" == stored_title(app.store.path, chat)
    assert ["Holiday photos", chat] in choices["choices"]

    _, shown = c.predict("long " * 100, api_name="/rename_chat")
    assert shown == ("long " * 100)[:TITLE_CHARS].rstrip() == stored_title(app.store.path, chat)

    before = [(ch.id, ch.title) for ch in app.store.chats()]
    client(demo).predict("Nothing is open", api_name="/rename_chat")  # a page with no chat open
    assert [(ch.id, ch.title) for ch in app.store.chats()] == before


@pytest.mark.slow
def test_export_through_the_api(served, pictures):
    demo, app = served
    c = client(demo)
    send(c, "What colour is this?", [pictures["red"]], max_tokens=16).result(timeout=60)
    send(c, "And now?", max_tokens=16).result(timeout=60)
    chat = app.store.chats()[0].id
    c.predict("Red: a test?", api_name="/rename_chat")

    path = Path(c.predict(api_name="/export_chat"))  # downloaded by gradio_client, as a caller gets it
    assert path.name == "Red_ a test.md"
    md = path.read_bytes().decode("utf-8")  # as written: read_text() would turn a "\r" in the answer into "\n"
    q1, a1, q2, a2 = app.store.branch(chat)
    assert md.startswith("# Red: a test?\n")
    assert in_order(md, "**You**", "![image 1](", q1.text, "**Assistant**", a1.text,
                    "**You**", q2.text, "**Assistant**", a2.text)
    (n, mime, data), = DATA_URI.findall(md)
    assert mime == "image/png" and base64.b64decode(data) == pictures["red"].read_bytes()

    with pytest.raises(Exception, match="Open a chat"):  # a page with no chat has nothing to export
        client(demo).predict(api_name="/export_chat")


@pytest.mark.slow
def test_export_lists_a_box_head_answers_boxes(grounded, pictures):
    demo, app = grounded
    c = client(demo)
    send(c, "Where is the square?", [pictures["red"]]).result(timeout=60)
    answer = app.store.branch(app.store.chats()[0].id)[-1]
    assert answer.meta["boxes"]  # the forced <at> gave boxes
    md = Path(c.predict(api_name="/export_chat")).read_bytes().decode("utf-8")
    lines = [f"- [{b['ref']}] image 1: {b['x1']:.3f}, {b['y1']:.3f}, {b['x2']:.3f}, {b['y2']:.3f}"
             for b in answer.meta["boxes"]]
    assert in_order(md, "**Assistant**", answer.text, "Boxes:", *lines)


@pytest.mark.slow
def test_the_sidebar_in_a_browser_renames_and_exports_the_chat_opened(served, tmp_path):
    """The rename box follows the chat opened (chat_id.change, which only a page fires)."""
    demo, app = served
    for text in ("first chat for the sidebar", "second chat for the sidebar"):
        send(client(demo), text, max_tokens=16).result(timeout=60)
    first, second = app.store.chats()[1].id, app.store.chats()[0].id
    with chromium_page(tmp_path) as page:
        page.goto(demo.local_url)
        box = page.locator("#chat-title input, #chat-title textarea").first
        box.wait_for(timeout=30_000)
        for chat in (first, second):
            title = app.store.chat(chat).title
            page.locator("#chat-list label", has_text=title).click()
            assert wait_until(lambda: box.input_value() == title, timeout=10), box.input_value()

        box.fill("Renamed in the browser")
        box.press("Enter")
        assert wait_until(lambda: app.store.chat(second).title == "Renamed in the browser", timeout=10)
        assert wait_until(lambda: "Renamed in the browser" in page.locator("#chat-list").inner_text(), timeout=10)

        page.locator("#export").click()
        exported = page.locator("#export-file")
        link = exported.locator("a[download]").first  # the name shown is cut short in the sidebar
        assert wait_until(lambda: link.count() and link.get_attribute("download") == "Renamed in the browser.md",
                          timeout=10)
        md = urllib.request.urlopen(link.get_attribute("href"), timeout=10).read().decode("utf-8")
        assert md.startswith("# Renamed in the browser\n") and "second chat for the sidebar" in md
        page.screenshot(path=str(tmp_path / "sidebar.png"), full_page=True)

        page.locator("#chat-list label", has_text="first chat for the sidebar").click()
        assert wait_until(lambda: box.input_value() == "first chat for the sidebar", timeout=10)
        assert wait_until(lambda: not exported.is_visible(), timeout=10)  # not the other chat's file
