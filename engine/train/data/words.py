"""Printed words: the word vocabulary, the fonts found on this machine and text masks."""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

# Common short English words, 3-8 letters; no colour or shape names (those are answers elsewhere).
WORDS = tuple(sorted(set("""
able about above actor after again agent album alarm anchor angle animal answer apple april
army artist autumn baby bacon badge baker ball banana band bank basket beach bean bear bed
bell belt bench bike bird blanket boat body bone book boot bottle bowl bread bridge brush
bucket butter button cabin cable cake camera camp candle candy canvas captain car card carpet
carrot castle cat chair cheese cherry chess chicken child church city class clock cloud coat
coffee coin corn cotton couch cow crab cream cup dance desk dinner doctor dog dollar door
dragon dream dress drum duck eagle earth egg engine exit farm father feather fence field film
fish flag floor flower forest fork fox friend frog fruit garden gate ghost gift glass glove
goat gold grape grass guitar hammer hand happy harbor hat hill honey horse hotel house ice
island jacket jam jelly juice jungle key king kitchen kite ladder lake lamp lemon letter lion
lizard lock magic mango map market meadow melon metal milk mirror money monkey moon mother
mouse music nail needle nest night north ocean office onion open orbit owl paint panda paper
parade park party pasta peach pearl pencil pepper piano picnic pillow pilot pizza planet plant
plate pocket poem police pond potato puzzle queen rabbit radio rain river road robot rocket
roof rope rose salad salt sand school sea seed shadow sheep shell ship shirt shoe shop silver
sister sky sleep snake snow soap sock sofa soup south spoon spring stairs station stone storm
street sugar summer sun table tiger toast today tomato tooth towel tower town toy train tree
truck tunnel turtle umbrella uncle valley violin wagon wallet water whale wheel window winter
wolf wood world yard zebra zone
""".split())))
assert len(WORDS) >= 200

_WANTED = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSerif.ttf", "DejaVuSansMono.ttf",
           "LiberationSans-Regular.ttf", "LiberationSans-Bold.ttf", "LiberationSerif-Regular.ttf",
           "LiberationMono-Regular.ttf")
DEFAULT = "default"  # PIL's built-in font, always there


@functools.lru_cache(maxsize=1)
def font_names() -> tuple:
    """PIL's default font plus those of the wanted TTFs present here, sorted: the RNG picks from
    this list, so a machine with other fonts makes other (still valid) images."""
    root = Path("/usr/share/fonts/truetype")
    found = sorted(str(p) for p in root.rglob("*.ttf") if p.name in _WANTED) if root.is_dir() else []
    return (DEFAULT, *found)


@functools.lru_cache(maxsize=512)
def font(name: str, size: int):
    if name == DEFAULT:
        return ImageFont.load_default(size=size)
    return ImageFont.truetype(name, size)


@functools.lru_cache(maxsize=32)
def _cap_ratio(name: str) -> float:
    l, t, r, b = font(name, 100).getbbox("H")
    return (b - t) / 100


def font_for_cap(name: str, cap_px: float):
    """The font at the size whose capital letters are cap_px tall."""
    return font(name, max(6, round(cap_px / _cap_ratio(name) + 0.5)))


def text_alpha(text: str, fnt, angle: float = 0.0) -> np.ndarray:
    """Tight anti-aliased mask (floats 0..1) of the text, turned by angle degrees."""
    l, t, r, b = fnt.getbbox(text)
    m = Image.new("L", (r - l + 4, b - t + 4), 0)
    ImageDraw.Draw(m).text((2 - l, 2 - t), text, font=fnt, fill=255)
    if angle:
        m = m.rotate(angle, resample=Image.BICUBIC, expand=True)
    a = np.asarray(m, np.float32) / 255.0
    ys, xs = np.nonzero(a > 0.05)
    return a[ys.min():ys.max() + 1, xs.min():xs.max() + 1]


def char_edges(text: str, fnt) -> tuple:
    """Where each character of the printed text starts, and where the last ends, as fractions of
    the ink's width (len(text) + 1 values): from the font's advances, so a W takes more of the
    word than an i (what the tower stage's per-patch character targets need)."""
    l, _, r, _ = fnt.getbbox(text)
    cuts = [(fnt.getlength(text[:k]) - l) / max(1, r - l) for k in range(1, len(text))]
    return (0.0, *(min(1.0, max(0.0, c)) for c in cuts), 1.0)


def cased(rng, word: str) -> str:
    r = rng.random()
    return word.upper() if r < 0.25 else word.capitalize() if r < 0.5 else word


def number(rng) -> str:
    return str(rng.randint(*rng.choice(((1, 9), (10, 99), (100, 999), (1000, 9999)))))
