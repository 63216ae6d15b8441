"""How far a pull is: bytes, speed over the last seconds, time left; one line of text for the
terminal and the page alike."""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass


def size_text(n: float) -> str:
    """Decimal units, as model sites and file managers give a download's size."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{int(n)} B"


def time_text(s: float) -> str:
    s = int(s + 0.5)
    if s >= 3600:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    return f"{s // 60} min {s % 60:02d} s" if s >= 60 else f"{s} s"


@dataclass(frozen=True)
class Progress:
    repo: str
    file: str            # the file being fetched or checked
    done: int            # bytes on disk of all the pull's files
    total: int
    speed: float = 0.0   # bytes/s, over the last few seconds
    eta: float | None = None
    stage: str = "download"   # download | check | done

    @property
    def fraction(self) -> float:
        return min(self.done / self.total, 1.0) if self.total else 0.0

    def text(self) -> str:
        if self.stage == "check":
            return f"{self.file}: checking it against the hub's hash"
        if self.stage == "done":
            return f"{self.repo}: {size_text(self.total)} fetched and checked"
        pct = int(self.fraction * 100)   # rounded down: never 100 % before the last byte
        line = f"{self.file}: {size_text(self.done)} of {size_text(self.total)} ({pct} %)"
        if self.speed > 0:
            line += f", {size_text(self.speed)}/s"
        if self.eta is not None:
            line += f", {time_text(self.eta)} left"
        return line


class Meter:
    """Speed from the bytes of the last `window` seconds (a stall shows at once), time left from it."""

    def __init__(self, window: float = 5.0):
        self.window = window
        self.samples: deque[tuple[float, int]] = deque()

    def update(self, fetched: int, left: int) -> tuple[float, float | None]:
        now = time.monotonic()
        self.samples.append((now, fetched))
        while len(self.samples) > 2 and now - self.samples[1][0] > self.window:
            self.samples.popleft()
        t0, b0 = self.samples[0]
        if now - t0 < 0.2:
            return 0.0, None
        speed = (fetched - b0) / (now - t0)
        return speed, (left / speed if speed > 0 else None)
