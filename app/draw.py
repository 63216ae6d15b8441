"""Draw an answer's boxes onto its image, labelled [k].

Boxes are normalized 0..1 to the original image. Each box is a coloured line between two dark
lines, and each label is dark or light text on its colour, so both stay readable on light and on
dark images."""
from __future__ import annotations

from PIL import Image, ImageDraw, ImageFont

# Saturated colours that are distinct from each other (Okabe-Ito, colour-blind friendly).
PALETTE = [(230, 159, 0), (86, 180, 233), (0, 158, 115), (240, 228, 66),
           (0, 114, 178), (213, 94, 0), (204, 121, 167), (255, 255, 255)]
DARK = (0, 0, 0)
LIGHT = (255, 255, 255)


def colour(ref: int) -> tuple[int, int, int]:
    return PALETTE[ref % len(PALETTE)]


def text_colour(bg: tuple[int, int, int]) -> tuple[int, int, int]:
    """Black on light colours, white on dark ones (relative luminance, WCAG weights)."""
    r, g, b = (c / 255 for c in bg)
    return DARK if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.45 else LIGHT


def to_pixels(box, width: int, height: int) -> tuple[int, int, int, int]:
    """Normalized (x1, y1, x2, y2) -> integer pixels inside the image, corners ordered."""
    x1, y1, x2, y2 = (min(max(float(v), 0.0), 1.0) for v in box)
    x1, x2 = sorted((x1, x2))
    y1, y2 = sorted((y1, y2))
    return (round(x1 * (width - 1)), round(y1 * (height - 1)),
            round(x2 * (width - 1)), round(y2 * (height - 1)))


def draw_boxes(image: Image.Image, boxes, focus: int | None = None) -> Image.Image:
    """Return a copy of `image` with each box drawn. `boxes`: objects with ref, x1, y1, x2, y2
    (engine.api.Box) or (ref, (x1, y1, x2, y2)) pairs. `focus`: the ref to emphasise (the [k] the
    user pointed at): the rest of the image is dimmed and that box drawn thicker, on top."""
    items = []
    for b in boxes:
        ref, coords = (b.ref, (b.x1, b.y1, b.x2, b.y2)) if hasattr(b, "ref") else b
        items.append((ref, coords, f"[{ref}]"))
    if focus is None or not any(ref == focus for ref, _, _ in items):
        return _draw(image, items)
    # The focused box last, so neither another box nor another label covers it.
    items.sort(key=lambda it: it[0] == focus)
    return _draw(_dim_outside(image, items[-1][1]), items, emphasis=1)


def draw_figure(image: Image.Image, rows, margin: bool = False) -> Image.Image:
    """Boxes as an answer's figures store them, rows of [label, x1, y1, x2, y2]: an int label is a
    [k] box in its own colour, a string tags a group (a cited passage, "[2]"), None is one more box
    of the group before it, drawn without a label. `margin`: the labels go in a strip left of the
    image, level with their boxes, so none covers a page's text."""
    items, ref = [], 0
    for i, (label, *coords) in enumerate(rows):
        ref = label if isinstance(label, int) else ref if label is None else i
        items.append((ref, coords, None if label is None else f"[{label}]"))
    return _draw(image, items, margin=margin)


DIM = 0.45  # how much of the picture outside a focused box is kept


def _dim_outside(image: Image.Image, coords) -> Image.Image:
    out = image.convert("RGB")
    box = to_pixels(coords, *out.size)
    inside = out.crop((box[0], box[1], box[2] + 1, box[3] + 1))
    out = Image.blend(Image.new("RGB", out.size, DARK), out, DIM)
    out.paste(inside, box[:2])
    return out


PAGE_PAD = 2   # line widths between a passage's words and the inner edge of its box


def margin_width(width: int) -> int:
    """The strip left of a page that holds its labels."""
    return max(36, width // 14)


def _draw(image: Image.Image, items, emphasis: int = 0, margin: bool = False) -> Image.Image:
    """`emphasis`: how many of the last items are drawn with lines twice as thick. `margin`: labels
    in a strip left of the image (the image moves right by margin_width)."""
    page = image.convert("RGB")
    w, h = page.size
    left = margin_width(w) if margin else 0
    out = Image.new("RGB", (w + left, h), LIGHT) if margin else page
    if margin:
        out.paste(page, (left, 0))
    draw = ImageDraw.Draw(out)
    base = max(2, round(min(w, h) / 320))
    font = ImageFont.load_default(size=max(12, round(min(w, h) / 28)))
    if margin:
        font = ImageFont.load_default(size=max(10, round(left / 2.6)))
        draw = _Shifted(draw, left)
    for i, (ref, coords, _) in enumerate(items):
        line = base * 2 if i >= len(items) - emphasis else base
        # Drawn mostly outside the box, so the boxed words stay readable; a page's passage (margin)
        # entirely outside it, clear of its letters.
        x1, y1, x2, y2 = to_pixels(coords, w, h)
        if margin:
            x1, y1, x2, y2 = x1 - PAGE_PAD * line, y1 - PAGE_PAD * line, x2 + PAGE_PAD * line, y2 + PAGE_PAD * line
        o = 2 * line
        draw.rectangle((x1 - o, y1 - o, x2 + o, y2 + o), outline=DARK, width=line * 3)
        draw.rectangle((x1 - line, y1 - line, x2 + line, y2 + line), outline=colour(ref), width=line)
    for ref, coords, label in items:  # labels last, so no later box hides one
        if label and margin:
            _, y1, _, _ = to_pixels(coords, w, h)
            _label(draw.inner, font, label, 2, y1, left - 4, h, colour(ref), above=False)
        elif label:
            x1, y1, _, _ = to_pixels(coords, w, h)
            _label(draw, font, label, x1, y1, w, h, colour(ref))
    return out


class _Shifted:
    """An ImageDraw whose rectangles land `dx` pixels to the right (the page beside its margin)."""

    def __init__(self, draw, dx: int):
        self.inner, self.dx = draw, dx

    def rectangle(self, xy, **kw):
        x1, y1, x2, y2 = xy
        self.inner.rectangle((x1 + self.dx, y1, x2 + self.dx, y2), **kw)


def _label(draw, font, text, x, y, w, h, bg, above: bool = True) -> None:
    l, t, r, b = draw.textbbox((0, 0), text, font=font)
    pad = max(2, (b - t) // 4)
    tw, th = r - l + 2 * pad, b - t + 2 * pad
    # Above the box when there is room, else just inside its top edge; never off the image.
    lx = min(max(x, 0), max(w - tw, 0)) if above else x
    ly = (y - th if y - th >= 0 else min(y, max(h - th, 0))) if above else min(max(y, 0), max(h - th, 0))
    draw.rectangle((lx, ly, lx + tw, ly + th), fill=bg, outline=DARK)
    draw.text((lx + pad - l, ly + pad - t), text, fill=text_colour(bg), font=font)
