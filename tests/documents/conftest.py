"""Fixtures: the PDFs of doc_pdfs.py, made once per session."""
import io

import pytest
from reportlab.lib.pagesizes import letter
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas

from doc_pdfs import PAGES, H, W, draw_lines, scan_png


@pytest.fixture(scope="session")
def report_pdf(tmp_path_factory):
    path = tmp_path_factory.mktemp("pdf") / "report.pdf"
    c = canvas.Canvas(str(path), pagesize=letter)
    for n in sorted(PAGES):
        draw_lines(c, PAGES[n])
        c.showPage()
    c.drawImage(ImageReader(io.BytesIO(scan_png())), 0, 0, width=W, height=H)
    c.showPage()
    c.save()
    return path


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("docindex")


@pytest.fixture(scope="session")
def report(report_pdf, cache_dir):
    from engine.documents import open_document
    calls = []
    doc = open_document(report_pdf, cache_dir=cache_dir, progress=lambda i, n: calls.append((i, n)))
    doc.progress_calls = calls
    return doc
