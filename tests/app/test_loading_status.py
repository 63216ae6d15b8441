"""The loading status shows the fraction the engine really reported ("42 % of 1.3 GB"), read
from a real load of a sharded tiny checkpoint, and an indeterminate bar (with the seconds
elapsed) only while nothing was reported."""
import json
import re
import time

import pytest

from app.model_slot import ModelSlot, ModelSpec
from app.status import size_text, status_html

SHOWN = re.compile(r"… (\d+) % of ([\d.]+ [kMG]?B)")


def loading_slot(path="/models/llava-7b") -> ModelSlot:
    slot = ModelSlot()
    slot.spec, slot.state, slot.started = ModelSpec(path, "torch"), "loading", time.time()
    return slot


def test_mid_load_status_shows_the_reported_percentage_and_size():
    slot = loading_slot()
    slot._generation = 1
    slot._report(1, 546_000_000, 1_300_000_000)
    html = status_html(slot)
    assert "42 % of 1.3 GB" in html and "value='0.420'" in html and "setting up" not in html
    slot._report(1, 1_299_999_999, 1_300_000_000)
    assert "99 % of 1.3 GB" in status_html(slot)  # rounded down: 100 % only once all is read
    slot._report(0, 1_300_000_000, 1_300_000_000)  # a report from a load the user replaced
    assert "99 % of 1.3 GB" in status_html(slot)


def test_without_reports_the_bar_is_indeterminate_and_claims_no_percentage():
    html = status_html(loading_slot())
    assert "<progress class='vl-bar'></progress>" in html  # no value: the browser animates it
    assert "%" not in html and not SHOWN.search(html) and "value=" not in html


class Watched(ModelSlot):
    """A real slot that also renders its status each time the engine reports progress."""

    def __init__(self):
        super().__init__()
        self.shown: list[str] = []

    def _report(self, generation, done, total):
        super()._report(generation, done, total)
        self.shown.append(status_html(self))


@pytest.mark.slow
def test_a_real_load_shows_percentages_rising_to_100_of_the_checkpoint_size(make_tiny_ckpt):
    folder = make_tiny_ckpt(shard_size="4MB")  # several shards, as a large checkpoint has
    weight_map = json.loads((folder / "model.safetensors.index.json").read_text())["weight_map"]
    total = sum((folder / n).stat().st_size for n in set(weight_map.values()))
    slot = Watched()
    slot.load(ModelSpec(str(folder), backend="torch"))
    assert slot.wait(timeout=60) and slot.state == "ready", slot.error
    try:
        shown = [SHOWN.search(h).groups() for h in slot.shown]
        pcts = [int(p) for p, _ in shown]
        assert {s for _, s in shown} == {size_text(total)}
        assert pcts[0] == 0 and pcts[-1] == 100 and pcts == sorted(pcts)
        assert any(0 < p < 100 for p in pcts)
        assert "read, setting up" in slot.shown[-1] and all("Loading" in h for h in slot.shown)
        assert slot.progress == (1.0, total)
    finally:
        slot.engine.close()


def test_a_server_loads_under_its_host_not_the_last_part_of_its_url():
    html = status_html(loading_slot("http://user:secret@gpu-box:8000/v1/"))
    assert "Loading <b>gpu-box:8000/v1</b>" in html and "secret" not in html
    assert "Loading <b>llava-7b</b>" in status_html(loading_slot("/models/llava-7b/"))
