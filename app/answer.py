"""One answer being written: the model runs in its own thread, a second thread saves the growing
text to the store every FLUSH_SECONDS while it changes (so a crash loses at most that, even when
the engine pauses between tokens), and the page follows along.

The answer belongs to the store, not to the browser tab: closing the tab does not lose it, and
stop works through the engine's cancel event, which the decode loop checks between tokens."""
from __future__ import annotations

import dataclasses
import logging
import threading
import time

from engine.api import Box, Done, EngineError, GenParams, NoBox, Stats, Token

from .model_slot import ModelSlot
from .store import Store, StoredMessage

log = logging.getLogger(__name__)

FLUSH_SECONDS = 0.5
SAMPLED = ("temperature", "top_p", "top_k", "repetition_penalty", "max_new_tokens")
DONE_STATUS = {"stop": "done", "length": "done", "cancelled": "cancelled", "error": "error"}


def _token(a: "Answer", ev: Token) -> None:
    a.text += ev.text


def _box(a: "Answer", ev: Box) -> None:
    a.boxes.append(ev)
    a.box_at.append(len(a.text))  # its [k] follows: where the box goes back in the next turn


def _nobox(a: "Answer", ev: NoBox) -> None:
    a.nulls.append({"image_index": ev.image_index, "at": len(a.text)})  # drawn as nothing, sent back


def _stats(a: "Answer", ev: Stats) -> None:
    a.stats = ev


def _done(a: "Answer", ev: Done) -> None:
    a.reason = ev.reason
    a.status = DONE_STATUS.get(ev.reason, "done")
    a.error = ev.error
    a.notes = list(ev.notes)  # boxes of the answer clipped or dropped: shown under it, and stored


ON_EVENT = {Token: _token, Box: _box, NoBox: _nobox, Stats: _stats, Done: _done}


class Answer:
    def __init__(self, store: Store, slot: ModelSlot, chat_id: int, parent_id: int,
                 messages, params, finish=None, extra: dict | None = None, owner: str | None = None,
                 resume: StoredMessage | None = None, fixed: str | None = None, fallback=None):
        """`messages`: a list, or a function of the model's EngineInfo that makes it once the model
        is loaded (a document prompt holds page images only for a model that sees).
        `params`: GenParams, or a function of EngineInfo (the model's own sampling, known once loaded).
        `finish(answer) -> dict`: more meta once the text is complete (figures with boxes).
        `resume`: an answer cut at the token limit, written on (Continue) instead of a new one.
        `fixed`: the app's own answer, given without running the model (a document that does not
        seem to say).
        `fallback(info) -> (messages, note) | None`: a plainer prompt tried once when the model
        failed before writing anything (a server whose model takes no page images); the note is
        shown under the answer it gave."""
        self.store, self.slot, self.chat_id = store, slot, chat_id
        self.messages, self.params, self.fixed = messages, params, fixed
        self.finish, self.extra, self.fallback = finish, dict(extra or {}), fallback
        self.cancel = threading.Event()
        self.text, self.boxes, self.stats = "", [], None
        self.box_at: list[int] = []  # offset in text of each box's [k]
        self.nulls: list[dict] = []   # the box head's points into nothing: image_index, offset in text
        if resume is None:
            self.msg_id = store.add(chat_id, parent_id, "assistant", "", status="streaming")
        else:
            self.msg_id, self.text = resume.id, resume.text
            for b in resume.meta.get("boxes", []):
                self.boxes.append(Box(**{k: b[k] for k in ("ref", "image_index", "x1", "y1", "x2", "y2")}))
                self.box_at.append(b.get("at", -1))
            self.nulls = list(resume.meta.get("nulls", []))
            store.update(self.msg_id, status="streaming")
        self.status, self.reason, self.error, self.note = "streaming", None, None, ""
        self.notes: list[str] = []
        self.finished = False
        self.owner = owner  # the page session that asked (Stop from a page with no chat yet)
        self.version = 0
        self._cond = threading.Condition()
        self._ended = threading.Event()   # the writer has stopped: no more periodic saves
        self._save_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"answer-{self.msg_id}")
        self._thread.start()

    # ---- the writer -----------------------------------------------------------------------------
    def _run(self) -> None:
        threading.Thread(target=self._save_while_streaming, daemon=True,
                         name=f"answer-save-{self.msg_id}").start()
        try:
            self._stream()
        except EngineError as e:
            self.status, self.error = "error", str(e)
        except Exception as e:  # an engine bug must not lose the partial answer
            log.exception("answer %s failed", self.msg_id)
            self.status, self.error = "error", f"{type(e).__name__}: {e}"
        finally:
            if self.status == "streaming":
                self.status = "cancelled" if self.cancel.is_set() else "done"
            self._finish()
            self.note = ""
            self._ended.set()
            self._flush()
            self.finished = True
            self._changed()

    def _stream(self) -> None:
        if self.fixed is not None:
            self.text, self.reason = self.fixed, "stop"
            return
        if self.slot.state == "loading":
            self._set_note("Waiting for the model to finish loading…")
        if not self.slot.wait(self.cancel):
            return
        self._set_note("")
        if not self.slot.use.acquire(blocking=False):
            self._set_note("Waiting for the answer in progress to finish…")
            while not self.slot.use.acquire(timeout=0.1):
                if self.cancel.is_set():
                    return
            self._set_note("")
        try:
            engine = self.slot.engine
            if engine is None:
                raise EngineError(f"No model is loaded ({self.slot.error})" if self.slot.error else
                                  "No model is loaded. Pick one in the side panel and press Load.")
            if callable(self.messages):
                self.messages = self.messages(engine.info)
            if callable(self.params):
                self.params = self.params(engine.info)
            self._generate(engine)
            retry = self._plainer(engine.info)
            if retry is not None:
                self.messages, note = retry
                self.status, self.reason, self.error, self.notes, self.stats = "streaming", None, None, [], None
                self._generate(engine)
                if self.status != "error":
                    self.notes.append(note)
            if self.stats is not None:
                self.slot.last_stats = self.stats
            if self.status != "error":
                self.slot.error = None  # a failed load's message goes once the model answers
        finally:
            self.slot.use.release()

    def _generate(self, engine) -> None:
        for ev in engine.stream(self.messages, self.params, self.cancel):
            ON_EVENT[type(ev)](self, ev)
            self._changed()

    def _plainer(self, info):
        """The fallback's prompt, when there is one and the model failed before writing anything."""
        failed = self.status == "error" and not (self.text or self.boxes) and not self.cancel.is_set()
        return self.fallback(info) if failed and self.fallback is not None else None

    def _finish(self) -> None:
        if self.finish is None or not (self.text or self.boxes):
            return
        try:
            self.extra.update(self.finish(self))
        except Exception:  # drawing boxes must never lose the answer
            log.exception("answer %s: figures failed", self.msg_id)

    def _save_while_streaming(self) -> None:
        """Driven by time, not by tokens: what arrived just before the engine paused (a long box
        decode, a slow remote server) is saved within FLUSH_SECONDS all the same."""
        saved = self.version
        while not self._ended.wait(FLUSH_SECONDS):
            if self.version != saved:
                saved = self.version
                try:
                    self._flush(periodic=True)
                except Exception:  # a failed save is retried next time; the final save still runs
                    log.exception("answer %s: periodic save failed", self.msg_id)
                    saved = -1

    def _flush(self, periodic: bool = False) -> None:
        with self._save_lock:  # a periodic save never lands after the final one
            if not (periodic and self._ended.is_set()):
                self._write()

    def _write(self) -> None:
        meta = {**self.extra, "boxes": [{**dataclasses.asdict(b), "at": at}
                                        for b, at in zip(self.boxes, self.box_at)]}
        if self.nulls:
            meta["nulls"] = self.nulls
        if self.stats is not None:
            meta["stats"] = dataclasses.asdict(self.stats)
        if self.reason:
            meta["reason"] = self.reason
        if isinstance(self.params, GenParams):  # what the answer was sampled with
            meta["sampling"] = {k: getattr(self.params, k) for k in SAMPLED}
        if self.error:
            meta["error"] = self.error
        if self.notes:
            meta["notes"] = self.notes
        self.store.update(self.msg_id, text=self.text, status=self.status, meta=meta)

    def _set_note(self, note: str) -> None:
        self.note = note
        self._changed()

    def _changed(self) -> None:
        with self._cond:
            self.version += 1
            self._cond.notify_all()

    # ---- the readers ----------------------------------------------------------------------------
    def stop(self) -> None:
        self.cancel.set()

    def follow(self, min_interval: float = 0.05):
        """Yield self whenever it changed (at most every min_interval), the last time when finished."""
        seen = -1
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self.version != seen, timeout=1.0)
                seen, finished = self.version, self.finished
            yield self
            if finished:
                return
            time.sleep(min_interval)  # batch tokens so the page gets ~20 updates a second

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)
