"""The generator's records (Obj, Scene, Sample), box IoU and PNG encoding."""
from __future__ import annotations

import io
from dataclasses import dataclass, field


@dataclass
class Obj:
    """One annotated thing in an image."""
    kind: str          # "shape" | "word" | "bar"
    label: str         # shape name, the word as printed, or the bar's label
    colour: str        # colour name (ink colour for words, bar colour for bars)
    size: str          # "small" | "medium" | "large" for shapes, "" otherwise
    box: tuple         # (x1, y1, x2, y2) normalized 0..1 to the image
    value: float = 0   # bar height value for bars
    filled: bool = True
    edges: tuple = ()  # words: where each character starts and the last ends, 0..1 across the box


@dataclass
class Scene:
    image: object      # PIL.Image.Image, RGB
    objects: list
    id_map: object     # numpy (H, W) uint8: 1 + index of the topmost object, 0 = background
    kind: str          # "shapes" | "text" | "chart" | "blank"


@dataclass
class Sample:
    skill: str
    messages: list     # engine.api.Message list; the last one is the assistant target
    answer: str        # canonical short answer ("" for free-form skills)
    box: tuple | None  # target box for "refer", the asked region for "region"
    scenes: list = field(default_factory=list)
    # Beyond the brief's fields, both defaulted: the closed set the answer is one of (its
    # competitors make "red or blue" wrong), and which question type grades it (for
    # "followup" the second question's type; otherwise the skill).
    options: tuple = ()
    ask: str = ""


def iou(a, b) -> float:
    """Intersection over union of two (x1, y1, x2, y2) boxes; 0 for empty ones."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def png_bytes(img) -> bytes:
    # compress_level 1: encoding is a visible share of a sample's time; output stays deterministic
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()
