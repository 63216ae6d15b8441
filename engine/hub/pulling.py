"""`pull`: a model from the hub into the models folder, where the model list finds it.

One folder per repo (`OWNER--REPO`). Each file is fetched to `NAME.part` (kept when the pull
stops, so the next pull goes on from there), checked against the hub's hash, then renamed; the
file that makes the folder a model (config.json, or the model GGUF) comes last, so a half-pulled
repo is never listed. `.vlchat-pull.json` records what came from which commit, so a file already
pulled is not fetched or hashed again, and `hf:` models start offline once pulled."""
from __future__ import annotations

import fcntl
import json
import os
import shutil
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

from ..atomic import write_text
from .client import Hub, Listing, RemoteFile
from .errors import Cancelled, PullError, one_line
from .progress import Meter, Progress, size_text
from .spec import HubSpec, choose, parse_spec
from .verify import matches

RECORD = ".vlchat-pull.json"
DISK_MARGIN = 200 << 20   # left free after a pull: a full disk breaks more than the download


def default_models_dir() -> Path:
    from ..catalog import data_dir
    return data_dir() / "models"


def free_bytes(path: Path) -> int:
    return shutil.disk_usage(path).free


def _local(name: str) -> str:
    return Path(name).name   # flat: a GGUF's mmproj must sit beside it


def _read_record(dest: Path) -> dict:
    try:
        rec = json.loads((dest / RECORD).read_text())
        return rec if isinstance(rec, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_record(dest: Path, rec: dict) -> None:
    write_text(dest / RECORD, json.dumps(rec, indent=1))


def _hash_of(f: RemoteFile) -> dict:
    return {"size": f.size, "sha256": f.sha256, "blob_id": f.blob_id}


@contextmanager
def _only_pull(dest: Path, repo: str):
    """One pull of a repo at a time (the page and a terminal could both start one)."""
    with open(dest / ".vlchat-pull.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise PullError(f"another pull of {repo} is running") from None
        yield


def local_model(spec: HubSpec | str, models_dir: str | os.PathLike | None = None) -> Path | None:
    """The model an earlier pull of `spec` left, found without the network; None if none did."""
    spec = parse_spec(spec) if isinstance(spec, str) else spec
    dest = Path(models_dir or default_models_dir()) / spec.folder_name
    for p in reversed(_read_record(dest).get("pulls", [])):
        asked = (p.get("file"), (p.get("quant") or "").lower() or None)
        if (spec.file or spec.quant) and asked != (spec.file, (spec.quant or "").lower() or None):
            continue
        if all((dest / _local(n)).is_file() for n in p.get("files", [])):
            return dest / _local(p["model"]) if p.get("model") else dest
    return None


class _Reporter:
    """Progress over all of a pull's files, at most ten times a second."""

    def __init__(self, repo: str, total: int, done: int, callback: Callable[[Progress], None] | None):
        self.repo, self.total, self.base, self.start = repo, total, done, done
        self.callback, self.meter, self.last = callback, Meter(), 0.0

    def at(self, name: str, pos: int, force: bool = False, stage: str = "download") -> None:
        now = time.monotonic()
        if self.callback is None or (not force and now - self.last < 0.1):
            return
        self.last = now
        done = self.base + pos
        speed, eta = self.meter.update(done - self.start, self.total - done)
        self.callback(Progress(self.repo, name, done, self.total, speed, eta, stage))


def pull(spec: HubSpec | str, models_dir: str | os.PathLike | None = None, *, revision: str = "main",
         patterns: list[str] | None = None, progress: Callable[[Progress], None] | None = None,
         cancel: threading.Event | None = None, hub: Hub | None = None) -> Path:
    """Fetch `spec` (OWNER/REPO[:FILE or QUANT]) into the models folder; return what to load: the
    folder of a transformers model, or the model GGUF (its mmproj beside it). Raises PullError with
    one line (Cancelled when `cancel` is set: what was fetched stays for the next pull)."""
    spec = parse_spec(spec) if isinstance(spec, str) else spec
    mdir = Path(models_dir or default_models_dir())
    hub = hub or Hub()
    try:
        listing = hub.listing(spec.repo, revision)
        choice = choose(list(listing.files), spec, patterns)
        dest = mdir / spec.folder_name
        dest.mkdir(parents=True, exist_ok=True)
        with _only_pull(dest, spec.repo):
            _fetch(hub, listing, [listing.files[n] for n in choice.files], choice, dest, progress, cancel)
            rec = _read_record(dest)
            pulls = [p for p in rec.get("pulls", []) if (p.get("file"), p.get("quant")) != (spec.file, spec.quant)]
            rec["pulls"] = pulls + [{"file": spec.file, "quant": spec.quant, "files": choice.files,
                                     "model": choice.model, "revision": revision, "commit": listing.commit}]
            _write_record(dest, rec)
    except Cancelled:
        raise Cancelled(f"pull of {spec.repo} cancelled: what was fetched is kept, and the next pull "
                        "goes on from there") from None
    except Exception as e:
        raise one_line(e, spec.repo, hub.endpoint) from None
    return dest / _local(choice.model) if choice.model else dest


def _fetch(hub: Hub, listing: Listing, files: list[RemoteFile], choice, dest: Path, progress, cancel) -> None:
    marker = choice.model or "config.json"
    files = sorted(files, key=lambda f: (_local(f.name) == _local(marker), f.name))
    rec = _read_record(dest)
    have = rec.setdefault("files", {})
    kept = [f for f in files if (dest / _local(f.name)).is_file() and have.get(f.name) == _hash_of(f)]
    todo = [f for f in files if f not in kept]
    parts = {f.name: dest / (_local(f.name) + ".part") for f in todo}
    on_disk = sum(min(p.stat().st_size, f.size) for f in todo if (p := parts[f.name]).is_file())
    need = sum(f.size for f in todo) - on_disk
    free = free_bytes(dest)
    if need + DISK_MARGIN > free:
        raise PullError(f"not enough disk for {listing.repo}: it needs {size_text(need)} more in {dest.parent}, "
                        f"{size_text(free)} is free")
    report = _Reporter(listing.repo, sum(f.size for f in files), sum(f.size for f in kept), progress)
    for f in todo:
        name, part = _local(f.name), parts[f.name]
        report.at(name, 0, force=True)
        url, headers = hub.locate(listing.repo, listing.commit, f)
        hub.download(url, headers, part, f.size, cancel, lambda pos: report.at(name, pos))
        report.at(name, f.size, force=True, stage="check")
        if not matches(part, f, cancel):
            part.unlink()
            raise PullError(f"{f.name} from {listing.repo} does not match the hub's "
                            f"{'sha256' if f.sha256 else 'hash'}: refused and removed; pull again")
        os.replace(part, dest / name)
        have[f.name] = _hash_of(f)
        _write_record(dest, rec)
        report.base += f.size
    report.at(_local(marker), 0, force=True, stage="done")
