"""Every way a dropped file can be wrong gives a clear EngineError, never a traceback."""

import pypdfium2 as pdfium
import pytest
from reportlab.lib import pdfencrypt
from reportlab.pdfgen import canvas

from engine.api import EngineError
from engine.documents import open_document


def make_pdf(path, pages, encrypt=None, draw=lambda c, i: c.drawString(72, 700, f"Page {i + 1} text here")):
    c = canvas.Canvas(str(path), encrypt=encrypt)
    for i in range(pages):
        draw(c, i)
        c.showPage()
    c.save()
    return path


def test_encrypted_pdf(tmp_path):
    enc = pdfencrypt.StandardEncryption("secret", ownerPassword="owner")
    path = make_pdf(tmp_path / "locked.pdf", 1, encrypt=enc)
    with pytest.raises(EngineError, match="locked.pdf is encrypted"):
        open_document(path, cache_dir=tmp_path / "c")


def test_corrupt_pdf(tmp_path):
    good = make_pdf(tmp_path / "good.pdf", 2).read_bytes()
    bad = tmp_path / "broken.pdf"
    bad.write_bytes(good[:9] + b"\x00garbage" * 50)
    with pytest.raises(EngineError, match="broken.pdf is not a readable PDF"):
        open_document(bad, cache_dir=tmp_path / "c")


def test_zero_pages(tmp_path):
    path = tmp_path / "empty.pdf"
    with path.open("wb") as f:
        pdfium.PdfDocument.new().save(f)
    assert b"/Count 0" in path.read_bytes()
    with pytest.raises(EngineError, match="empty.pdf has no pages"):
        open_document(path, cache_dir=tmp_path / "c")


def test_two_thousand_pages(tmp_path):
    path = make_pdf(tmp_path / "huge.pdf", 2000, draw=lambda c, i: None)
    with pytest.raises(EngineError, match=r"huge.pdf has 2,000 pages; the limit is 500"):
        open_document(path, cache_dir=tmp_path / "c")


@pytest.mark.slow
def test_no_text_and_no_readable_scan(tmp_path):
    def draw(c, i):
        c.setFillGray(0.5)
        c.rect(100, 100, 300, 200, fill=1)
    path = make_pdf(tmp_path / "shapes.pdf", 1, draw=draw)
    with pytest.raises(EngineError, match="shapes.pdf has no text layer and OCR found no readable text on its page"):
        open_document(path, cache_dir=tmp_path / "c")


def test_too_many_bytes(tmp_path):
    path = make_pdf(tmp_path / "big.pdf", 3)
    with pytest.raises(EngineError, match="the limit is 0 MiB"):
        open_document(path, cache_dir=tmp_path / "c", max_bytes=100)


def test_not_a_pdf_or_image(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(EngineError, match="not a PDF or an image file"):
        open_document(path, cache_dir=tmp_path / "c")


def test_missing_file(tmp_path):
    with pytest.raises(EngineError, match="File not found"):
        open_document(tmp_path / "nope.pdf", cache_dir=tmp_path / "c")


def test_corrupt_png(tmp_path):
    path = tmp_path / "scan.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    with pytest.raises(EngineError, match="scan.png"):
        open_document(path, cache_dir=tmp_path / "c")


def test_failed_document_leaves_no_index(tmp_path):
    path = make_pdf(tmp_path / "huge.pdf", 600, draw=lambda c, i: None)
    with pytest.raises(EngineError):
        open_document(path, cache_dir=tmp_path / "c")
    assert not list((tmp_path / "c").iterdir())
