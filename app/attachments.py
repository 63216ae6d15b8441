"""Check what the user dropped in before anything is stored or sent to the model: images go to
the blob store, PDFs (and scans marked as a document) to the document index.

Each file is classified by its first bytes, then handled by the function in KINDS for its kind.
A bad file gives a message for the chat; it never raises past this module."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image as PILImage

from engine.api import EngineError
from engine.images import open_rgb

from .blobs import BlobStore

EXT = {"PNG": ".png", "JPEG": ".jpg", "GIF": ".gif", "WEBP": ".webp", "BMP": ".bmp", "TIFF": ".tiff"}


@dataclass
class Limits:
    max_image_mb: float = 20.0
    max_image_megapixels: float = 40.0
    max_doc_mb: float = 200.0
    max_pages: int = 500


@dataclass
class Checked:
    blobs: list[str]      # stored attachments, in order
    problems: list[str]   # one message per refused file
    refused: list[str]    # the refused files' paths
    documents: list[Path] = field(default_factory=list)  # PDFs and scans, indexed by documents.py
    names: list[str] = field(default_factory=list)  # the stored attachments' file names (alt text)


def kind_of(head: bytes) -> str:
    if head.startswith(b"%PDF"):
        return "pdf"
    return "image"  # anything else is tried as an image; PIL says if it is not one


def damaged(path: Path) -> EngineError:
    return EngineError(f"{path.name} could not be read as an image (the file is damaged or not an image)")


def megapixels(path: Path) -> float:
    """From the header alone; a size past PIL's bomb guard is read from its refusal."""
    try:
        with PILImage.open(path) as img:
            return img.width * img.height / 1e6
    except PILImage.DecompressionBombError as e:
        said = re.search(r"\((\d+) pixels\)", str(e))
        if said is None:
            raise damaged(path) from None
        return int(said.group(1)) / 1e6
    except (OSError, SyntaxError, ValueError):
        raise damaged(path) from None


def _image(path: Path, blobs: BlobStore, limits: Limits, as_document: bool) -> tuple[str, object]:
    size = path.stat().st_size
    if size > limits.max_image_mb * 2**20:
        raise EngineError(f"{path.name} is {size / 2**20:.1f} MiB; the limit is "
                          f"{limits.max_image_mb:g} MiB (set with --max-image-mb)")
    mp = megapixels(path)
    if mp > limits.max_image_megapixels:
        raise EngineError(f"{path.name} is {mp:.0f} megapixels; the limit is "
                          f"{limits.max_image_megapixels:g} (set with --max-image-megapixels)")
    try:
        open_rgb(str(path), max_pixels=int(limits.max_image_megapixels * 1e6))  # full decode: truncation shows here
    except EngineError:
        raise damaged(path) from None
    if as_document:  # a scanned page: read by OCR with the other pages of the document
        return "documents", path
    with PILImage.open(path) as img:
        ext = EXT.get(img.format or "", ".png")
    return "blobs", blobs.put(path.read_bytes(), ext)


def _pdf(path: Path, blobs: BlobStore, limits: Limits, as_document: bool) -> tuple[str, object]:
    size = path.stat().st_size
    if size > limits.max_doc_mb * 2**20:
        raise EngineError(f"{path.name} is {size / 2**20:.1f} MiB; the limit for documents is "
                          f"{limits.max_doc_mb:g} MiB (set with --max-doc-mb)")
    return "documents", path


KINDS = {"image": _image, "pdf": _pdf}


def check_files(paths, blobs: BlobStore, limits: Limits, as_document: bool = False) -> Checked:
    """`as_document`: images are the pages of one scanned document, not pictures to chat about."""
    out = Checked([], [], [])
    for p in map(Path, paths or []):
        try:
            if not p.is_file():
                raise EngineError(f"{p.name} could not be read (the upload may have failed).")
            with p.open("rb") as f:
                head = f.read(8)
            if not head:
                raise EngineError(f"{p.name} is empty")
            where, value = KINDS[kind_of(head)](p, blobs, limits, as_document)
            getattr(out, where).append(value)
            if where == "blobs":
                out.names.append(p.name)
        except EngineError as e:
            out.problems.append(str(e))
            out.refused.append(str(p))
        except OSError as e:
            out.problems.append(f"{p.name} could not be read ({e.strerror or e}).")
            out.refused.append(str(p))
    return out
