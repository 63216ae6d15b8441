"""Canvases (size + background) and painting annotated things on them: each paint composites an
anti-aliased mask, marks the id_map where the thing is on top, and records a tight box."""
from __future__ import annotations

import colorsys
import functools

import numpy as np
from PIL import Image, ImageDraw

from .other_hand import PURE_RGB, canvas_size, drawn_by_other_hand, outline_width
from .other_hand import polygon as other_polygon, turn as other_turn
from .palette import BASE_RGB, COLOURS, contrast, jitter_rgb, shape_polygon
from .records import Obj, Scene
from .unseen import as_jpeg

MIN_CONTRAST = 140   # object vs background (and vs an object it overlaps): clearly visible
TEXT_LUMA = 90       # text vs what is behind it: legible needs lightness contrast, not just hue
SS = 3               # supersampling for polygon edges


def luma(c) -> float:
    return 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]


def image_size(rng, min_aspect=0.6, max_aspect=1.6) -> tuple:
    """Width and height each in 160..320 px, aspect w/h in [min_aspect, max_aspect]."""
    w = rng.randint(max(160, round(160 * min_aspect)), 320)
    lo, hi = max(160, w / max_aspect), min(320, w / min_aspect)
    if lo > hi:
        return image_size(rng, min_aspect, max_aspect)
    return w, rng.randint(round(lo + 0.4999), int(hi))


def _hls(h, l, s):
    return tuple(round(v * 255) for v in colorsys.hls_to_rgb(h % 1.0, min(1, max(0, l)), s))


@functools.lru_cache(maxsize=1)
def _noise_tile():
    """Fixed gaussian noise (index 128 = 0, 16 steps = 1 sigma) that backgrounds crop from:
    cheaper than drawing fresh noise, and the same on every machine."""
    n = np.random.default_rng(0).standard_normal((640, 640)) * 16 + 128
    return np.clip(n, 0, 255).astype(np.uint8)


def _background(rng, w, h, kinds):
    """(H, W, 3) uint8 array and the colours it is made of (for contrast checks). Pale, dark or
    mid-grey; a pattern's two colours stay close so it never hides what is drawn on it. Built as
    an index image and a 256-colour table: one cheap lookup per pixel."""
    r = rng.random()
    hue = rng.random()
    if r < 0.68:
        l, s = rng.uniform(0.82, 0.96), rng.uniform(0.0, 0.55)
    elif r < 0.9:
        l, s = rng.uniform(0.07, 0.2), rng.uniform(0.0, 0.35)
    else:
        l, s = rng.uniform(0.42, 0.58), rng.uniform(0.0, 0.2)
    c1 = _hls(hue, l, s)
    c2 = _hls(hue + rng.uniform(-0.08, 0.08), l + rng.choice((-1, 1)) * rng.uniform(0.03, 0.07), s)
    kind = rng.choice(kinds)
    a1, a2 = np.array(c1, np.float32), np.array(c2, np.float32)
    steps = np.arange(256, dtype=np.float32)[:, None]
    cols = [c1, c2]
    if kind == "plain":
        return np.broadcast_to(np.array(c1, np.uint8), (h, w, 3)).copy(), [c1]
    if kind == "noise":
        sigma = rng.uniform(4, 10)
        y0, x0 = rng.randrange(640 - h + 1), rng.randrange(640 - w + 1)
        idx = _noise_tile()[y0:y0 + h, x0:x0 + w]
        lut = a1 + (steps - 128) * (sigma / 16)
        cols = [tuple(min(255, max(0, v + d)) for v in c1) for d in (-2 * sigma, 2 * sigma)]
    else:
        xx, yy = np.arange(w, dtype=np.float32)[None, :], np.arange(h, dtype=np.float32)[:, None]
        ang = rng.uniform(0, np.pi)
        proj = xx * np.float32(np.cos(ang)) + yy * np.float32(np.sin(ang))
        if kind == "gradient":
            idx = (proj - proj.min()) * (255 / max(1e-6, float(proj.max() - proj.min())))
        elif kind == "stripes":
            idx = np.floor(proj / (rng.uniform(8, 30) / 2)) % 2
        else:  # checks
            cell = rng.uniform(10, 32)
            idx = (np.floor(xx / cell) + np.floor(yy / cell)) % 2
        idx = (idx + 0.5).astype(np.uint8)
        lut = a1 + (a2 - a1) * (steps / (255 if kind == "gradient" else 1))
    lut = np.clip(lut + 0.5, 0, 255).astype(np.uint8)
    return np.take(lut, idx, axis=0), cols


class Canvas:
    """An image being drawn: pixels, id_map and the objects painted so far."""

    def __init__(self, rng, size=None, kinds=("plain", "gradient", "noise", "stripes", "checks")):
        other = drawn_by_other_hand(rng)  # the other-hand split: big canvases, hard edges, plain
        self.w, self.h = size or (canvas_size(rng) if other else image_size(rng))
        self.arr, self.bg = _background(rng, self.w, self.h, ("plain",) if other else kinds)
        # the training stream's (paraphrase.TrainRandom `hands`): a quarter of its canvases draw
        # shapes with hard edges, as a plain drawing program does
        self.ss = 1 if other or (getattr(rng, "hands", False) and rng.random() < 0.25) else SS
        self.id_map = np.zeros((self.h, self.w), np.uint8)
        self.objects: list[Obj] = []
        # 20 of margin: the jittered colour must still pass MIN_CONTRAST
        self.allowed = [c for c in COLOURS
                        if all(contrast(BASE_RGB[c], b) >= MIN_CONTRAST + 20 for b in self.bg)]

    @property
    def short(self):
        return min(self.w, self.h)

    @property
    def long(self):
        return max(self.w, self.h)

    def rgb(self, rng, name, behind=None, text=False):
        """A jittered RGB for the name that stands out from the background (or from `behind`); the
        other-hand split's is the drawing program's pure colour."""
        behind = [behind] if behind else self.bg
        for _ in range(20):
            c = PURE_RGB[name] if drawn_by_other_hand(rng) else jitter_rgb(rng, name)
            if all(contrast(c, b) >= MIN_CONTRAST and (not text or abs(luma(c) - luma(b)) >= TEXT_LUMA)
                   for b in behind):
                return c
        return None

    def ink(self, rng, behind=None):
        """(name, rgb) of a text colour legible on the background (or on `behind`): mostly black
        or white, as printed text is."""
        names = list(COLOURS)
        rng.shuffle(names)
        if rng.random() < 0.6:
            names = ["black", "white"] + names
        for n in names:
            c = self.rgb(rng, n, behind, text=True)
            if c:
                return n, c
        return None

    def paint(self, alpha, x0, y0, rgb, obj: Obj | None = None):
        """Composite `alpha` ((h, w) floats 0..1) at (x0, y0). An object gets its tight box (from
        every pixel it covers) and the id_map where it is on top; anything else (a sign, an axis)
        covers the id_map with background."""
        h, w = alpha.shape
        xa, ya, xb, yb = max(0, x0), max(0, y0), min(self.w, x0 + w), min(self.h, y0 + h)
        if xa >= xb or ya >= yb:
            return None
        a = alpha[ya - y0:yb - y0, xa - x0:xb - x0]
        region = self.arr[ya:yb, xa:xb].astype(np.float32)
        region += (np.array(rgb, np.float32) - region) * a[..., None]
        self.arr[ya:yb, xa:xb] = (region + 0.5).astype(np.uint8)
        on_top = a >= 0.5
        if obj is None:
            self.id_map[ya:yb, xa:xb][on_top] = 0
            return None
        ys, xs = np.nonzero(a > 0.15)
        if len(xs) == 0:
            return None
        obj.box = (float(xa + xs.min()) / self.w, float(ya + ys.min()) / self.h,
                   float(xa + xs.max() + 1) / self.w, float(ya + ys.max() + 1) / self.h)
        self.objects.append(obj)
        self.id_map[ya:yb, xa:xb][on_top] = len(self.objects)
        obj._pixels = int(on_top.sum())  # for the visibility check of overlaps
        obj._index = len(self.objects)
        return obj

    def scene(self, kind) -> Scene:
        img = Image.fromarray(self.arr, "RGB")
        for o in self.objects:
            o.__dict__.pop("_pixels", None), o.__dict__.pop("_index", None)
        return Scene(img, self.objects, self.id_map, kind)


def saved_as_jpeg(rng, img):
    """The image as a user's camera or editor saves it (JPEG quality 55-92): training's `hands`
    (tasks.make_sample) sees some; the unseen split's harsher JPEG (15-35) stays unseen."""
    return as_jpeg(img, rng.randint(55, 92))


def polygon_alpha(pts, stroke=0, ss=SS):
    """Mask of a polygon (pixel coords), anti-aliased by drawing at ss x: (alpha, x0, y0);
    stroke > 0 = outline only; ss 1 = hard edges."""
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    x0, y0 = int(np.floor(min(xs))) - 2, int(np.floor(min(ys))) - 2
    w, h = int(np.ceil(max(xs))) + 3 - x0, int(np.ceil(max(ys))) + 3 - y0
    m = Image.new("L", (w * ss, h * ss), 0)
    big = [((x - x0) * ss, (y - y0) * ss) for x, y in pts]
    d = ImageDraw.Draw(m)
    if stroke:
        d.polygon(big, outline=255, width=stroke * ss)
    else:
        d.polygon(big, fill=255)
    small = m.resize((w, h), Image.BOX) if ss > 1 else m
    return np.asarray(small, np.float32) / 255.0, x0, y0


def rect_alpha(w, h, radius=0):
    """Anti-aliased mask of a (rounded) w x h rectangle."""
    m = Image.new("L", (w * SS, h * SS), 0)
    ImageDraw.Draw(m).rounded_rectangle((0, 0, w * SS - 1, h * SS - 1), radius * SS, fill=255)
    return np.asarray(m.resize((w, h), Image.BOX), np.float32) / 255.0


def stroke_width(rng, canvas) -> int:
    if drawn_by_other_hand(rng):
        return outline_width(rng, canvas.long)
    if getattr(rng, "hands", False):  # training: thinner and thicker outlines too
        return max(3, round(canvas.long * rng.uniform(0.01, 0.04)))
    return max(3, round(canvas.long * rng.uniform(0.015, 0.03)))


def _fits(box, placed, overlap, colours, colour):
    """No box overlap; or, when overlaps are on, at most one, small, between contrasting colours."""
    hits = 0
    for (b, c) in zip(placed, colours):
        ix = min(box[2], b[2]) - max(box[0], b[0])
        iy = min(box[3], b[3]) - max(box[1], b[1])
        if ix <= -3 or iy <= -3:  # a 3 px gap at least between separate things
            continue
        if not overlap or ix <= 0 or iy <= 0 or c == colour or c not in BASE_RGB:  # "_": a taken area
            return False
        small = min((box[2] - box[0]) * (box[3] - box[1]), (b[2] - b[0]) * (b[3] - b[1]))
        if ix * iy > 0.3 * small or contrast(BASE_RGB[c], BASE_RGB[colour]) < MIN_CONTRAST:
            return False
        hits += 1
    return hits <= 1


def place_shapes(rng, canvas, specs, overlap=False, avoid=(), tries=25):
    """Paint shapes (dicts: shape, colour, size, filled) at random non-clashing spots, in spec
    order (later on top); `avoid` = pixel boxes already taken. Returns the Objs, or None when no
    layout was found (the caller picks another spec)."""
    snapshot = canvas.arr.copy(), canvas.id_map.copy(), list(canvas.objects)
    hand = dict(outline=other_polygon, turned=other_turn) if drawn_by_other_hand(rng) else {}
    polys = [shape_polygon(rng, s["shape"], s["size"], canvas.short, **hand) for s in specs]
    strokes = [0 if s.get("filled", True) else stroke_width(rng, canvas) for s in specs]
    rgbs = [canvas.rgb(rng, s["colour"]) for s in specs]
    if any(c is None for c in rgbs):
        return None
    order = sorted(range(len(specs)), key=lambda i: -_extent(polys[i]))  # big ones first: they fit
    for _ in range(tries):
        placed, cols, pos = list(avoid), ["_"] * len(avoid), {}
        for i in order:
            ex = _bounds(polys[i])
            bw, bh = ex[2] - ex[0], ex[3] - ex[1]
            if bw > canvas.w - 4 or bh > canvas.h - 4:
                return None
            for _ in range(60):
                x = rng.uniform(2 - ex[0], canvas.w - 2 - ex[2])
                y = rng.uniform(2 - ex[1], canvas.h - 2 - ex[3])
                box = (x + ex[0], y + ex[1], x + ex[2], y + ex[3])
                if _fits(box, placed, overlap, cols, specs[i]["colour"]):
                    placed.append(box), cols.append(specs[i]["colour"])
                    pos[i] = (x, y)
                    break
            else:
                break
        if len(pos) < len(specs):
            continue
        objs = []
        for i, s in enumerate(specs):
            x, y = pos[i]
            alpha, x0, y0 = polygon_alpha([(px + x, py + y) for px, py in polys[i]], strokes[i], canvas.ss)
            o = Obj("shape", s["shape"], s["colour"], s["size"], (0, 0, 0, 0), 0, not strokes[i])
            objs.append(canvas.paint(alpha, x0, y0, rgbs[i], o))
        # an overlapped object must stay mostly visible (>= 60% of its pixels on top)
        if all(o is not None and (canvas.id_map == o._index).sum() >= 0.6 * o._pixels
               for o in objs):
            return objs
        canvas.arr, canvas.id_map = snapshot[0].copy(), snapshot[1].copy()
        canvas.objects = list(snapshot[2])
    return None


def _bounds(pts):
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    return min(xs) - 1, min(ys) - 1, max(xs) + 1, max(ys) + 1


def _extent(pts):
    b = _bounds(pts)
    return (b[2] - b[0]) * (b[3] - b[1])


def pixel_box(obj, canvas):
    return (obj.box[0] * canvas.w, obj.box[1] * canvas.h, obj.box[2] * canvas.w, obj.box[3] * canvas.h)
