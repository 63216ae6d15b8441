"""`python -m engine bench documents [--qa FILE (see docqa.py)] [--pages 100] [--ocr-pages 3] [--model PATH] [--json]`

Pages per second to index a PDF from its text layer and by OCR, the cost of opening it again
(the stored index), retrieval time, and time to first token of a first and a second question
about a 100-page PDF (a model given by --model, else the default GGUF when the gguf backend is
there, else a tiny random torch LLaVA made on the spot: its answer is noise, its timing is not).
"""
from __future__ import annotations

import argparse
import io
import json
import tempfile
import threading
import time
from pathlib import Path

from ..api import EngineError, GenParams, Token

FACTS = ["The {i}th shipment of copper wire left Rotterdam on day {i}.",
         "Inspector number {i} approved the boiler valves in hall {i}.",
         "Invoice {i} lists {i} crates of oranges for the Lisbon market."]


def make_pdf(path: Path, pages: int, scans: bool = False) -> Path:
    from reportlab.lib.pagesizes import letter
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas
    c = canvas.Canvas(str(path), pagesize=letter)
    for i in range(1, pages + 1):
        lines = [f"Section {i}", FACTS[i % 3].format(i=i)] + \
                [f"Line {k} of page {i}: routine text about logistics, audits and budgets." for k in range(30)]
        if scans:
            c.drawImage(ImageReader(io.BytesIO(_scan(lines[:8]))), 0, 0, width=letter[0], height=letter[1])
        else:
            c.setFont("Helvetica", 10)
            for k, line in enumerate(lines):
                c.drawString(72, 740 - 20 * k, line)
        c.showPage()
    c.save()
    return path


def _scan(lines) -> bytes:
    import pypdfium2 as pdfium
    from reportlab.lib.pagesizes import letter
    from reportlab.pdfgen import canvas
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=letter)
    c.setFont("Helvetica", 14)
    for k, line in enumerate(lines):
        c.drawString(72, 720 - 28 * k, line)
    c.showPage()
    c.save()
    out = io.BytesIO()
    pdfium.PdfDocument(buf.getvalue())[0].render(scale=2).to_pil().convert("L").save(out, format="PNG")
    return out.getvalue()


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def load_model(path: str | None, tmp: Path):
    import engine
    from ..catalog import default_model
    if path:
        return engine.load(path), path
    gguf = default_model()
    if gguf:
        try:
            return engine.load(gguf, backend="gguf"), f"{gguf.name} (gguf)"
        except (EngineError, ImportError, ModuleNotFoundError):
            pass
    from ..llava.tiny import make_tiny
    tiny = make_tiny(tmp / "tiny-llava")
    return engine.load(tiny, backend="torch"), "tiny random LLaVA (torch)"


def ttft(model, doc, question: str) -> tuple[float, str]:
    """Seconds from the question to the first answer token: retrieval, prompt, prefill."""
    from ..documents import build_messages, retrieve_passages
    t0 = time.perf_counter()
    passages = [h.passage for h in retrieve_passages(doc, question)]
    messages = build_messages(doc, passages, question, can_see_images=model.info.vision)
    first, text = None, []
    for ev in model.stream(messages, GenParams(max_new_tokens=8, temperature=0), threading.Event()):
        if isinstance(ev, Token):
            first = first or time.perf_counter() - t0
            text.append(ev.text)
    return first or float("nan"), "".join(text)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m engine bench documents", description=__doc__)
    ap.add_argument("--pages", type=int, default=100)
    ap.add_argument("--ocr-pages", type=int, default=3)
    ap.add_argument("--model", default=None, help="model path (default: the shipped GGUF, else a tiny LLaVA)")
    ap.add_argument("--no-model", action="store_true", help="skip the time-to-first-token part")
    ap.add_argument("--json", action="store_true")
    if "--qa" in argv:   # the document QA set, old pipeline vs new: docqa.py
        from .docqa import main as qa_main
        return qa_main(argv)
    args = ap.parse_args(argv)
    from ..documents import open_document, render_page, retrieve

    r: dict = {"pages": args.pages, "ocr_pages": args.ocr_pages}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        pdf = make_pdf(tmp / "text.pdf", args.pages)
        doc, t = _timed(lambda: open_document(pdf, cache_dir=tmp / "index"))
        r["text_pages_per_s"] = args.pages / t
        _, t = _timed(lambda: open_document(pdf, cache_dir=tmp / "index"))
        r["reopen_ms"] = t * 1000
        _, t = _timed(lambda: [retrieve(doc, f"Which invoice lists {i} crates of oranges?") for i in range(100)])
        r["retrieve_ms"] = t * 10
        _, t = _timed(lambda: render_page(doc, 1))
        r["render_ms"] = t * 1000
        if args.ocr_pages:
            scans = make_pdf(tmp / "scans.pdf", args.ocr_pages, scans=True)
            open_document(make_pdf(tmp / "warm.pdf", 1, scans=True), cache_dir=tmp / "index")  # model load
            _, t = _timed(lambda: open_document(scans, cache_dir=tmp / "index"))
            r["ocr_pages_per_s"] = args.ocr_pages / t
        if not args.no_model:
            try:
                model, r["model"] = load_model(args.model, tmp)
                q = "Which invoice lists 42 crates of oranges for the Lisbon market?"
                r["ttft_first_s"], r["answer"] = ttft(model, doc, q)
                r["ttft_second_s"], _ = ttft(model, doc, "Who approved the boiler valves in hall 43?")
                r["ttft_same_again_s"], _ = ttft(model, doc, q)
                model.close()
            except (EngineError, ImportError) as e:
                r["model"] = f"skipped: {e}"
    if args.json:
        print(json.dumps(r, indent=1))
        return 0
    print(f"index from text layer: {r['text_pages_per_s']:.1f} pages/s ({args.pages} pages)")
    print(f"open again (stored index): {r['reopen_ms']:.1f} ms")
    print(f"retrieve (BM25, {args.pages} pages): {r['retrieve_ms']:.2f} ms; render one page: {r['render_ms']:.0f} ms")
    if "ocr_pages_per_s" in r:
        print(f"index by OCR: {r['ocr_pages_per_s']:.2f} pages/s ({args.ocr_pages} scanned pages)")
    if "ttft_first_s" in r:
        print(f"time to first token, {r['model']}: first question {r['ttft_first_s']:.2f} s, "
              f"second question {r['ttft_second_s']:.2f} s, first asked again {r['ttft_same_again_s']:.2f} s")
    elif "model" in r:
        print(f"time to first token: {r['model']}")
    return 0
