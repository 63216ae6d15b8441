"""The closed vocabularies the tasks ask about: colours (with hand-jittered RGB), shapes (unit
polygons) and sizes."""
from __future__ import annotations

import colorsys
import math

# Base RGB per name: far apart in hue or lightness so each reads as its name at a glance.
BASE_RGB = {
    "red": (220, 30, 35), "green": (35, 160, 55), "blue": (35, 75, 225), "yellow": (245, 215, 25),
    "orange": (250, 135, 15), "purple": (135, 45, 175), "pink": (250, 125, 195),
    "brown": (125, 72, 28), "black": (18, 18, 18), "white": (250, 250, 250),
    "grey": (128, 128, 128), "cyan": (25, 210, 230),
}
COLOURS = tuple(BASE_RGB)
# Other spellings a grader accepts for a colour (never used in the targets).
COLOUR_FORMS = {c: (c,) for c in COLOURS} | {"grey": ("grey", "gray"), "purple": ("purple", "violet")}
_ACHROMATIC_L = {"black": (0.03, 0.11), "white": (0.94, 1.0), "grey": (0.45, 0.56)}

SHAPES = ("circle", "square", "triangle", "star", "rectangle", "ellipse", "diamond", "pentagon",
          "hexagon", "cross", "heart", "arrow")
SHAPE_FORMS = {s: (s, s + "s") for s in SHAPES} | {
    "cross": ("cross", "crosses", "plus"), "ellipse": ("ellipse", "ellipses", "oval", "ovals"),
    "diamond": ("diamond", "diamonds", "rhombus")}
PLURAL = {s: s + "s" for s in SHAPES} | {"cross": "crosses"}
# Max rotation in degrees: a square turned 45 degrees is a diamond, a cross turned is an x.
_ROTATE = {"circle": 0, "square": 8, "diamond": 8, "cross": 12, "heart": 18, "rectangle": 180,
           "ellipse": 180, "triangle": 180, "star": 180, "pentagon": 180, "hexagon": 180,
           "arrow": 180}

SIZES = ("small", "medium", "large")
# Side of the square of equal area, as a fraction of the image's shorter side: classes differ
# by >= 1.9x in area even after the +-10% jitter, and "small" stays >= ~12% of the short side.
_SIZE_SIDE = {"small": 0.16, "medium": 0.27, "large": 0.41}


def jitter_rgb(rng, name: str) -> tuple:
    """The named colour "in another hand": hue, lightness and saturation moved a little, never
    across to a neighbouring name (hue gaps between names are >= 20 degrees)."""
    r, g, b = (v / 255 for v in BASE_RGB[name])
    h, l, s = colorsys.rgb_to_hls(r, g, b)
    if name in _ACHROMATIC_L:
        l, s = rng.uniform(*_ACHROMATIC_L[name]), rng.uniform(0, 0.06)
    else:
        h = (h + rng.uniform(-0.02, 0.02)) % 1.0
        l = min(0.8, max(0.12, l + rng.uniform(-0.05, 0.05)))
        s = s * rng.uniform(0.85, 1.0)
    return tuple(round(v * 255) for v in colorsys.hls_to_rgb(h, l, s))


def contrast(c1, c2) -> float:
    """'Redmean' RGB distance: cheap and close enough to perceived difference."""
    rm = (c1[0] + c2[0]) / 2
    dr, dg, db = (c1[i] - c2[i] for i in range(3))
    return math.sqrt((2 + rm / 256) * dr * dr + 4 * dg * dg + (2 + (255 - rm) / 256) * db * db)


def article(phrase: str) -> str:
    return ("an " if phrase[:1].lower() in "aeio" else "a ") + phrase


def regular(n, r=0.5, phase=-90.0):
    return [(r * math.cos(math.radians(phase + 360 * k / n)),
             r * math.sin(math.radians(phase + 360 * k / n))) for k in range(n)]


def _ellipse(rx, ry, n=72):
    return [(rx * math.cos(2 * math.pi * k / n), ry * math.sin(2 * math.pi * k / n)) for k in range(n)]


def proportion(rng, lo: float, hi: float, wider: float) -> float:
    """uniform(lo, hi); the training stream's RNG (paraphrase.TrainRandom, `hands`) draws from
    (lo - wider, hi + wider): shapes in more hands than the held-out split's, which stay as they were
    (one draw either way)."""
    w = wider if getattr(rng, "hands", False) else 0.0
    return rng.uniform(lo - w, hi + w)


def unit_polygon(rng, shape: str) -> list:
    """The shape's outline around (0, 0), about one unit across, with a little jitter in its
    proportions (more in training: `proportion`); y points down as in images. The wider ranges
    keep each shape apart from its neighbour (an ellipse or a rectangle at most 0.7 as high as
    wide, a diamond 0.8 as wide as high)."""
    if shape == "circle":
        return _ellipse(0.5, 0.5)
    if shape == "ellipse":
        return _ellipse(0.5, 0.5 * proportion(rng, 0.5, 0.64, 0.05))
    if shape == "square":
        return [(-0.5, -0.5), (0.5, -0.5), (0.5, 0.5), (-0.5, 0.5)]
    if shape == "rectangle":
        h = 0.5 * proportion(rng, 0.45, 0.62, 0.05)
        return [(-0.5, -h), (0.5, -h), (0.5, h), (-0.5, h)]
    if shape == "triangle":
        return [(x + proportion(rng, -0.03, 0.03, 0.07), y + proportion(rng, -0.03, 0.03, 0.07))
                for x, y in regular(3)]
    if shape == "diamond":
        w = 0.5 * proportion(rng, 0.6, 0.74, 0.05)
        return [(0, -0.5), (w, 0), (0, 0.5), (-w, 0)]
    if shape in ("pentagon", "hexagon"):
        return regular(5 if shape == "pentagon" else 6)
    if shape == "star":
        inner = 0.5 * proportion(rng, 0.4, 0.5, 0.05)
        return [p for k in range(5) for p in (regular(5)[k], regular(5, inner, -90 + 36)[k])]
    if shape == "cross":
        t = 0.5 * proportion(rng, 0.3, 0.38, 0.04)
        return [(-t, -0.5), (t, -0.5), (t, -t), (0.5, -t), (0.5, t), (t, t), (t, 0.5), (-t, 0.5),
                (-t, t), (-0.5, t), (-0.5, -t), (-t, -t)]
    if shape == "heart":
        pts = [(16 * math.sin(a) ** 3, -(13 * math.cos(a) - 5 * math.cos(2 * a) - 2 * math.cos(3 * a)
                                          - math.cos(4 * a))) for a in (2 * math.pi * k / 60 for k in range(60))]
        return [(x / 34, (y + 2.5) / 34) for x, y in pts]
    if shape == "arrow":
        t, head = 0.5 * proportion(rng, 0.2, 0.26, 0.03), proportion(rng, 0.05, 0.15, 0.03)
        return [(-0.5, -t), (head, -t), (head, -0.3), (0.5, 0), (head, 0.3), (head, t), (-0.5, t)]
    raise ValueError(shape)


def polygon_area(pts) -> float:
    return abs(sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(pts, pts[1:] + pts[:1]))) / 2


def turn(rng, shape: str) -> float:
    """Degrees a shape is turned by: up to its _ROTATE either way."""
    return rng.uniform(-_ROTATE[shape], _ROTATE[shape])


def shape_polygon(rng, shape: str, size: str, short_side: float, outline=unit_polygon, turned=turn) -> list:
    """Outline in pixels around (0, 0): `outline(rng, shape)` scaled so its area is the size
    class's, then turned by `turned(rng, shape)` degrees (the other-hand split gives its own)."""
    pts = outline(rng, shape)
    side = _SIZE_SIDE[size] * rng.uniform(0.9, 1.1) * short_side
    k = side / math.sqrt(polygon_area(pts))
    a = math.radians(turned(rng, shape))
    ca, sa = math.cos(a), math.sin(a)
    return [(k * (x * ca - y * sa), k * (x * sa + y * ca)) for x, y in pts]
