"""OCR reads every line of a printed page at the resolutions scans come in (the audit found the
long last line of this page lost at 200 and 300 dpi with RapidOCR's defaults: see
engine/documents/ocr.py)."""
from __future__ import annotations

import difflib

import pypdfium2 as pdfium
import pytest
from reportlab.lib.pagesizes import letter
from reportlab.pdfgen import canvas

from engine.documents.ocr import ocr_words

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """A heading and three 14 pt lines, the last one long."""
    path = tmp_path_factory.mktemp("ocr") / "page.pdf"
    c = canvas.Canvas(str(path), pagesize=letter)
    c.setFont("Helvetica-Bold", 14)
    c.drawString(72, 720, "Finances")
    c.setFont("Helvetica", 14)
    for y, line in [(695, "The total budget for 2024 was 48,250 kroner."), (672, "The treasurer is Henrik Dahl."),
                    (647, "Most of the money paid for new copper roofing on the north tower.")]:
        c.drawString(72, y, line)
    c.showPage()
    c.save()
    return pdfium.PdfDocument(str(path))[0]


@pytest.mark.parametrize("dpi", [144, 200, 300])
def test_every_line_of_a_scan_is_read(page, dpi):
    want = page.get_textpage().get_text_range().split()
    text, words = ocr_words(page.render(scale=dpi / 72).to_pil())
    matcher = difflib.SequenceMatcher(a=want, b=[w.text for w in words], autojunk=False)
    read = sum(b.size for b in matcher.get_matching_blocks())
    assert read >= len(want) - 1, f"{read} of {len(want)} words read in order: {text!r}"
    assert "tower." in text.split()  # the long last line
