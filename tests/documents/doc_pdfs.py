"""PDFs made here with reportlab: real text layers at known positions, one page a raster scan."""
import io

import pypdfium2 as pdfium
from reportlab.lib.pagesizes import letter
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen import canvas

W, H = letter          # 612 x 792 points
X0, FONT, SIZE = 72, "Helvetica", 12

PAGES = {
    1: ["Annual Report 2023", "This report covers the activities of the Northwind Company."],
    2: ["Revenue", "Total revenue reached 42 million dollars in 2023, up from 35 million."],
    3: ["Employees", "The company employed 1,250 people at the end of the year across 14 offices."],
    4: ["Outlook", "Management expects the new Lisbon factory to open in March 2025."],
}
SCAN = ["Warehouse inventory audit", "completed in Porto during April"]   # page 5, pixels only
SCAN_FONT_SIZE = 20


def line_y(i: int, size=SIZE) -> float:
    return 700 - i * (size * 2)


def word_box(line: str, word: str, i: int, size=SIZE):
    """Where reportlab put `word` of line i: (x1, x2, baseline) normalized; x from font metrics."""
    start = line.index(word)
    x1 = X0 + stringWidth(line[:start], FONT, size)
    x2 = x1 + stringWidth(word, FONT, size)
    return x1 / W, x2 / W, 1 - line_y(i, size) / H


def draw_lines(c, lines, size=SIZE):
    c.setFont(FONT, size)
    for i, line in enumerate(lines):
        c.drawString(X0, line_y(i, size), line)


def scan_png(lines=SCAN, size=SCAN_FONT_SIZE) -> bytes:
    """A page of text turned into pixels only, as a scanner would give it."""
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=letter)
    draw_lines(c, lines, size)
    c.showPage()
    c.save()
    page = pdfium.PdfDocument(buf.getvalue())[0]
    out = io.BytesIO()
    page.render(scale=2).to_pil().convert("L").save(out, format="PNG")
    return out.getvalue()


