"""Document questions through a remote OpenAI-compatible server (a real llama.cpp server with the
default SmolLM2 GGUF): retrieve the page, prompt with its text, stream the answer, box its words."""
from __future__ import annotations

from reportlab.lib.pagesizes import letter
from reportlab.pdfgen import canvas

from engine import GenParams, collect, load

PAGES = ["The cafeteria menu lists soup, bread and apples for Monday lunch.",
         "The new Lisbon factory opens in March 2025 and will employ 300 people.",
         "Parking permits are renewed every January at the front desk."]


def make_pdf(path):
    c = canvas.Canvas(str(path), pagesize=letter)
    for line in PAGES:
        c.setFont("Helvetica", 12)
        c.drawString(72, 700, line)
        c.showPage()
    c.save()
    return path


def test_question_about_a_pdf_through_the_server(server, tmp_path):
    from engine.documents import build_messages, cite_boxes, open_document, retrieve
    doc = open_document(make_pdf(tmp_path / "facts.pdf"), cache_dir=tmp_path / "index")
    question = "When does the Lisbon factory open?"
    pages = retrieve(doc, question, k=1)
    assert [p.number for p in pages] == [2]
    eng = load(server.url, backend="openai")
    try:
        text, rest = collect(eng.stream(build_messages(doc, pages, question, can_see_images=False),
                                        GenParams(max_new_tokens=40, temperature=0)))
    finally:
        eng.close()
    assert rest[-1].reason in ("stop", "length") and text.strip()
    hits = cite_boxes(doc, text + " [p2] the Lisbon factory opens in March 2025", pages)
    assert {h.page for h in hits} == {2} and {"Lisbon", "March"} <= {h.word for h in hits}
    for h in hits:
        assert 0 <= h.box[0] < h.box[2] <= 1 and 0 <= h.box[1] < h.box[3] <= 1
