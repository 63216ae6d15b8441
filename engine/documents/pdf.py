"""PDF pages through pypdfium2: open with clear errors, words with boxes from the text layer."""
from __future__ import annotations

import re
import threading
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from ..api import EngineError
from .pages import Word

PDFIUM_LOCK = threading.Lock()   # pdfium is not thread-safe; the app serves several requests
MIN_TEXT_CHARS = 8               # fewer non-space characters than this: treat as a scan


def open_pdf(path: Path, name: str | None = None) -> pdfium.PdfDocument:
    """Open a PDF; `name` is what the user calls it (the stored copy has another file name)."""
    name = name or path.name
    try:
        return pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as e:
        code = getattr(e, "err_code", None)
        if code == pdfium_c.FPDF_ERR_PASSWORD:
            raise EngineError(f"{name} is encrypted (password-protected). Open it in a PDF viewer, "
                              f"save or print an unprotected copy, and drop that instead.") from None
        if code == pdfium_c.FPDF_ERR_SUCCESS or _pageless(path):   # pdfium refuses an empty page tree
            raise EngineError(f"{name} has no pages.") from None
        raise EngineError(f"{name} is not a readable PDF: it is corrupt or truncated "
                          f"(PDFium: {e}). Try re-saving it from the program that made it.") from None


def _pageless(path: Path) -> bool:
    """A PDF whose page tree says /Count 0 and that holds no page object."""
    data = path.read_bytes()
    return (re.search(rb"/Type\s*/Pages\b", data) is not None and re.search(rb"/Count\s+0\b", data) is not None
            and re.search(rb"/Type\s*/Page\b(?!s)", data) is None)


def page_words(page: pdfium.PdfPage) -> tuple[str, list[Word]]:
    """The page's text and its words, each with the union of its characters' boxes."""
    left, bottom, right, top = page.get_bbox()
    w, h = right - left, top - bottom
    textpage = page.get_textpage()
    try:
        n = textpage.count_chars()
        chars = [chr(pdfium_c.FPDFText_GetUnicode(textpage.raw, i)) for i in range(n)]
        words, cur, box = [], [], None
        for i, ch in enumerate(chars + [" "]):
            if ch.isspace() or ch == "\x00":
                if cur:
                    words.append(Word("".join(cur), box))
                cur, box = [], None
                continue
            x1, y1, x2, y2 = textpage.get_charbox(i, loose=True)
            nb = ((x1 - left) / w, (top - y2) / h, (x2 - left) / w, (top - y1) / h)
            box = nb if box is None else (min(box[0], nb[0]), min(box[1], nb[1]),
                                          max(box[2], nb[2]), max(box[3], nb[3]))
            cur.append(ch)
        text = "".join(chars).replace("\r\n", "\n").replace("\x00", "")
        return text, words
    finally:
        textpage.close()


def page_label(pdf: pdfium.PdfDocument, index: int) -> str:
    """The number printed on page `index` (0-based) as the PDF labels it ("iv", "20", "A-3"), or ""."""
    try:
        return (pdf.get_page_label(index) or "").strip()
    except pdfium.PdfiumError:
        return ""


def has_text(text: str) -> bool:
    return sum(not c.isspace() for c in text) >= MIN_TEXT_CHARS
