"""The status line of the side panel: loading progress, device, dtype, memory, last answer's speed."""
from __future__ import annotations

import html
import os
import time
from urllib.parse import urlsplit

from .model_slot import ModelSlot


def memory_used_mib() -> float:
    """Resident memory of this process (the model lives in it, unless it is remote)."""
    try:
        import psutil
        return psutil.Process(os.getpid()).memory_info().rss / 2**20
    except ImportError:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def size_text(n: int) -> str:
    """Bytes in decimal units, as file managers and model sites give a download's size."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def _done_text(frac: float, total: int) -> str:
    pct = int(frac * 100 + 1e-9)  # rounded down: never "100 %" while bytes are still coming
    return f"{pct} % of {size_text(total)}" + (" read, setting up" if frac >= 1 else "")


def shown_name(path: str) -> str:
    """A model folder or file by its name; a server by its host and path (never user:password@)."""
    if "://" in path:
        parts = urlsplit(path)
        return parts.netloc.rpartition("@")[2] + parts.path.rstrip("/")
    return os.path.basename(path.rstrip("/")) or path


def _loading(slot: ModelSlot) -> str:
    name = html.escape(shown_name(slot.spec.path))
    secs = time.time() - slot.started
    reported = slot.progress  # read once: the loading thread replaces it
    if reported is None:
        # Nothing reported (a remote server, or not yet): an indeterminate bar (no value), which
        # claims no fraction, so it never runs back when the first real report comes.
        said, bar = f"{secs:.0f} s", "<progress class='vl-bar'></progress>"
    else:
        said = f"{_done_text(*reported)}, {secs:.0f} s"
        bar = f"<progress class='vl-bar' max='1' value='{reported[0]:.3f}'></progress>"
    return f"<div class='vl-status'>Loading <b>{name}</b> ({slot.spec.backend}) … {said}{bar}</div>"


# Engine cache counters worth showing (Stats.extra keys; each backend reports what it has).
CACHE_STATS = [("reused_prefix_tokens", "reused prefix", "{:,} tokens"),
               ("reused_tokens", "reused prefix", "{:,} tokens"),
               ("visual_cache_hits", "image cache hits", "{:,}"),
               ("images_encoded", "images encoded", "{:,}")]


def cache_rows(extra: dict) -> list[tuple[str, str]]:
    rows, seen = [], set()
    for key, label, fmt in CACHE_STATS:
        if key in extra and label not in seen:
            seen.add(label)
            rows.append((label, fmt.format(extra[key])))
    return rows


def memory_rows(stats) -> list[tuple[str, str]]:
    """GPU memory when the engine reports it (Stats.extra["memory_bytes"], torch on CUDA), beside
    this process's memory; else the process's memory alone (CPU, GGUF: the model lives in it)."""
    rss = ("memory", f"{memory_used_mib():,.0f} MiB")
    gpu = ((stats.extra or {}) if stats is not None else {}).get("memory_bytes")
    if gpu is None:
        return [rss]
    return [("GPU memory", f"{gpu / 2**20:,.0f} MiB"), ("process memory", rss[1])]


# What a user of a text-only model (the default one) needs to know to chat about images.
NO_VISION = ("no (text only). To chat about images, pick the own EE-MLLM in the list (it sees "
             "generated scenes), or load a vision model: a LLaVA folder, or a GGUF with its "
             "mmproj-*.gguf beside it (put either under the models folder to list it), "
             "or download one with Get a model below.")


def _ready(slot: ModelSlot, answering: bool = False) -> str:
    info = slot.info
    rows = [("model", info.name), ("backend", info.backend), ("device", info.device),
            ("dtype", info.dtype)]
    if info.quantization:
        rows.append(("quantization", info.quantization))
    if info.attention:
        rows.append(("attention", info.attention))
    rows.append(("sees images", (info.sees or "yes") if info.vision else NO_VISION))
    if info.vision:
        rows.append(("boxes", slot.engine.box_source))
    st = slot.last_stats
    rows += memory_rows(st)
    rows.append(("loaded in", f"{slot.load_seconds:.1f} s"))
    if st is not None:
        known = (st.extra or {}).get("prompt_tokens_known", True)  # a server may not say
        rows.append(("prefill", f"{st.prefill_ms:,.0f} ms ({st.prompt_tokens if known else '?'} tokens)"))
        visual = (st.extra or {}).get("visual_tokens")
        if visual:  # a tiled (any-resolution) image alone can be thousands
            rows.append(("images", f"{visual:,} visual tokens"))
        tower = (st.extra or {}).get("vision_ms")
        if tower:  # the image's share of the first token (0 when its visual K/V came from the cache)
            rows.append(("vision tower", f"{tower:,.0f} ms of it"))
        ocr = (st.extra or {}).get("ocr_ms", 0)
        if ocr >= 1:  # a model that reads words: the OCR before the prefill (~0 for an image read before)
            rows.append(("words read (OCR)", f"{ocr:,.0f} ms"))
        rows.append(("decode", f"{st.decode_tokens_per_s:,.1f} tokens/s"))
        rows += cache_rows(st.extra or {})
    body = "".join(f"<tr><td>{k}</td><td>{html.escape(str(v))}</td></tr>" for k, v in rows)
    failed = ""
    if slot.error:  # the last load failed: this model stayed
        failed = (f"<div class='vl-error'>⚠ {html.escape(slot.error)} Still using "
                  f"<b>{html.escape(info.name)}</b>.</div>")
    said = "<b class='vl-busy'>● Answering…</b>" if answering else "<b class='vl-ok'>● Ready</b>"
    return f"<div class='vl-status'>{failed}{said}<table>{body}</table></div>"


def _error(slot: ModelSlot) -> str:
    return f"<div class='vl-status vl-error'>⚠ {html.escape(slot.error or 'load failed')}</div>"


def _empty(slot: ModelSlot) -> str:
    return "<div class='vl-status'>No model loaded. Pick one above and press Load.</div>"


RENDER = {"loading": _loading, "ready": _ready, "error": _error, "empty": _empty}


def status_html(slot: ModelSlot, answering: bool = False) -> str:
    """`answering`: an answer the page asked for is being written (said instead of Ready)."""
    return _ready(slot, answering) if slot.state == "ready" else RENDER[slot.state](slot)
