"""Where a box on the model's input lands on the ORIGINAL image.

A model sees an image after one of three transforms, and its boxes are relative to what it saw:
- "stretch": resized to a fixed input (Qwen-VL 448x448, Florence-2 768x768, PaliGemma 224..896,
  Kosmos-2 224, MiniGPT-v2 448): normalized coordinates are the same on the original.
- "pad": centered on a square of side max(w, h) first (LLaVA's expand2square, NExT-Chat, Shikra):
  the padding must be taken off.
- "resize": resized keeping the aspect ratio to multiples of a patch size (Qwen2.5-VL's
  smart_resize); such models give pixels of that resized input.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

BoxT = tuple[float, float, float, float]
MODES = ("stretch", "pad", "resize")
# A pointer that points at nothing (a null box head's answer: "no more of them"): an empty box at
# the corner, the same in every frame; drawn as nothing, fed back to the model as it is.
NO_BOX: BoxT = (0.0, 0.0, 0.0, 0.0)

# Qwen2.5-VL's preprocessor_config.json defaults (patch 14 merged 2x2 -> factor 28).
QWEN_FACTOR, QWEN_MIN_PIXELS, QWEN_MAX_PIXELS = 28, 56 * 56, 28 * 28 * 16384


def smart_resize(width: int, height: int, factor: int = QWEN_FACTOR,
                 min_pixels: int = QWEN_MIN_PIXELS, max_pixels: int = QWEN_MAX_PIXELS) -> tuple[int, int]:
    """The (width, height) Qwen2-VL/2.5-VL resize an image to: both multiples of `factor`, aspect kept,
    pixel count within [min_pixels, max_pixels]."""
    h_bar = max(factor, round(height / factor) * factor)
    w_bar = max(factor, round(width / factor) * factor)
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return w_bar, h_bar


def pad_offsets(width: int, height: int) -> tuple[int, int, int]:
    """(side, x offset, y offset) of the image pasted on its padded square, as expand2square does."""
    side = max(width, height)
    return side, (side - width) // 2, (side - height) // 2


def padded_to_original(box: BoxT, width: int, height: int) -> BoxT:
    """A box normalized to the padded square -> normalized to the original image."""
    side, ox, oy = pad_offsets(width, height)
    x1, y1, x2, y2 = box
    return ((x1 * side - ox) / width, (y1 * side - oy) / height,
            (x2 * side - ox) / width, (y2 * side - oy) / height)


def original_to_padded(box: BoxT, width: int, height: int) -> BoxT:
    """Inverse of padded_to_original (a Region drawn by the user -> what a pad-square model sees)."""
    side, ox, oy = pad_offsets(width, height)
    x1, y1, x2, y2 = box
    return ((x1 * width + ox) / side, (y1 * height + oy) / side,
            (x2 * width + ox) / side, (y2 * height + oy) / side)


@dataclass(frozen=True)
class Frame:
    """How one original image of width x height pixels was shown to the model."""
    width: int
    height: int
    mode: str = "stretch"
    input_size: tuple[int, int] | None = None  # (w, h) the model saw; derived from mode if None

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"unknown image geometry {self.mode!r}; use one of {MODES}")

    @property
    def model_size(self) -> tuple[int, int]:
        if self.input_size:
            return self.input_size
        if self.mode == "resize":
            return smart_resize(self.width, self.height)
        if self.mode == "pad":
            side = max(self.width, self.height)
            return side, side
        return self.width, self.height

    def pixels_to_input(self, box: BoxT) -> BoxT:
        """Pixels of the model's input -> normalized to the model's input."""
        w, h = self.model_size
        return box[0] / w, box[1] / h, box[2] / w, box[3] / h

    def to_original(self, box: BoxT) -> BoxT:
        """Normalized to the model's input -> normalized to the original image."""
        if self.mode == "pad":
            return padded_to_original(box, self.width, self.height)
        return box  # stretch and aspect-keeping resize cover the whole image

    def from_original(self, box: BoxT) -> BoxT:
        if self.mode == "pad":
            return original_to_padded(box, self.width, self.height)
        return box


def clip_box(box: BoxT) -> tuple[BoxT | None, str | None]:
    """Keep a box inside [0, 1]. Returns (box or None if dropped, a note for the user or None)."""
    if not all(math.isfinite(v) for v in box):
        return None, f"dropped a box with a coordinate that is not a number: {box}"
    x1, y1, x2, y2 = box
    if x2 < x1 or y2 < y1:
        return None, f"dropped a box whose far corner comes before its near corner: {_fmt(box)}"
    if x1 > 1 or y1 > 1 or x2 < 0 or y2 < 0:
        return None, f"dropped a box that lies outside the image: {_fmt(box)}"
    clipped = (min(max(x1, 0.0), 1.0), min(max(y1, 0.0), 1.0), min(max(x2, 0.0), 1.0), min(max(y2, 0.0), 1.0))
    if clipped != (x1, y1, x2, y2):
        return clipped, f"clipped a box that reached outside the image: {_fmt(box)}"
    return clipped, None


def tally(notes) -> tuple[str, ...]:
    """Each distinct note once, in order, with how often it came: a model that repeats one bad box
    gets one line, not sixteen."""
    counts: dict[str, int] = {}
    for n in notes:
        counts[n] = counts.get(n, 0) + 1
    return tuple(n if c == 1 else f"{n} ({c} times)" for n, c in counts.items())


def _fmt(box: BoxT) -> str:
    return "(" + ", ".join(f"{v:.3f}" for v in box) + ")"
