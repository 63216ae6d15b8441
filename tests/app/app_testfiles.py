"""Bad inputs made for real: not an image, a truncated PNG, a decompression bomb, a PDF."""
from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

from PIL import Image


def png_bytes(size=(64, 64), colour=(10, 200, 10)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "PNG")
    return buf.getvalue()


def bomb_png(width=30000, height=30000) -> bytes:
    """A small PNG whose header claims width x height (900 MP): PIL's bomb guard must refuse it."""
    data = bytearray(png_bytes((8, 8)))
    ihdr = data.index(b"IHDR")
    data[ihdr + 4:ihdr + 12] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr:ihdr + 17])) & 0xFFFFFFFF
    data[ihdr + 17:ihdr + 21] = struct.pack(">I", crc)
    return bytes(data)


def noisy_png(size=(200, 200)) -> bytes:
    """Random pixels do not compress: about 3 bytes a pixel."""
    import random
    rnd = random.Random(0)
    img = Image.frombytes("RGB", size, bytes(rnd.getrandbits(8) for _ in range(size[0] * size[1] * 3)))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def make_bad_files(d: Path) -> dict[str, tuple[Path, str]]:
    """name -> (file, words the user's message must contain)."""
    d.mkdir(parents=True, exist_ok=True)
    files = {
        "text": ("notes.txt", b"just some text, not an image\n", "not an image"),
        "truncated": ("cut.png", png_bytes((300, 300))[:200], "corrupt or truncated"),
        "bomb": ("bomb.png", bomb_png(), "decompression bomb"),
        "big_bytes": ("noise.png", noisy_png(), "the limit is"),
        "big_pixels": ("wide.png", png_bytes((1500, 1000)), "megapixels"),
        "pdf": ("doc.pdf", b"%PDF-1.4\n%fake\n", "PDF"),
    }
    out = {}
    for key, (name, data, words) in files.items():
        (d / name).write_bytes(data)
        out[key] = (d / name, words)
    return out
