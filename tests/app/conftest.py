"""Fixtures for the app tests: a tiny random LLaVA checkpoint (made by the engine's own
make-tiny, nothing downloaded), images made here, and the app served for real on 127.0.0.1."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tiny") / "tiny-llava"
    subprocess.run([sys.executable, "-m", "engine", "make-tiny", str(out)], cwd=ROOT, check=True,
                   capture_output=True)
    return out


@pytest.fixture(scope="session")
def images(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("images")
    red = d / "red.png"
    Image.new("RGB", (64, 48), (200, 30, 30)).save(red)
    blue = d / "blue.jpg"
    Image.new("RGB", (40, 40), (30, 30, 200)).save(blue)
    return {"red": red, "blue": blue}


def start_app(data_dir: Path, model: Path | None, **limits):
    """The real page in this process, on a free port; returns (demo, ChatApp)."""
    from app.cli import launch, make_app, parse
    argv = ["--backend", "torch", "--no-browser", "--data-dir", str(data_dir), "--port", str(free_port())]
    if model is not None:
        argv += ["--model", str(model)]
    for k, v in limits.items():
        argv += [f"--{k.replace('_', '-')}", str(v)]
    args = parse(argv)
    app = make_app(args)
    demo = launch(app, args, block=False)
    assert app.slot.wait(timeout=120)
    return demo, app


@pytest.fixture(scope="module")
def served(tmp_path_factory, tiny_model):
    demo, app = start_app(tmp_path_factory.mktemp("data"), tiny_model, max_image_mb=0.05,
                          max_image_megapixels=1, max_tokens=48)
    assert app.slot.state == "ready", app.slot.error
    yield demo, app
    demo.close()
    app.store.close()


def wait_until(cond, timeout=60.0, every=0.05):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return True
        time.sleep(every)
    return False


# ---- driving the served page with gradio_client -------------------------------------------
def client(demo):
    from gradio_client import Client
    return Client(demo.local_url, verbose=False)


def send(c, text, files=(), max_tokens=16):
    from gradio_client import handle_file
    return c.submit({"text": text, "files": [handle_file(str(f)) for f in files]}, 0.7, 0.95,
                    max_tokens, api_name="/send")


def texts(message) -> str:
    """The text of one chatbot message as gradio_client returns it."""
    content = message["content"]
    parts = content if isinstance(content, list) else [content]
    return "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in parts)


def last_answer(outputs) -> str:
    return texts(outputs[0][-1]) if outputs and outputs[0] else ""
