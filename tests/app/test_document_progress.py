"""Reading a long document shows a real progress bar (an HTML <progress> in the chat, updated per
page): a scanned PDF made here (every page an image, so each goes through OCR and takes a while)
dropped through gradio_client and through a real Chromium."""
import io
import re
import sys

from reportlab.lib.pagesizes import letter
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas
import pytest

from app_testfiles import ROOT, chromium_page, client, send, wait_until

sys.path.insert(0, str(ROOT / "tests" / "documents"))
from doc_pdfs import scan_png  # noqa: E402

pytestmark = pytest.mark.slow

BAR = re.compile(r"<progress max='(\d+)' value='(\d+)'>")


def scanned_pdf(path, pages: int, words: str):
    """A PDF whose pages are pictures of text only: no text layer, OCR reads each page."""
    c = canvas.Canvas(str(path), pagesize=letter)
    for i in range(pages):
        png = scan_png([f"{words} page {i + 1}", "inventory audit"])
        c.drawImage(ImageReader(io.BytesIO(png)), 0, 0, *letter)
        c.showPage()
    c.save()
    return path


def bars(job) -> list[tuple[int, int]]:
    """Every (page, pages) the chat's progress bar showed, in order."""
    seen = []
    for out in job.outputs():
        for msg in out[0]:
            content = msg["content"]
            for part in content if isinstance(content, list) else [content]:
                text = part.get("text", "") if isinstance(part, dict) else str(part)
                seen += [(int(v), int(m)) for m, v in BAR.findall(text)]
    return seen


def test_reading_a_scanned_pdf_shows_a_progress_bar_page_by_page(served, tmp_path):
    demo, app = served
    job = send(client(demo), "", [scanned_pdf(tmp_path / "scans.pdf", 6, "Harbour")])
    out = job.result(timeout=120)
    shown = bars(job)
    assert len(set(shown)) >= 3, shown                         # several updates, not one at the end
    assert all(n == 6 for _, n in shown) and [i for i, _ in shown] == sorted(i for i, _ in shown)
    assert "scans.pdf**: 6 pages indexed, 6 read by OCR" in str(out[0][-1]["content"])


def test_the_bar_is_drawn_in_the_browser(served, tmp_path):
    demo, app = served
    pdf = scanned_pdf(tmp_path / "scans.pdf", 6, "Lighthouse")
    with chromium_page(tmp_path) as page:
        page.goto(demo.local_url)
        page.wait_for_selector("#message textarea", timeout=30_000)
        page.set_input_files("#message input[type=file]", str(pdf))
        page.wait_for_selector("#message [aria-label='File thumbnail']", timeout=15_000)
        page.press("#message textarea", "Enter")
        bar = page.locator("#chatbot progress")
        values = set()
        assert wait_until(lambda: bar.count() and values.add(bar.first.get_attribute("value")) is None
                          and len(values) >= 2, timeout=60, every=0.05), values
        assert bar.first.get_attribute("max") == "6"
        page.screenshot(path=str(tmp_path / "reading.png"), full_page=True)
        assert wait_until(lambda: "6 pages indexed" in page.locator("#chatbot").inner_text(), timeout=60)
