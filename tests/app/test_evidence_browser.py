"""Issue 15 in the browser (headless Chromium, the served app, the default SmolLM2 GGUF, greedy):
a document answer shows its citation cards; clicking one shows its page with that passage boxed
and nothing else drawn on the page (pixels compared with the plain page); the card's label sits
in a margin beside the page, not over its text."""
import io
import shutil

import pytest
from PIL import Image, ImageChops
from reportlab.pdfgen import canvas

from app.draw import PAGE_PAD, margin_width
from app_testfiles import served_default_model, wait_until
from test_browser import page  # noqa: F401  (the Chromium page fixture)

pytestmark = pytest.mark.slow
pytest.importorskip("llama_cpp")

PARAGRAPHS = [["The Northwind Company builds sailing boats in Lisbon,", "in a yard beside the river Tagus."],
              ["Its annual report lists the revenue of the year:", "42 million dollars, up from 35 million."]]


def make_pdf(path):
    c = canvas.Canvas(str(path))
    c.setFont("Helvetica", 14)
    y = 700
    for para in PARAGRAPHS:
        for line in para:
            c.drawString(72, y, line)
            y -= 20
        y -= 40
    c.showPage()
    c.save()
    return path


@pytest.fixture(scope="module")
def served_smol(tmp_path_factory):
    yield from served_default_model(tmp_path_factory, max_tokens=24)


def test_citation_cards_show_their_passage_boxed_on_the_page(served_smol, page, tmp_path):  # noqa: F811
    if not shutil.which("chromium"):
        pytest.skip("chromium is not installed")
    demo, app = served_smol
    page.goto(demo.local_url)
    page.wait_for_selector("#message textarea", timeout=30_000)
    page.set_input_files("#message input[type=file]", str(make_pdf(tmp_path / "northwind.pdf")))
    page.fill("#message textarea", "Where does Northwind build boats?")
    page.press("#message textarea", "Enter")

    card = page.locator("#chatbot .message.bot .vl-card").first
    card.wait_for(timeout=120_000)
    chat = app.store.chats()[0]
    answer = app.store.branch(chat.id)[-1]
    assert answer.status == "done" and "Lisbon" in answer.text
    assert "[1] page 1" in card.inner_text() and "Lisbon" in card.inner_text()
    assert {"Northwind", "boats", "Lisbon,"} <= set(card.locator("mark").all_inner_texts())   # shared words marked
    page.screenshot(path=str(tmp_path / "cards.png"), full_page=True)

    name = f"c{answer.id}-1"
    assert name in card.get_attribute("class").split("vl-ref-")[1]
    page.evaluate("() => { window.__vlShown = undefined; }")
    card.click()
    assert wait_until(lambda: page.evaluate("() => window.__vlShown") == name, timeout=10, every=0.1)
    page.wait_for_timeout(2000)   # the pick event's answer: the card's page in the boxes panel
    assert wait_until(lambda: page.locator("#boxes img").count(), timeout=30, every=0.2)
    src = page.locator("#boxes img").get_attribute("src")
    shown = Image.open(io.BytesIO(page.request.get(src).body())).convert("RGB")

    c = answer.meta["cards"][0]
    plain = Image.open(app.blobs.path(c["image"])).convert("RGB")
    w, h = plain.size
    margin = margin_width(w)
    assert shown.size == (w + margin, h)
    on_page = shown.crop((margin, 0, margin + w, h))
    # what changed on the page lies in a thin frame around the card's passage, outside its words
    x1, y1, x2, y2 = (round(v * (s - 1)) for v, s in zip(c["box"], (w, h, w, h)))
    changed = ImageChops.difference(on_page, plain).convert("L").point(lambda v: 255 if v > 24 else 0)
    cx1, cy1, cx2, cy2 = changed.getbbox()
    line = max(2, round(min(w, h) / 320))
    frame = (PAGE_PAD + 2) * line + 1
    assert x1 - frame <= cx1 and y1 - frame <= cy1 and cx2 <= x2 + frame + 1 and cy2 <= y2 + frame + 1
    assert changed.crop((x1, y1, x2 + 1, y2 + 1)).getbbox() is None      # nothing over its words
    other = [p for p in app.docs.passages_of(app.store.branch(chat.id)[-2].meta["document"], answer.meta["doc"]["passages"])
             if list(p.box) != c["box"]]
    for p in other:   # the other passage is not boxed
        ox1, oy1, ox2, oy2 = (round(v * (s - 1)) for v, s in zip(p.box, (w, h, w, h)))
        assert changed.crop((ox1 - 4, oy1 - 4, ox2 + 5, oy2 + 5)).getbbox() is None
    # the label is in the margin, level with the passage
    strip = shown.crop((0, 0, margin, h)).convert("L").point(lambda v: 255 if v < 200 else 0)
    sx1, sy1, sx2, sy2 = strip.getbbox()
    assert y1 - 3 * line <= sy1 <= y2
    shown.save(tmp_path / "card-page.png")
