"""`python -m engine train` replaces itself, once, by the same command under jemalloc where the
machine has it (engine/train/malloc.py); the user can keep glibc's. The training smoke run checks
the allocator its process really ran on."""
from __future__ import annotations

import ctypes.util
import os
import subprocess
import sys

import pytest

RERUN = "from engine.train import malloc; malloc.rerun_under_jemalloc(['--help']); print('stayed', malloc.in_use())"


def _run(**env):
    return subprocess.run([sys.executable, "-c", RERUN], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **env}, cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))


@pytest.mark.skipif(not ctypes.util.find_library("jemalloc"), reason="this machine has no jemalloc")
def test_the_command_becomes_itself_under_jemalloc():
    r = _run(ENGINE_TRAIN_MALLOC="", LD_PRELOAD="")
    assert r.returncode == 0 and "usage: python -m engine train" in r.stdout and "stayed" not in r.stdout, r.stderr


def test_the_user_can_keep_the_system_allocator():
    r = _run(ENGINE_TRAIN_MALLOC="system", LD_PRELOAD="")
    assert r.stdout.split() == ["stayed", "system"], r.stderr
