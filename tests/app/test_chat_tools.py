"""Renaming and exporting a chat: the Markdown export on a real Store and blob store, and both
tools through gradio_client on the real served app (/rename_chat, /export_chat)."""
import base64
import re

from app.blobs import BlobStore
from app.export import chat_markdown, file_name
from app.store import Store
from app_testfiles import png_bytes

DATA_URI = re.compile(r"!\[image (\d+)\]\(data:(image/[a-z]+);base64,([A-Za-z0-9+/=]+)\)")


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
