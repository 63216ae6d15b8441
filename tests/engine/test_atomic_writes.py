"""A file the app and an eval share, written by two processes at once: each write lands whole, none
fails, and no temporary file is left. Shown on the visual K/V disk tier; the document index, the
blobs, the hub's record and training checkpoints write through the same engine/atomic.py."""
from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from engine.atomic import replacing
from engine.llava.kvstore import VisualKVStore

# Each process puts the same image key 100 times, every layer filled with its own number (~2 MB an
# entry), both starting together. With one fixed temporary name, the second writer's rename found
# the file already renamed away by the first (FileNotFoundError) or renamed a half-written one.
WRITER = """
import sys, time, torch
from pathlib import Path
from engine.llava.kvstore import VisualKVStore
store = VisualKVStore(disk_dir=sys.argv[1])
n = float(sys.argv[2])
ready = Path(sys.argv[3])
(ready / sys.argv[2]).touch()
while len(list(ready.iterdir())) < 2:   # both imported: start together
    time.sleep(0.01)
for _ in range(100):
    store.put("img", [(torch.full((8, 4096), n), torch.full((8, 4096), n)) for _ in range(8)])
"""


def test_two_processes_writing_one_visual_kv_entry(tmp_path_factory):
    tmp_path, ready = tmp_path_factory.mktemp("kv"), tmp_path_factory.mktemp("ready")
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), str(n), str(ready)],
                              stderr=subprocess.PIPE, text=True) for n in (1, 2)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-2000:]
    assert [p.name for p in tmp_path.iterdir()] == ["img.safetensors"]  # no temporary file left
    kv = VisualKVStore(disk_dir=tmp_path).get("img", torch.float32, "cpu")
    assert kv is not None and len(kv) == 8
    values = {float(t.unique().item()) for layer in kv for t in layer if t.unique().numel() == 1}
    assert values in ({1.0}, {2.0})   # one writer's entry, whole: never a mix or a torn file


def test_a_failed_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "index.json"
    path.write_text("old")
    with pytest.raises(OSError):
        with replacing(path) as tmp:
            tmp.write_text("half")
            raise OSError("disk full")
    assert path.read_text() == "old" and list(tmp_path.iterdir()) == [path]
