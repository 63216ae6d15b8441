"""The status line after a real answer: device, dtype, memory, prefill ms and tokens/s, read
through the page's own `status` event; on CUDA the GPU memory the torch engine reports."""
import re

import pytest

from app.model_slot import ModelSlot, ModelSpec
from app.status import status_html
from app_testfiles import ask, client, send
from app_testfiles import status_rows as rows
from engine.llava.cpu import cpu_dtype

pytestmark = pytest.mark.slow


def test_ready_status_after_an_answer_shows_speed_and_memory(served):
    demo, app = served
    c = client(demo)
    send(c, "Say something.", max_tokens=16).result(timeout=60)
    html = c.predict(api_name="/status")
    assert "Ready" in html
    shown, st = rows(html), app.slot.last_stats
    # The engine's CPU default (engine/llava/cpu.py: float32; bf16 where native if the switch is on)
    assert shown["device"] == "cpu" and shown["dtype"] == cpu_dtype(None)[0]
    assert re.fullmatch(r"[\d,]+ MiB", shown["memory"]) and int(shown["memory"][:-4].replace(",", "")) > 50
    assert shown["prefill"] == f"{st.prefill_ms:,.0f} ms ({st.prompt_tokens} tokens)" and st.prefill_ms > 0
    assert shown["decode"] == f"{st.decode_tokens_per_s:,.1f} tokens/s" and st.decode_tokens_per_s > 0
    assert "GPU memory" not in shown  # on CPU the model lives in the process: its memory is shown


@pytest.mark.cuda
def test_status_shows_gpu_memory_on_cuda(tmp_path, tiny_model):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    slot = ModelSlot()
    slot.load(ModelSpec(str(tiny_model), backend="torch"))
    assert slot.wait(timeout=120) and slot.state == "ready", slot.error
    try:
        assert slot.info.device.startswith("cuda")
        store, answer = ask(tmp_path, slot, max_tokens=8)
        answer.join(timeout=60)
        used = slot.last_stats.extra["memory_bytes"]
        assert 0 < used <= torch.cuda.max_memory_allocated()
        shown = rows(status_html(slot))
        assert shown["GPU memory"] == f"{used / 2**20:,.0f} MiB" and shown["process memory"].endswith("MiB")
    finally:
        slot.engine.close()


def test_status_says_how_long_the_vision_tower_took(served, images):
    """An image question's first token includes the tower: the status says its share."""
    demo, app = served
    c = client(demo)
    send(c, "Describe it.", files=[images[0]], max_tokens=16).result(timeout=60)
    shown, st = rows(c.predict(api_name="/status")), app.slot.last_stats
    assert st.extra["vision_ms"] > 0
    assert shown["vision tower"] == f"{st.extra['vision_ms']:,.0f} ms of it"
