"""Page images, rendered once per width and kept as PNG next to the document's index."""
from __future__ import annotations

from pathlib import Path

from ..atomic import replacing
from ..images import open_rgb
from .pages import Document
from .pdf import PDFIUM_LOCK, open_pdf

THUMBNAIL_WIDTH = 200


def render_page(doc: Document, number: int, width: int = 1024) -> Path:
    """A PNG of the page, `width` pixels wide, rendered once and kept next to the index."""
    doc.page(number)  # a clear IndexError for a page that is not there
    out = doc.folder / f"p{number}-w{width}.png"
    if out.exists():
        return out
    if doc.kind == "pdf":
        with PDFIUM_LOCK:
            pdf = open_pdf(doc.folder / "source.pdf", doc.name)
            try:
                page = pdf[number - 1]
                image = page.render(scale=width / page.get_width()).to_pil()
            finally:
                pdf.close()
    else:
        src = next(doc.folder.glob(f"src-{number}.*"))
        image = open_rgb(src)
        image = image.resize((width, max(1, round(image.height * width / image.width))))
    with replacing(out) as tmp:
        image.save(tmp, format="PNG")
    return out


def thumbnail(doc: Document, number: int) -> Path:
    return render_page(doc, number, THUMBNAIL_WIDTH)
