"""A pull in a terminal: one progress line (bytes, speed, time left) rewritten in place on a
terminal, a line every few seconds in a log; Ctrl-C stops it and keeps what was fetched."""
from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

from .errors import Cancelled
from .progress import Progress
from .pulling import local_model, pull
from .spec import parse_spec


class Printer:
    def __init__(self, out=None, every: float = 2.0):
        self.out = out or sys.stderr
        self.tty = hasattr(self.out, "isatty") and self.out.isatty()
        self.every, self.last, self.file, self.width = every, 0.0, None, 0

    def __call__(self, p: Progress) -> None:
        line, now = p.text(), time.monotonic()
        if self.tty:
            self.out.write("\r" + line.ljust(self.width))
            self.width = len(line)
            if p.stage == "done":
                self.out.write("\n")
        elif p.stage != "download" or p.file != self.file or now - self.last >= self.every:
            self.out.write(line + "\n")
            self.last, self.file = now, p.file
        self.out.flush()


def pull_here(text: str, models_dir=None, revision: str = "main", file=None, quant=None) -> Path:
    """Pull in the foreground with a progress line; Ctrl-C is a Cancel."""
    spec = parse_spec(text, file=file, quant=quant)
    cancel, printer = threading.Event(), Printer()
    try:
        return pull(spec, models_dir, revision=revision, progress=printer, cancel=cancel)
    except KeyboardInterrupt:
        if printer.tty:
            printer.out.write("\n")
        raise Cancelled(f"pull of {spec.repo} stopped: what was fetched is kept, and the same command "
                        "goes on from there") from None


def model_for(text: str, models_dir=None) -> Path:
    """`hf:OWNER/REPO[:FILE or QUANT]` -> a local model: the one an earlier pull left (no network
    then), else pulled now."""
    return local_model(text, models_dir) or pull_here(text, models_dir)
