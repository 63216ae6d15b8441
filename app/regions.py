"""Regions the user gives: `[x1, y1, x2, y2]` typed in a message (normalized 0..1, or pixels of
the image), or a shape drawn on an image in the region editor, which becomes such text; and the
boxes an answer gave, sent back with the next turn.

A typed box refers to the last image sent at or before its message. It becomes an
engine.api.Region part in place of the text; a box that reaches outside the image is clipped, one
that cannot be a box is left as text, each with a note for the user."""
from __future__ import annotations

import re

import numpy as np
from PIL import Image as PILImage

from engine.api import Region, Text
from engine.grounding.geometry import clip_box

NUM = r"\s*(-?\d+(?:\.\d+)?)\s*"
TYPED_BOX = re.compile(r"\[" + ",".join([NUM] * 4) + r"\]")


def image_size(path) -> tuple[int, int]:
    with PILImage.open(path) as img:  # the header only
        return img.size


def to_normalized(values: tuple[float, ...], size: tuple[int, int]) -> tuple[float, ...]:
    """All four at most 1: already normalized; otherwise pixels of the image."""
    if all(abs(v) <= 1.0 for v in values):
        return values
    w, h = size
    return values[0] / w, values[1] / h, values[2] / w, values[3] / h


def split_regions(text: str, image_index: int | None, size: tuple[int, int] | None) -> tuple[list, list[str]]:
    """Message text -> Text and Region parts, and notes about boxes clipped or left as text."""
    if image_index is None or not TYPED_BOX.search(text):
        return [Text(text)], []
    spans, notes = [], []
    for m in TYPED_BOX.finditer(text):
        box, note = clip_box(to_normalized(tuple(float(g) for g in m.groups()), size))
        if note:
            notes.append(f"Region {m.group(0)}: {note}" + ("; sent as plain text." if box is None else "."))
        if box is not None:
            spans.append((m.start(), m.end(), Region(image_index, box)))
    return _splice(text, spans), notes


def _splice(text: str, spans) -> list:
    """`text` as Text parts with each (start, end, Region) span, in order, put in its place."""
    parts, at = [], 0
    for start, end, region in spans:
        if text[at:start]:
            parts.append(Text(text[at:start]))
        parts.append(region)
        at = end
    if text[at:]:
        parts.append(Text(text[at:]))
    return parts


def _box_region(b: dict) -> Region:
    """A stored box (an answer's meta["boxes"] item) as the Region it marks."""
    return Region(b["image_index"], (b["x1"], b["y1"], b["x2"], b["y2"]))


def answer_regions(text: str, boxes: list[dict], n_images: int) -> list:
    """An answer's text with each box's [k] (at its stored offset) as a Region on its image.
    A box on an image the conversation does not have (yet), or whose [k] is not where it was
    written, stays as text."""
    spans, at = [], 0
    for b in sorted(boxes, key=lambda b: b.get("at", -1)):
        start, marker = b.get("at", -1), f"[{b['ref']}]"
        if start < at or not text.startswith(marker, start) or not 0 <= b["image_index"] < n_images:
            continue
        at = start + len(marker)
        spans.append((start, at, _box_region(b)))
    return _splice(text, spans) or [Text(text)]


REF = re.compile(r"\[(\d+)\]")


def referred_regions(parts: list, boxes: list[dict], n_images: int) -> list:
    """Text parts with each [k] that names a box of the answer before (`boxes`, as stored) made
    that box's Region; any other [k] stays as text."""
    by_ref = {b["ref"]: b for b in boxes if 0 <= b["image_index"] < n_images}
    if not by_ref:
        return parts
    out = []
    for part in parts:
        if not isinstance(part, Text):
            out.append(part)
            continue
        out += _splice(part.text, [(m.start(), m.end(), _box_region(by_ref[int(m.group(1))]))
                                   for m in REF.finditer(part.text) if int(m.group(1)) in by_ref])
    return out


def drawn_box(layers, size: tuple[int, int]) -> tuple[float, float, float, float] | None:
    """The box around everything drawn on the editor's layers (PIL RGBA images), normalized."""
    mask = None
    for layer in layers or []:
        if layer is None:
            continue
        alpha = np.asarray(layer.convert("RGBA").resize(size))[:, :, 3] > 0
        mask = alpha if mask is None else mask | alpha
    if mask is None or not mask.any():
        return None
    ys, xs = np.nonzero(mask)
    w, h = size
    return (xs.min() / w, ys.min() / h, (xs.max() + 1) / w, (ys.max() + 1) / h)


def box_text(box) -> str:
    return "[" + ", ".join(f"{v:.3f}" for v in box) + "]"
