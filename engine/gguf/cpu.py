"""How many threads llama.cpp should use: one per physical core this process may run on
(hyper-threads share a core's vector units, so more threads only add contention)."""
from __future__ import annotations

import os
from pathlib import Path


def physical_cores() -> int:
    cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else range(os.cpu_count() or 1)
    cores = set()
    for cpu in cpus:
        topo = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology")
        try:
            cores.add((topo.joinpath("physical_package_id").read_text().strip(),
                       topo.joinpath("core_id").read_text().strip()))
        except OSError:
            return max(1, len(cpus))  # no sysfs (macOS, Windows): every CPU we may use
    return max(1, len(cores))
