"""The app's one model download (a model is gigabytes: two at once would only halve each), run in
a thread so that it outlives the page that started it; the page follows its progress."""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable

from engine.hub import Cancelled, Progress, PullError, pull


class Download:
    def __init__(self, models_dir: Path):
        self.models_dir = Path(models_dir)
        self.state = "idle"           # idle | running | done | error | cancelled
        self.spec = ""
        self.progress: Progress | None = None
        self.path: Path | None = None  # what to load, once done
        self.error = ""
        self._cancel = threading.Event()
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self.state == "running"

    def start(self, spec: str, patterns: list[str] | None = None,
              then: Callable[[Path], None] | None = None) -> bool:
        """Start pulling `spec` unless a download runs; `then(path)` when it is in (the load)."""
        with self._lock:
            if self.running:
                return False
            self.state, self.spec, self.progress, self.path, self.error = "running", spec, None, None, ""
            self._cancel.clear()
        threading.Thread(target=self._run, args=(spec, patterns, then), daemon=True, name="pull").start()
        return True

    def cancel(self) -> None:
        self._cancel.set()

    def _run(self, spec, patterns, then) -> None:
        try:
            path = pull(spec, self.models_dir, patterns=patterns, progress=self._seen, cancel=self._cancel)
        except Cancelled as e:
            self.state, self.error = "cancelled", str(e)
            return
        except PullError as e:
            self.state, self.error = "error", str(e)
            return
        except Exception as e:  # a bug must not leave the page waiting for ever
            self.state, self.error = "error", f"{spec}: {type(e).__name__}: {e}"
            return
        self.path = path
        if then is not None:
            then(path)
        self.state = "done"

    def _seen(self, p: Progress) -> None:
        self.progress = p
