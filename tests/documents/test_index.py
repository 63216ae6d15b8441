"""Indexing real PDFs: text layer words at known positions, OCR of the scanned page, the cache."""
import json

import pytest
from doc_pdfs import PAGES, SCAN, SCAN_FONT_SIZE, word_box

from engine.documents import open_document, render_page, thumbnail


def test_pages_and_sources(report):
    assert [p.source for p in report.pages] == ["text"] * 4 + ["ocr"]
    assert "42 million dollars" in report.page(2).text
    assert report.kind == "pdf" and report.name == "report.pdf"
    assert report.progress_calls[-1] == (5, 5) and len(report.progress_calls) == 5


@pytest.mark.parametrize("page,line,word", [(2, 1, "42"), (2, 1, "revenue"), (3, 1, "1,250"),
                                            (4, 1, "Lisbon"), (1, 0, "Annual")])
def test_text_layer_word_boxes_at_known_positions(report, page, line, word):
    x1, x2, base = word_box(PAGES[page][line], word, line)
    (w,) = [w for w in report.page(page).words if w.text.strip(".,") == word]
    bx1, by1, bx2, by2 = w.box
    assert bx1 == pytest.approx(x1, abs=2 / 612) and bx2 == pytest.approx(x2, abs=2 / 612)
    assert by1 < base < by2 and by2 - by1 < 20 / 792        # one line tall, around the baseline


def test_ocr_reads_the_scanned_page_with_word_boxes(report):
    page = report.page(5)
    assert "Warehouse" in page.text and "Porto" in page.text
    for line, word in [(0, "Warehouse"), (1, "Porto")]:
        x1, x2, base = word_box(SCAN[line], word, line, SCAN_FONT_SIZE)
        (w,) = [w for w in page.words if w.text == word]
        assert w.box[0] == pytest.approx(x1, abs=0.02) and w.box[2] == pytest.approx(x2, abs=0.02)
        assert w.box[1] - 0.01 < base < w.box[3] + 0.01


def test_second_open_reads_the_stored_index(report, report_pdf, cache_dir):
    again = open_document(report_pdf, cache_dir=cache_dir)
    assert again.from_cache and not report.from_cache
    assert [p.to_json() for p in again.pages] == [p.to_json() for p in report.pages]
    stored = json.loads((cache_dir / f"{report.sha256}.json").read_text())
    assert stored["sha256"] == report.sha256 and len(stored["pages"]) == 5
    assert not list(cache_dir.rglob("*.pkl")) and not list(cache_dir.rglob("*.pickle"))


def test_page_renders_are_cached_pngs(report):
    from PIL import Image
    path = render_page(report, 2, width=300)
    w, h = Image.open(path).size
    assert w == 300 and abs(h - 300 * 792 / 612) <= 1
    assert render_page(report, 2, width=300) == path and thumbnail(report, 2).exists()
    with pytest.raises(IndexError, match="no page 9"):
        report.page(9)


@pytest.mark.slow
def test_png_scans_become_one_document(tmp_path, cache_dir):
    from doc_pdfs import scan_png
    p1 = tmp_path / "scan1.png"
    p1.write_bytes(scan_png())
    p2 = tmp_path / "scan2.png"
    p2.write_bytes(scan_png(["Second sheet about invoices"]))
    doc = open_document([p1, p2], cache_dir=cache_dir)
    assert doc.kind == "images" and len(doc.pages) == 2
    assert "Porto" in doc.page(1).text and "invoices" in doc.page(2).text
    assert render_page(doc, 2, width=200).exists()


@pytest.mark.slow
@pytest.mark.parametrize("fmt, suffix", [("WEBP", ".webp"), ("TIFF", ".tif")])
def test_webp_and_tiff_scans_are_pages_too(tmp_path, cache_dir, fmt, suffix):
    """The app accepts these as images; as pages of a document they are read the same way."""
    import io

    from PIL import Image

    from doc_pdfs import scan_png
    path = tmp_path / f"scan{suffix}"
    Image.open(io.BytesIO(scan_png())).save(path, format=fmt, **({"lossless": True} if fmt == "WEBP" else {}))
    doc = open_document([path], cache_dir=cache_dir)
    assert doc.kind == "images" and "Porto" in doc.page(1).text
