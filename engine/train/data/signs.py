"""Printed-text scenes: a word or number on the background, on a sign, beside a shape, a short
line of two words, or two signs of different colours. Text is never smaller than a cap height of
7% of the image's longer side, so it stays readable once the image is shrunk to 192 px."""
from __future__ import annotations

from .draw import Canvas, place_shapes, rect_alpha
from .palette import SHAPES
from .records import Obj
from .words import WORDS, cased, char_edges, font_for_cap, font_names, number, text_alpha

MIN_CAP = 0.07


def _text(rng, numbers=0.2):
    return (number(rng), True) if rng.random() < numbers else (cased(rng, rng.choice(WORDS)), False)


def _fit(rng, canvas, text, max_w, max_h, angle=0.0):
    """(mask, cap height, character edges) of the text at a random readable size that fits
    max_w x max_h, or None."""
    name = rng.choice(font_names())
    cap = canvas.long * rng.uniform(0.075, 0.13)
    while cap >= MIN_CAP * canvas.long:
        fnt = font_for_cap(name, cap)
        a = text_alpha(text, fnt, angle)
        if a.shape[1] <= max_w and a.shape[0] <= max_h:
            return a, cap, char_edges(text, fnt)
        cap *= 0.88
    return None


def _word(rng, canvas, text, x, y, alpha, edges, behind=None):
    ink = canvas.ink(rng, behind)
    if ink is None:
        return None
    return canvas.paint(alpha, x, y, ink[1], Obj("word", text, ink[0], "", (0, 0, 0, 0), edges=edges))


def _sign(rng, canvas, text, x0, y0, w, h):
    """A sign holding the text inside the pixel area (x0, y0, w, h); returns the word Obj and the
    sign's colour name."""
    got = _fit(rng, canvas, text, 0.86 * w - 8, 0.8 * h - 6)
    if got is None:
        return None
    alpha, cap, edges = got
    px, py = round(cap * rng.uniform(0.3, 0.7)), round(cap * rng.uniform(0.25, 0.5))
    sw, sh = min(w, alpha.shape[1] + 2 * px), min(h, alpha.shape[0] + 2 * py)
    sx, sy = x0 + rng.randint(0, w - sw), y0 + rng.randint(0, h - sh)
    names = [c for c in canvas.allowed]
    rng.shuffle(names)
    for name in names:
        rgb = canvas.rgb(rng, name)
        if rgb and canvas.ink(rng, rgb):
            break
    else:
        return None
    if rng.random() < 0.3 and sy + sh < canvas.h - 4:  # a post under the sign
        pw = max(3, sw // 12)
        post = canvas.ink(rng) or ("grey", (120, 120, 120))
        canvas.paint(rect_alpha(pw, canvas.h - sy - sh), sx + (sw - pw) // 2, sy + sh, post[1])
    canvas.paint(rect_alpha(sw, sh, rng.choice((0, 0, 4, 8))), sx, sy, rgb)
    tx, ty = sx + (sw - alpha.shape[1]) // 2, sy + (sh - alpha.shape[0]) // 2
    o = _word(rng, canvas, text, tx, ty, alpha, edges, behind=rgb)
    return (o, name) if o else None


def text_scene(rng):
    """(Canvas, info) with info: layout, target (index of the word asked about), number,
    sign (colour name), shape (label), options (all words in the image)."""
    canvas = Canvas(rng)
    layout = rng.choices(("plain", "sign", "beside", "line", "two_signs"), (3, 3, 2, 1, 2))[0]
    text, is_num = _text(rng)
    info = {"layout": layout, "number": is_num, "target": 0}
    if layout == "line" and not is_num:
        two = f"{text} {rng.choice(WORDS)}"
        two = two.upper() if text.isupper() else two
        if _fit(rng, canvas, two, 0.92 * canvas.w, 0.9 * canvas.h):
            text = two
    if layout in ("sign", "two_signs"):
        if layout == "two_signs":
            other, _ = _text(rng, 0.1)
            if other.lower() == text.lower():
                return None
            side = canvas.w >= canvas.h
            half = (canvas.w // 2, canvas.h) if side else (canvas.w, canvas.h // 2)
            a = _sign(rng, canvas, text, 0, 0, *half)
            b = _sign(rng, canvas, other, *((half[0], 0) if side else (0, half[1])), *half)
            if not a or not b or a[1] == b[1]:
                return None
            info["target"] = rng.randrange(2)
            info["sign"] = (a, b)[info["target"]][1]
        else:
            a = _sign(rng, canvas, text, 0, 0, canvas.w, canvas.h)
            if not a:
                return None
            info["sign"] = a[1]
    else:
        angle = rng.uniform(-7, 7) if layout == "plain" and rng.random() < 0.3 else 0.0
        got = _fit(rng, canvas, text, 0.9 * canvas.w - 4, 0.6 * canvas.h, angle)
        if got is None:
            return None
        alpha, _, edges = got
        x, y = rng.randint(2, canvas.w - alpha.shape[1] - 2), rng.randint(2, canvas.h - alpha.shape[0] - 2)
        if not _word(rng, canvas, text, x, y, alpha, edges):
            return None
        if layout == "beside" and canvas.allowed:
            spec = {"shape": rng.choice(SHAPES), "colour": rng.choice(canvas.allowed),
                    "size": rng.choice(("small", "medium")), "filled": True}
            box = (x, y, x + alpha.shape[1], y + alpha.shape[0])
            if not place_shapes(rng, canvas, [spec], avoid=[box]):
                return None
            info["shape"] = spec["shape"]
    info["options"] = tuple(o.label for o in canvas.objects if o.kind == "word")
    return canvas, info
