"""Shared bits of the benchmark scripts: timing, this machine's measured rates, table printing."""
from __future__ import annotations

import statistics
import time


def best_of(fn, repeats: int = 3, warmup: int = 1) -> float:
    """Median wall time in seconds of fn() over `repeats` runs after `warmup` runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def interleaved(fns: dict, repeats: int = 3, warmup: int = 1) -> dict:
    """Median seconds of each fn, run round-robin so that load spikes hit every contender alike."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def matmul_flops_per_s(n: int | None = None, dtype=None, device: str = "cpu") -> float:
    """This device's measured matmul rate in `dtype`: the yardstick for 'fraction of peak'."""
    import torch
    cuda = device.startswith("cuda")
    n = n or (8192 if cuda else 2048)
    a = torch.randn(n, n, device=device).to(dtype or torch.float32)
    b = torch.randn(n, n, device=device).to(dtype or torch.float32)

    def mm():
        a @ b
        if cuda:
            torch.cuda.synchronize()
    mm()
    return 2 * n ** 3 / min(best_of(mm, repeats=1, warmup=0) for _ in range(7))  # the best: a peak, not a typical rate


def copy_bytes_per_s(mib: int = 256) -> float:
    """Measured memory bandwidth of a large copy (bytes read + written per second)."""
    import torch
    src = torch.empty(mib * 2 ** 20 // 4, dtype=torch.float32).fill_(1.0)
    dst = torch.empty_like(src)
    return 2 * src.numel() * 4 / best_of(lambda: dst.copy_(src), repeats=5)


def print_table(rows: list[dict], columns: list[tuple[str, str, str]]) -> None:
    """columns: (key, header, format)."""
    cells = [[h for _, h, _ in columns]] + [[format(r[k], f) if r.get(k) is not None else "-"
                                             for k, _, f in columns] for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(columns))]
    for j, row in enumerate(cells):
        print("| " + " | ".join(c.rjust(w) for c, w in zip(row, widths)) + " |")
        if j == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
