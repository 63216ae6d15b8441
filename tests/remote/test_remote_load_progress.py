"""A remote server reports no loading progress: the app's slot still loads it with its progress
callback given, and keeps the time-based bar (no percentage) for it."""
import pytest

from app.model_slot import ModelSlot, ModelSpec

pytestmark = pytest.mark.slow


def test_a_server_loads_with_a_progress_callback_and_reports_nothing(server):
    slot = ModelSlot()
    slot.load(ModelSpec(server.url, backend="openai"))
    assert slot.wait(timeout=60) and slot.state == "ready", slot.error
    try:
        assert slot.info.backend == "openai" and slot.progress is None
    finally:
        slot.engine.close()
