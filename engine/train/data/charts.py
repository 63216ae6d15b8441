"""Bar charts: 2-6 labelled bars whose highest and lowest stand out clearly."""
from __future__ import annotations

from .draw import Canvas, image_size, rect_alpha
from .records import Obj
from .words import char_edges, font_for_cap, font_names, text_alpha

CATEGORIES = (
    ("A", "B", "C", "D", "E", "F"), ("Jan", "Feb", "Mar", "Apr", "May", "Jun"),
    ("apples", "pears", "plums", "figs", "limes", "kiwis"), ("north", "south", "east", "west"),
    ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat"), ("cats", "dogs", "birds", "fish", "mice"),
    ("tea", "milk", "juice", "soda", "water"), ("bus", "car", "bike", "train", "walk"),
    ("P", "Q", "R", "S", "T", "U"), ("X", "Y", "Z", "W", "V"),
)


def _values(rng, n):
    """Distinct values whose top and bottom differ from the next by >= 12% of the top."""
    while True:
        v = rng.sample(range(1, 13), n)
        s = sorted(v)
        if s[-1] - s[-2] >= 0.12 * s[-1] and s[1] - s[0] >= 0.12 * s[-1]:
            return v


def chart_scene(rng, fewest: int = 2):
    """A Canvas with one "bar" Obj per bar (in left-to-right order), then one "word" Obj per label,
    or None if labels don't fit. fewest: the fewest bars (2 draws as the held-out charts do)."""
    canvas = Canvas(rng, image_size(rng, 0.9, 1.6), kinds=("plain", "plain", "gradient", "noise"))
    W, H, L = canvas.w, canvas.h, canvas.long
    cats = rng.choice(CATEGORIES)
    top = min(6, len(cats))
    n = rng.randint(min(fewest, top), top)
    chosen = set(rng.sample(cats, n))
    labels = [c for c in cats if c in chosen]  # in the category's own order
    fnt = font_for_cap(rng.choice(font_names()), L * rng.uniform(0.07, 0.09))
    masks = [text_alpha(t, fnt) for t in labels]
    ml, mr, mt = round(W * rng.uniform(0.06, 0.12)), round(W * rng.uniform(0.04, 0.08)), round(H * rng.uniform(0.06, 0.12))
    slot = (W - ml - mr) / n
    if max(m.shape[1] for m in masks) > 0.95 * slot:
        return None
    gap = max(3, round(0.02 * H))
    base = H - round(0.04 * H) - max(m.shape[0] for m in masks) - gap
    values = _values(rng, n)
    bw = round(slot * rng.uniform(0.45, 0.75))
    names = list(canvas.allowed)
    if len(names) < 2:
        return None
    same = rng.random() < 0.5
    colour = rng.choice(names)
    for i, (label, v) in enumerate(zip(labels, values)):
        name = colour if same else rng.choice(names)
        rgb = canvas.rgb(rng, name)
        bh = max(4, round(v / max(values) * (base - mt)))
        x = round(ml + slot * i + (slot - bw) / 2)
        canvas.paint(rect_alpha(bw, bh), x, base - bh, rgb, Obj("bar", label, name, "", (0, 0, 0, 0), v))
    ink = canvas.ink(rng)
    if ink is None:
        return None
    if rng.random() < 0.7:  # axis lines
        t = max(2, round(0.008 * L))
        canvas.paint(rect_alpha(W - round(ml * 0.6) - round(mr * 0.5), t), round(ml * 0.6), base, ink[1])
        if rng.random() < 0.5:
            canvas.paint(rect_alpha(t, base - mt + t), round(ml * 0.6), mt, ink[1])
    for i, (label, m) in enumerate(zip(labels, masks)):  # the labels are words the tower learns to read
        cx = ml + slot * (i + 0.5)
        canvas.paint(m, round(cx - m.shape[1] / 2), base + gap, ink[1],
                     Obj("word", label, ink[0], "", (0, 0, 0, 0), edges=char_edges(label, fnt)))
    return canvas
