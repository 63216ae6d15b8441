"""Read a PDF (or PNG/JPEG scans) once: text and word boxes per page, stored as JSON by file hash
under data_dir()/docindex, so the same document is never read twice."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Callable, Generator, Sequence

from ..api import EngineError
from ..atomic import replacing, write_text
from ..catalog import data_dir
from ..images import open_rgb
from .pages import INDEX_VERSION, Document, Page
from .ocr import ocr_words
from .pdf import PDFIUM_LOCK, has_text, open_pdf, page_label, page_words

MAX_PAGES = 500
MAX_BYTES = 200 * 1024 * 1024
OCR_SCALE = 2.0                     # 144 dpi: PP-OCR loses the spaces of 12 pt text at 108 dpi
# PNG, JPEG, TIFF (both byte orders), BMP, GIF: the scans a phone or scanner saves; WEBP below.
MAGIC = {b"%PDF": "pdf", b"\x89PNG": "image", b"\xff\xd8\xff": "image", b"II*\x00": "image",
         b"MM\x00*": "image", b"BM": "image", b"GIF8": "image"}

Progress = Callable[[int, int], None]
Reading = Generator[tuple[int, int], None, Document]  # yields (pages read, pages), returns the Document


def _kind(path: Path) -> str:
    head = path.open("rb").read(1024)
    if b"%PDF" in head:
        return "pdf"
    for magic, kind in MAGIC.items():
        if head.startswith(magic):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image"
    raise EngineError(f"{path.name} is not a PDF or an image file (PNG, JPEG, WEBP, TIFF, BMP, GIF).")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def open_document(paths: str | os.PathLike | Sequence[str | os.PathLike], cache_dir: str | os.PathLike | None = None,
                  progress: Progress | None = None, ocr: bool = True, max_pages: int = MAX_PAGES,
                  max_bytes: int = MAX_BYTES) -> Document:
    """Index one PDF, or one or more page images (in order, as one document), calling
    progress(i, n) per page. Raises EngineError with a message for the user on anything it
    cannot read."""
    reading = read_document(paths, cache_dir, ocr, max_pages, max_bytes)
    while True:
        try:
            i, n = next(reading)
        except StopIteration as done:
            return done.value
        if progress:
            progress(i, n)


def read_document(paths: str | os.PathLike | Sequence[str | os.PathLike], cache_dir: str | os.PathLike | None = None,
                  ocr: bool = True, max_pages: int = MAX_PAGES, max_bytes: int = MAX_BYTES) -> Reading:
    """open_document as a generator: yields (pages read, pages) as it reads, so a caller can show
    progress without a thread; returns the Document. Closed early, it keeps no half index."""
    paths = [Path(paths)] if isinstance(paths, (str, os.PathLike)) else [Path(p) for p in paths]
    if not paths:
        raise EngineError("No file was given.")
    for p in paths:
        if not p.is_file():
            raise EngineError(f"File not found: {p}")
    size = sum(p.stat().st_size for p in paths)
    if size > max_bytes:
        raise EngineError(f"{paths[0].name if len(paths) == 1 else 'These files'} take {size / 2**20:.0f} MiB; "
                          f"the limit is {max_bytes / 2**20:.0f} MiB.")
    kinds = [_kind(p) for p in paths]
    if "pdf" in kinds and len(paths) > 1:
        raise EngineError("Drop one PDF at a time (several images may go together as one document).")
    kind = "pdf" if kinds[0] == "pdf" else "images"
    if kind == "images" and len(paths) > max_pages:
        raise EngineError(f"{len(paths)} images were given; the limit is {max_pages} pages.")
    sha = hashlib.sha256("".join(_sha256(p) for p in paths).encode()).hexdigest() if len(paths) > 1 \
        else _sha256(paths[0])
    root = Path(cache_dir) if cache_dir else data_dir() / "docindex"
    name = paths[0].name if len(paths) == 1 else f"{paths[0].name} (+{len(paths) - 1} pages)"
    cached = _load(root, sha)
    if cached is not None:
        yield len(cached.pages), len(cached.pages)
        return cached
    folder = root / sha
    folder.mkdir(parents=True, exist_ok=True)
    build = _build_pdf if kind == "pdf" else _build_images
    try:
        pages = yield from build(paths, folder, ocr, max_pages)
        if not any(p.source != "empty" for p in pages):
            raise EngineError(f"{name} has no text layer and OCR found no readable text on "
                              f"{'its page' if len(pages) == 1 else f'any of its {len(pages)} pages'}"
                              + (". If it is a scan, try a sharper one (300 dpi)." if ocr else " (OCR is off)."))
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)   # the user's file is untouched; keep no half index
        raise
    doc = Document(sha, name, kind, pages, folder)
    _save(root, doc)
    return doc


def _build_pdf(paths, folder: Path, ocr: bool, max_pages: int):
    src = folder / "source.pdf"
    if not src.exists():
        with replacing(src) as tmp:
            shutil.copyfile(paths[0], tmp)
    with PDFIUM_LOCK:
        pdf = open_pdf(src, paths[0].name)
    try:
        n = len(pdf)
        if n == 0:
            raise EngineError(f"{paths[0].name} has no pages.")
        if n > max_pages:
            raise EngineError(f"{paths[0].name} has {n:,} pages; the limit is {max_pages:,}. "
                              f"Split it into parts of at most {max_pages:,} pages and drop those.")
        pages = []
        for i in range(n):
            with PDFIUM_LOCK:
                page = pdf[i]
                width, height = page.get_size()
                label = page_label(pdf, i)
                text, words = page_words(page)
                scan = None if has_text(text) or not ocr else page.render(scale=OCR_SCALE).to_pil()
                page.close()
            if has_text(text):
                pages.append(Page(i + 1, width, height, "text", text, words, label))
            else:
                pages.append(_ocr_page(i + 1, width, height, scan, label))
            yield i + 1, n
        return pages
    finally:
        with PDFIUM_LOCK:
            pdf.close()


def _build_images(paths, folder: Path, ocr: bool, max_pages: int):
    pages = []
    for i, p in enumerate(paths):
        image = open_rgb(p)
        dst = folder / f"src-{i + 1}{p.suffix.lower() or '.img'}"
        if not dst.exists():
            shutil.copyfile(p, dst)
        pages.append(_ocr_page(i + 1, image.width, image.height, image if ocr else None))
        yield i + 1, len(paths)
    return pages


def _ocr_page(number: int, width, height, image, label: str = "") -> Page:
    if image is None:
        return Page(number, width, height, "empty", "", [], label)
    text, words = ocr_words(image)
    return Page(number, width, height, "ocr" if has_text(text) else "empty", text if has_text(text) else "",
                words if has_text(text) else [], label)


def _load(root: Path, sha: str) -> Document | None:
    path = root / f"{sha}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None   # missing or damaged: read the document again
    if data.get("version") != INDEX_VERSION or data.get("sha256") != sha:
        return None
    return Document(sha, data["name"], data["kind"], [Page.from_json(p) for p in data["pages"]],
                    root / sha, from_cache=True)


def _save(root: Path, doc: Document) -> None:
    path = root / f"{doc.sha256}.json"
    write_text(path, json.dumps(doc.to_json(), ensure_ascii=False))
