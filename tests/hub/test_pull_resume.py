"""A download stopped in the middle goes on from the last byte on disk: the server counts what it
sends, and no byte is sent twice."""
from __future__ import annotations

import threading

import pytest

from engine.catalog import list_models
from engine.hub import Cancelled, pull
from hub_server import TORCH_REPO

WEIGHTS = (TORCH_REPO, "model.safetensors")


def test_a_connection_cut_in_the_middle_resumes_where_it_stopped(hub, models_dir, tiny_llava):
    size = len(hub.repos[TORCH_REPO].files["model.safetensors"])
    hub.cut_once[WEIGHTS] = size // 2 + 12345     # the server drops the connection there
    path = pull(TORCH_REPO, models_dir)
    assert [g.start for g in hub.gets if (g.repo, g.name) == WEIGHTS] == [0, size // 2 + 12345]
    assert hub.served[WEIGHTS] == size            # not a byte twice
    assert (path / "model.safetensors").read_bytes() == (tiny_llava / "model.safetensors").read_bytes()


def test_a_cancelled_pull_keeps_its_bytes_and_the_next_pull_goes_on_from_there(hub, models_dir, tiny_llava):
    size = len(hub.repos[TORCH_REPO].files["model.safetensors"])
    hub.bytes_per_s = 8e6
    cancel = threading.Event()

    def stop_midway(p):
        if p.file == "model.safetensors" and p.done > 6e6:
            cancel.set()
    with pytest.raises(Cancelled, match="kept") as e:
        pull(TORCH_REPO, models_dir, progress=stop_midway, cancel=cancel)
    assert "\n" not in str(e.value)
    folder = models_dir / "tests--tiny-llava"
    kept = (folder / "model.safetensors.part").stat().st_size
    assert 0 < kept < size
    assert not (folder / "config.json").exists()    # a half-pulled repo is not a model yet
    assert not [e for e in list_models(models_dir=models_dir) if e.source == "models dir"]

    hub.bytes_per_s, before = None, len(hub.gets)
    path = pull(TORCH_REPO, models_dir)
    again = [g for g in hub.gets[before:] if (g.repo, g.name) == WEIGHTS]
    assert [(g.start, g.sent) for g in again] == [(kept, size - kept)]   # only the rest, once
    assert (path / "model.safetensors").read_bytes() == (tiny_llava / "model.safetensors").read_bytes()
    assert not list(path.glob("*.part"))
