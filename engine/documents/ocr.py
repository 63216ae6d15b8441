"""OCR for pages without a text layer: RapidOCR (PP-OCRv4 ONNX models shipped in the
rapidocr-onnxruntime wheel, so it runs offline) with per-character boxes grouped into words."""
from __future__ import annotations

import threading

import numpy as np

from ..api import EngineError
from .pages import Word, same_line

_engine = None
_load_lock = threading.Lock()
_run_lock = threading.Lock()   # one inference at a time: onnxruntime already uses every core
MIN_SCORE = 0.5
# RapidOCR's defaults lose whole lines of plain printed pages (a long 14 pt line at 200-300 dpi,
# lines of dense 10-11 pt text): its angle classifier takes some upright lines for upside down
# and the flipped crop reads as nothing, and its text regions are grown too little (1.6).
# Without the classifier and with regions grown by 2.2, three test documents (7 pages) rendered
# at 144, 200 and 300 dpi read 6918 of 6981 words in order (defaults: 1363). The cost: a page
# scanned upside down is not turned.
UNCLIP = 2.2


def _get():
    global _engine
    with _load_lock:
        if _engine is None:
            try:
                from rapidocr_onnxruntime import RapidOCR
            except ImportError:
                raise EngineError("This page is a scan and reading it needs OCR: "
                                  "pip install rapidocr-onnxruntime") from None
            _engine = RapidOCR(det_unclip_ratio=UNCLIP)
        return _engine


def load() -> None:
    """Load the OCR's models now (a few seconds, once per process) rather than in a first answer."""
    _get()


def _quad_box(points, w: int, h: int):
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return min(xs) / w, min(ys) / h, max(xs) / w, max(ys) / h


def _union(boxes):
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def ocr_words(image) -> tuple[str, list[Word]]:
    """(text, words) of a PIL image; boxes normalized to the image. Lines in reading order."""
    rgb = np.asarray(image.convert("RGB"))
    h, w = rgb.shape[:2]
    engine = _get()
    with _run_lock:
        result, _ = engine(rgb, return_word_box=True, use_cls=False)
    lines, words = [], []
    for item in reading_order(result or []):
        quad, text, score = item[0], item[1], item[2]
        if score < MIN_SCORE or not text.strip():
            continue
        lines.append(text)
        words.extend(_line_words(text, quad, item[3] if len(item) > 4 else None,
                                 item[4] if len(item) > 4 else None, w, h))
    return "\n".join(lines), words


def reading_order(items) -> list:
    """RapidOCR's detections (quad first) in reading order: rows top to bottom, each row left to
    right. A detection belongs to a row when it stands on the row's first detection's line
    (pages.same_line): sorting by the top edge alone read the labels under a chart's bars in the
    order of their letters' heights ("Feb" before "Jan": F and b stand taller than J, a, n)."""
    rows = []
    for box, item in sorted(((_quad_box(it[0], 1, 1), it) for it in items), key=lambda bi: (bi[0][1], bi[0][3])):
        if rows and same_line(rows[-1][0], box):
            rows[-1][1].append((box, item))
        else:
            rows.append((box, [(box, item)]))
    return [item for _, row in rows for _, item in sorted(row, key=lambda bi: bi[0][0])]


def _line_words(text, quad, char_quads, chars, w, h) -> list[Word]:
    if char_quads and chars and len(char_quads) == len(chars):
        out, cur, boxes = [], [], []
        for ch, q in zip(list(chars) + [" "], list(char_quads) + [None]):
            if ch.isspace():
                if cur:
                    out.append(Word("".join(cur), _union(boxes)))
                cur, boxes = [], []
            else:
                cur.append(ch)
                boxes.append(_quad_box(q, w, h))
        return out
    # no character boxes: share the line's width out by character count
    x1, y1, x2, y2 = _quad_box(quad, w, h)
    out, pos, n = [], 0, max(len(text), 1)
    for token in text.split(" "):
        if token:
            out.append(Word(token, (x1 + (x2 - x1) * pos / n, y1, x1 + (x2 - x1) * (pos + len(token)) / n, y2)))
        pos += len(token) + 1
    return out
