"""An evaluation split drawn in another hand (`python -m engine eval --split other_hand`): the
generator's scenes and questions, but every shape drawn as someone with a plain drawing program
would draw it, in proportions training never draws (flatter ellipses and rectangles, thinner
diamonds, crosses and stars, a heart of two circles and a point, a long-headed arrow), upright or
turned by quarter turns, with hard edges, in a drawing program's pure colours, on canvases of
400-800 px. What a skill keeps here is what the model learned of shapes, not of this generator's
pen. Its own seed stream; training never draws it (only this split's RNG carries `other_hand`)."""
from __future__ import annotations

import math
import random

from .palette import regular

# A drawing program's named colours (CSS's, mostly): no jitter, no shading.
PURE_RGB = {
    "red": (255, 0, 0), "green": (0, 160, 0), "blue": (0, 0, 255), "yellow": (255, 230, 0),
    "orange": (255, 140, 0), "purple": (128, 0, 160), "pink": (255, 105, 180), "brown": (139, 69, 19),
    "black": (0, 0, 0), "white": (255, 255, 255), "grey": (150, 150, 150), "cyan": (0, 215, 230),
}
# Quarter turns a hand draws each shape in (degrees); the rest are drawn upright.
TURNS = {"arrow": (0, 90, 180, 270), "triangle": (0, 180)}


class OtherHandRandom(random.Random):
    """The other-hand split's RNG: draw.Canvas, place_shapes and stroke_width read it."""
    other_hand = True


def drawn_by_other_hand(rng) -> bool:
    return getattr(rng, "other_hand", False)


def canvas_size(rng) -> tuple:
    """Width and height in 400..800 px, aspect w/h in [0.6, 1.6]."""
    w = rng.randint(400, 800)
    lo, hi = max(400, w / 1.6), min(800, w / 0.6)
    return w, rng.randint(math.ceil(lo), int(hi))


def _arc(cx, cy, r, a0, a1, n=24):
    return [(cx + r * math.cos(math.radians(a0 + (a1 - a0) * k / n)),
             cy + r * math.sin(math.radians(a0 + (a1 - a0) * k / n))) for k in range(n + 1)]


def polygon(rng, shape: str) -> list:
    """The shape's outline around (0, 0), about one unit across; y points down."""
    if shape == "circle":
        return _arc(0, 0, 0.5, 0, 360, 72)[:-1]
    if shape == "ellipse":
        ry = 0.5 * rng.uniform(0.34, 0.43)
        return [(0.5 * math.cos(2 * math.pi * k / 72), ry * math.sin(2 * math.pi * k / 72)) for k in range(72)]
    if shape == "square":
        return [(-0.5, -0.5), (0.5, -0.5), (0.5, 0.5), (-0.5, 0.5)]
    if shape == "rectangle":
        h = 0.5 * rng.uniform(0.28, 0.38)
        return [(-0.5, -h), (0.5, -h), (0.5, h), (-0.5, h)]
    if shape == "triangle":  # isosceles, upright: its height 0.8-1.1 of its base
        h = rng.uniform(0.8, 1.1)
        return [(0, -h / 2), (0.5, h / 2), (-0.5, h / 2)]
    if shape == "diamond":
        w = 0.5 * rng.uniform(0.42, 0.52)
        return [(0, -0.5), (w, 0), (0, 0.5), (-w, 0)]
    if shape == "pentagon":  # flat side down
        return regular(5)
    if shape == "hexagon":  # flat top and bottom, as most drawing programs give it
        return regular(6, phase=0.0)
    if shape == "star":
        inner = 0.5 * rng.uniform(0.3, 0.34)
        return [p for k in range(5) for p in (regular(5)[k], regular(5, inner, -90 + 36)[k])]
    if shape == "cross":
        t = 0.5 * rng.uniform(0.2, 0.25)
        return [(-t, -0.5), (t, -0.5), (t, -t), (0.5, -t), (0.5, t), (t, t), (t, 0.5), (-t, 0.5),
                (-t, t), (-0.5, t), (-0.5, -t), (-t, -t)]
    if shape == "heart":  # two round lobes and a point, as drawn by hand
        r = 0.25
        left = _arc(-r, -0.2, r, 135, 360)
        right = _arc(r, -0.2, r, 180, 405)
        return left + right + [(0, 0.5)]
    if shape == "arrow":  # a thin shaft and a long head, pointing right before its turn
        t, neck = 0.5 * rng.uniform(0.12, 0.16), rng.uniform(0.0, 0.1)
        return [(-0.5, -t), (neck, -t), (neck, -0.25), (0.5, 0), (neck, 0.25), (neck, t), (-0.5, t)]
    raise ValueError(shape)


def turn(rng, shape: str) -> float:
    return float(rng.choice(TURNS.get(shape, (0,))))


def outline_width(rng, long_side: int) -> int:
    return max(2, round(long_side * rng.uniform(0.008, 0.02)))
