"""Open user images safely: PIL's decompression-bomb guard on, size limits, clear errors."""
from __future__ import annotations

import io
from pathlib import Path

from PIL import Image as PILImage, UnidentifiedImageError

from .api import EngineError, Image

MAX_PIXELS = 64_000_000      # larger images are refused, not silently shrunk
MAX_BYTES = 50 * 1024 * 1024

PILImage.MAX_IMAGE_PIXELS = MAX_PIXELS  # PIL raises DecompressionBombError at 2x this


def read_bytes(source: str | bytes | Path, max_bytes: int = MAX_BYTES) -> bytes:
    if isinstance(source, bytes):
        data = source
    else:
        p = Path(source)
        if not p.is_file():
            raise EngineError(f"Image not found: {p}")
        if p.stat().st_size > max_bytes:
            raise EngineError(f"Image {p.name} is {p.stat().st_size / 2**20:.0f} MiB; the limit is "
                              f"{max_bytes / 2**20:.0f} MiB.")
        data = p.read_bytes()
    if len(data) > max_bytes:
        raise EngineError(f"Image is {len(data) / 2**20:.0f} MiB; the limit is {max_bytes / 2**20:.0f} MiB.")
    return data


def open_rgb(image: Image | str | bytes | Path, max_pixels: int = MAX_PIXELS) -> PILImage.Image:
    """Decode fully (so truncation is caught here, not mid-generation) and convert to RGB."""
    source = image.source if isinstance(image, Image) else image
    name = Path(source).name if not isinstance(source, bytes) else "image"
    data = read_bytes(source)
    try:
        img = PILImage.open(io.BytesIO(data))
        if img.width * img.height > max_pixels:
            raise EngineError(f"{name} is {img.width}x{img.height} pixels; the limit is "
                              f"{max_pixels / 1e6:.0f} megapixels.")
        img.load()
    except PILImage.DecompressionBombError as e:
        raise EngineError(f"{name} was refused as a decompression bomb ({e}).") from None
    except UnidentifiedImageError:
        raise EngineError(f"{name} is not an image PIL can read.") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise EngineError(f"{name} is corrupt or truncated ({e}).") from None
    return img.convert("RGB")


def image_size(image: Image | str | bytes | Path) -> tuple[int, int]:
    """(width, height) from the header alone; errors as open_rgb gives them."""
    source = image.source if isinstance(image, Image) else image
    try:
        with PILImage.open(io.BytesIO(read_bytes(source))) as img:
            return img.size
    except (UnidentifiedImageError, OSError) as e:
        raise EngineError(f"{'image' if isinstance(source, bytes) else Path(source).name} is not an "
                          f"image PIL can read ({e}).") from None
