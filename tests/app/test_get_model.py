"""The Model panel's "Get a model", in a real Chromium: the catalog listed with what fits this
machine marked and the unverified ones said so; Download shows a progress bar (bytes, speed, time
left) while the real huggingface_hub client pulls from a hub-compatible server on 127.0.0.1, then
the pulled model is loaded and answers."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from app_testfiles import chromium_page, client, send, start_app, wait_until
from engine.hub.catalog import find, fit, offers, this_machine
from hub_server import FakeHub, Repo, point_client_at

OFFER = find("llava-hf/llava-interleave-qwen-0.5b-hf")   # verified, and small enough for any machine


@pytest.fixture
def hub(tiny_model, monkeypatch):
    """The hub, serving the tiny LLaVA under the catalog entry's repo name, slowly (3 MB/s)."""
    h = FakeHub({OFFER.repo: Repo.from_folder(Path(tiny_model))}, bytes_per_s=3e6).start()
    point_client_at(h, monkeypatch)
    yield h
    h.stop()


def test_get_a_model_downloads_with_a_progress_bar_then_loads_it(hub, tmp_path, pictures):
    demo, app = start_app(tmp_path / "data", None)
    pulled = tmp_path / "data" / "models" / "llava-hf--llava-interleave-qwen-0.5b-hf"
    try:
        with chromium_page(tmp_path) as page:
            page.goto(demo.local_url)
            page.get_by_role("button", name="Get a model").click()
            page.locator("#get-model input").click()
            options = page.get_by_role("option")
            options.first.wait_for(timeout=15_000)
            labels = options.all_inner_texts()
            machine = this_machine()
            for o in offers():   # every entry, its fit as this machine has it, unverified ones said so
                label, = [t for t in labels if t.startswith(o.name + " ·")]
                assert ("✓ fits" in label) == fit(o, machine)[0], label
                assert ("not verified here" in label) == (not o.verified), label
            page.get_by_role("option", name=re.compile(re.escape(OFFER.name))).click()
            assert wait_until(lambda: "licence" in page.locator("#get-model-about").inner_text(), timeout=10)
            page.locator("#get-model-download").click()

            bar = page.locator("#get-model-progress progress")
            bar.wait_for(timeout=15_000)
            assert wait_until(lambda: "MB/s" in page.locator("#get-model-progress").inner_text(), timeout=20)
            line = page.locator("#get-model-progress").inner_text()
            said = r"[\d.]+ [kMG]?B of [\d.]+ MB \(\d+ %\), [\d.]+ [kM]B/s, (\d+ min )?\d+ s left"
            assert re.search(said, line), line
            assert 0 <= float(bar.get_attribute("value")) < 1
            assert wait_until(lambda: "loading it" in page.locator("#get-model-progress").inner_text(), timeout=60)
            assert wait_until(lambda: app.slot.state == "ready", timeout=120), app.slot.error
            assert app.slot.spec.path == str(pulled)
            assert wait_until(lambda: "Ready" in page.locator("#status").inner_text(), timeout=30)
            shown = page.locator("#model-path input").input_value()
            assert shown.startswith("llava-hf--llava-interleave-qwen-0.5b-hf"), shown
        out = send(client(demo), "What is this?", [pictures["red"]], max_tokens=16).result(timeout=120)
        assert out[0][-1]["role"] == "assistant"
    finally:
        demo.close()
        app.store.close()


def test_cancel_stops_the_download_and_says_the_bytes_are_kept(hub, tmp_path):
    hub.bytes_per_s = 1e6
    demo, app = start_app(tmp_path / "data", None)
    try:
        c = client(demo)
        job = c.submit(OFFER.spec, api_name="/get_model")
        assert wait_until(lambda: any(g.sent > 1e6 for g in hub.gets), timeout=60)
        c.predict(api_name="/cancel_get_model")
        shown = job.result(timeout=60)[0]
        assert "cancelled" in shown and "kept" in shown
        folder = tmp_path / "data" / "models" / "llava-hf--llava-interleave-qwen-0.5b-hf"
        assert list(folder.glob("*.part")) and not (folder / "config.json").exists()
        assert app.slot.spec is None or app.slot.spec.path != str(folder)   # nothing half-pulled is loaded
    finally:
        demo.close()
        app.store.close()
