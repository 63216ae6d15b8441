"""Training runs under jemalloc where the machine has it (Debian/Ubuntu: libjemalloc2).

Every batch has another sequence length, so the tensors of every step have other sizes; under
glibc's malloc the training process grew to 6.8-8 GB and its steps slowed from 4.1 to 6.2 s
within a 70-minute CPU run. Under jemalloc the same stage held ~2.3 GB and ~3.2 s a step to the end
(TRAINING.md, "Why the runs slowed"). LD_PRELOAD is read only when a process starts, so the command replaces
itself, once, by the same command with jemalloc preloaded. ENGINE_TRAIN_MALLOC=system keeps glibc's."""
from __future__ import annotations

import ctypes.util
import os
import sys
from pathlib import Path

MARK = "ENGINE_TRAIN_MALLOC"


def in_use() -> str:
    """The allocator this process runs on, read from its own memory map (what is, not what was asked)."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return "unknown"
    return "jemalloc" if "libjemalloc" in maps else "system"


def rerun_under_jemalloc(argv: list[str]) -> None:
    """Replace this process by `python -m engine train ARGV` with jemalloc preloaded; returns (does
    nothing) where the machine lacks it, where it is loaded already, or where the user said no."""
    if os.environ.get(MARK) or not sys.platform.startswith("linux") or in_use() == "jemalloc":
        return
    lib = ctypes.util.find_library("jemalloc")
    if not lib:
        return
    env = {**os.environ, MARK: "jemalloc",
           "LD_PRELOAD": " ".join(p for p in (os.environ.get("LD_PRELOAD"), lib) if p)}
    sys.stdout.flush(), sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, "-m", "engine", "train", *argv], env)


def note() -> str:
    """One line for the start of a run: which allocator, and how to get jemalloc where it is missing."""
    got = in_use()
    if got == "jemalloc" or not sys.platform.startswith("linux"):
        return f"memory allocator: {got}"
    hint = "" if os.environ.get(MARK) == "system" else " (install libjemalloc2: glibc's slows long CPU runs, TRAINING.md)"
    return f"memory allocator: {got}{hint}"
