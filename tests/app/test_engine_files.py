"""The engine keeps its own files (the visual KV cache) in the app's --data-dir, not elsewhere."""
import pytest

from app_testfiles import client, send, start_app

pytestmark = pytest.mark.slow


def test_visual_kv_cache_lives_in_the_data_dir(tmp_path, tiny_model, pictures):
    data = tmp_path / "data"
    demo, app = start_app(data, tiny_model, attention="composite")
    try:
        assert app.slot.state == "ready", app.slot.error
        send(client(demo), "What colour is it?", [pictures["red"]], max_tokens=16).result(timeout=120)
        assert list((data / "kvcache").rglob("*.safetensors")), "the image's K/V were not stored in --data-dir"
    finally:
        demo.close()
        app.store.close()
