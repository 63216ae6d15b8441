"""A region the user draws over an image in the region editor: the box around what was drawn,
written into the message as `[x1, y1, x2, y2]` text (normalized 0..1), which prompt.py reads as
a typed region like any other."""
from __future__ import annotations

import numpy as np


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
