"""The one loaded model: loaded in a background thread so the page comes up at once, swapped when
the user picks another, and used by one answer at a time."""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import engine
from engine.catalog import OWN_MODEL
from engine.api import EngineError, EngineInfo

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelSpec:
    path: str
    backend: str = "auto"
    attention: str = "full"
    quant: str = "none"
    served_model: str = ""    # the model's name on a remote server (else the first it lists)
    box_format: str = ""      # engine.grounding.formats.CHOICES; "": from the model's config or name
    max_tiles: str = "all"    # a key of engine.api.MAX_TILES (LLaVA-NeXT's tiles per image)

    def load_kwargs(self) -> dict:
        """Only options the user changed are passed, so backends that lack them still load."""
        kw = {"model": self.served_model} if self.served_model else {}
        if self.attention and self.attention != "full":
            kw["attention"] = self.attention
        if self.quant and self.quant != "none":
            kw["quant"] = self.quant
        if self.box_format:
            kw["box_format"] = self.box_format
        if self.max_tiles and self.max_tiles != "all":
            kw["max_tiles"] = self.max_tiles
        return kw


def check_path(path: str) -> None:
    if not path:
        raise EngineError("No model chosen: pick one in the model list or type a path.")
    if path.startswith(("http://", "https://")) or path == OWN_MODEL:  # the own model is assembled at load
        return
    if not Path(path).expanduser().exists():
        from engine.hub.spec import REPO_RE
        if REPO_RE.match(path.removeprefix("hf:")):  # a hub repo id typed where a path goes
            raise EngineError(f"Model path not found: {path}. To download it from Hugging Face, use "
                              f"Get a model in this panel (or python -m engine pull {path.removeprefix('hf:')}).")
        raise EngineError(f"Model path not found: {path}. Check the path, or put models under "
                          "the models folder shown in the model list.")


class ModelSlot:
    def __init__(self, data_dir: Path | None = None, remote_timeout: float | None = None):
        self.data_dir = data_dir      # the engine keeps its files (visual KV cache) there too
        self.remote_timeout = remote_timeout  # for any server URL, typed in the page too
        self.spec: ModelSpec | None = None
        self.engine = None
        self.engine_spec: ModelSpec | None = None  # what the loaded engine was loaded from
        self.state = "empty"          # empty | loading | ready | error
        self.error: str | None = None
        self.started = 0.0
        self.progress: tuple[float, int] | None = None  # (fraction, total bytes) the engine reported
        self.load_seconds = 0.0
        self.last_stats = None        # engine.api.Stats of the last answer
        self.use = threading.Lock()   # held while a model answers or is swapped
        self._ready = threading.Event()
        self._ready.set()             # nothing is loading
        self._generation = 0          # so a slow old load cannot replace a newer one
        self.finished = 0             # loads ended (either way): a page that saw fewer shows the new model

    @property
    def info(self) -> EngineInfo | None:
        return getattr(self.engine, "info", None)

    def load(self, spec: ModelSpec) -> None:
        """Start loading `spec` in the background and return at once."""
        self._generation += 1
        self.spec, self.state, self.error, self.started = spec, "loading", None, time.time()
        self.progress = None
        self._ready.clear()
        threading.Thread(target=self._load, args=(spec, self._generation), daemon=True,
                         name="model-load").start()

    def _load(self, spec: ModelSpec, generation: int) -> None:
        try:
            check_path(spec.path)
            kw = spec.load_kwargs()
            remote = "://" in spec.path
            if remote and self.remote_timeout:
                kw["timeout"] = self.remote_timeout
            new = engine.load(spec.path if remote else str(Path(spec.path).expanduser()),
                              backend=spec.backend, data_dir=self.data_dir,
                              progress=partial(self._report, generation), **kw)
        except EngineError as e:
            return self._finish(generation, None, str(e))
        except Exception as e:  # a broken checkpoint must not take the app down
            log.exception("model load failed")
            return self._finish(generation, None, f"Could not load {spec.path}: {type(e).__name__}: {e}")
        self._finish(generation, new, None)

    def _report(self, generation: int, done: int, total: int) -> None:
        """The engine's progress callback (the loading thread): one tuple, swapped in whole, so
        the page never reads a fraction with another load's total."""
        if generation == self._generation and total > 0:  # not a slow old load's
            self.progress = (min(done / total, 1.0), total)

    def _finish(self, generation: int, new, error: str | None) -> None:
        if generation != self._generation:  # the user picked another model meanwhile
            if new is not None:
                new.close()
            return
        old = None
        with self.use:  # never swap under a running answer
            if new is None and self.engine is not None:  # a failed load keeps the model that works
                self.spec, self.state, self.error = self.engine_spec, "ready", error
            else:
                old, self.engine, self.engine_spec = self.engine, new, self.spec
                self.state, self.error = ("ready", None) if new is not None else ("error", error)
                self.load_seconds = time.time() - self.started
                self.last_stats = None  # the speed of the model that answered, not of this one
        if old is not None:
            old.close()
        self.finished += 1
        self._ready.set()

    def wait(self, cancel: threading.Event | None = None, timeout: float | None = None) -> bool:
        """Wait until the current load has finished (either way); False if cancelled first."""
        end = None if timeout is None else time.time() + timeout
        while not self._ready.wait(0.1):
            if (cancel is not None and cancel.is_set()) or (end is not None and time.time() > end):
                return False
        return True
