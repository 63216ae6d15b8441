"""Document questions through a remote OpenAI-compatible server (a real llama.cpp server with the
default SmolLM2 GGUF): retrieve the page, prompt with its text, stream the answer, and box the
words of the model's own answer where they are printed."""
from __future__ import annotations

import pytest
from reportlab.lib.pagesizes import letter
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen import canvas

from engine import GenParams, collect, load

pytestmark = pytest.mark.slow

PAGES = ["The cafeteria menu lists soup, bread and apples for Monday lunch.",
         "The new Lisbon factory opens in March 2025 and will employ 300 people.",
         "Parking permits are renewed every January at the front desk."]
W, H = letter
X0, BASELINE, FONT, SIZE = 72, 700, "Helvetica", 12


def make_pdf(path):
    c = canvas.Canvas(str(path), pagesize=letter)
    for line in PAGES:
        c.setFont(FONT, SIZE)
        c.drawString(X0, BASELINE, line)
        c.showPage()
    c.save()
    return path


def printed_at(line: str, word: str) -> tuple[float, float]:
    """Where reportlab put `word` on the line: (x1, x2) normalized, from the font's metrics."""
    x1 = X0 + stringWidth(line[:line.index(word)], FONT, SIZE)
    return x1 / W, (x1 + stringWidth(word, FONT, SIZE)) / W


def test_question_about_a_pdf_through_the_server(server, tmp_path):
    from engine.documents import build_messages, cite_passages, open_document, retrieve_passages
    doc = open_document(make_pdf(tmp_path / "facts.pdf"), cache_dir=tmp_path / "index")
    question = "When does the Lisbon factory open?"
    passages = [h.passage for h in retrieve_passages(doc, question)]
    assert passages[0].page == 2
    eng = load(server.url, backend="openai")
    try:
        text, rest = collect(eng.stream(build_messages(doc, passages, question, can_see_images=False),
                                        GenParams(max_new_tokens=40, temperature=0)))
    finally:
        eng.close()
    assert rest[-1].reason == "stop", rest
    assert "March 2025" in text, f"the model's own greedy answer: {text!r}"
    # SmolLM2 answers without a [pN] citation, so the words are looked for in the given passages
    hits = [h for _, found in cite_passages(doc, text, passages) for h in found]
    assert {h.page for h in hits} == {2} and {"March", "2025"} <= {h.word.strip(".") for h in hits}
    for h in hits:
        word = h.word.strip(".")
        x1, x2 = printed_at(PAGES[1], h.word)   # the word as printed, a full stop included
        assert h.box[0] == pytest.approx(x1, abs=2 / W) and h.box[2] == pytest.approx(x2, abs=3 / W)
        assert h.box[1] < 1 - BASELINE / H < h.box[3], f"{word} on the printed line"


def test_the_app_sends_a_text_only_server_the_passages_when_it_refuses_page_images(server, tmp_path):
    """A remote engine cannot know whether the served model sees, so the app first sends the
    passages with their page images; llama.cpp serving the text-only SmolLM2 fails on them (500).
    The app asks once more with the passages as text, says so under the answer, and sends the
    next document question (here in a new chat) as text straight away."""
    from app.chat_app import PAGES_REFUSED
    from app.cli import make_app, parse
    app = make_app(parse(["--base-url", server.url, "--no-browser", "--data-dir", str(tmp_path / "data")]))
    assert app.slot.wait(timeout=60) and app.slot.state == "ready", app.slot.error
    assert app.slot.info.vision and app.slot.info.reads_pages  # what a server is taken to do at first
    pdf = make_pdf(tmp_path / "facts.pdf")
    params = GenParams(max_new_tokens=40, temperature=0)
    first = list(app.ask(None, "When does the Lisbon factory open?", [str(pdf)], params))[-1]
    first.answer.join(timeout=180)
    got = app.store.get(first.answer.msg_id)
    assert got.status == "done", got.meta.get("error")
    assert "March 2025" in got.text, got.text
    assert got.meta["notes"] == [PAGES_REFUSED]
    assert not app.slot.info.reads_pages and PAGES_REFUSED in app.slot.info.notes
    second = list(app.ask(None, "What is on the Monday lunch menu?", [str(pdf)], params))[-1]
    second.answer.join(timeout=180)
    got = app.store.get(second.answer.msg_id)
    assert got.status == "done" and "notes" not in got.meta, got.meta
    assert "soup" in got.text, got.text
