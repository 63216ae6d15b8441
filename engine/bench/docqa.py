"""`python -m engine bench documents --qa tests/data/docqa.json [--server] [--model M] [--limit N] [--json]`

A document QA set (questions with short known answers on known pages of real PDFs) asked through
the old pipeline (the 3 best pages by BM25, each cut to share 6,000 characters, cited words boxed
on whole pages) and the new one (passages by BM25 + MiniLM re-rank in a 600-token budget, the
app's "does not seem to say" threshold, boxes only inside the cited passages), side by side:
- recall: the passage (old: the page text as cut) holding the known answer reached the prompt;
- correct: the greedy answer as the app shows it contains the known answer (whole words, case
  aside); under an answer that does not draw on the passages' best line the app quotes it (quote.py),
  so the model's own words are counted apart as well;
- first token: seconds from the question to the first token (retrieval, prompt, prefill);
- stray boxes: words boxed outside the passages the app cites (old: outside the passage that
  holds the answer, the only one that should light up).
The model is the default GGUF (SmolLM2-135M) in this process, loaded as the app loads it (a thread
per physical core); with --server also the same GGUF behind llama-cpp-python's OpenAI-compatible
server on 127.0.0.1 (the openai backend), given the same threads for prefill and decode."""
from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from ..api import GenParams, Message, Text, Token
from ..documents.prompt import shows_pages

GREEDY = GenParams(max_new_tokens=48, temperature=0.0, repetition_penalty=1.0)
OLD_PAGES, OLD_CHARS = 3, 6000
OLD_SYSTEM = ("You answer questions about the document \"{name}\" using only the pages given below. "
              "Quote the document's own words where you can. After each fact, cite the page it comes "
              "from as [p<number>], for example [p3]. If the pages do not contain the answer, say so.")


def plain(text: str) -> str:
    return " ".join(re.sub(r"[^\w@.*/+-]+", " ", text.lower()).replace("_", " ").split())


def contains(text: str, answers: list[str]) -> bool:
    """A known answer appears in `text` as whole words (case, underscores and punctuation aside)."""
    t = f" {plain(text)} "
    return any(re.search(rf"(?<![\w]){re.escape(plain(a))}(?![\w])", t) for a in answers if plain(a))


# ---- the two pipelines ----------------------------------------------------------------------------
def old_prompt(doc, question):
    """The pipeline before issue 15, kept here only to be measured against."""
    from ..documents import retrieve
    pages = retrieve(doc, question, OLD_PAGES)
    budget = OLD_CHARS // len(pages)
    parts, given = [], []
    for page in pages:
        text = page.text.strip()
        if len(text) > budget:
            text = text[:budget].rsplit(" ", 1)[0] + " …"
        parts.append(Text(f"[p{page.number}]\n{text}\n\n"))
        given.append((page.number, text))
    parts.append(Text(f"Question: {question.strip()}"))
    return [Message("system", [Text(OLD_SYSTEM.format(name=doc.name))]), Message("user", parts)], pages, given


def new_prompt(doc, question, vision=False):
    from ..documents import build_messages, retrieve_passages
    hits = retrieve_passages(doc, question)
    found = bool(hits) and hits[0].found
    passages = [h.passage for h in hits]
    messages = build_messages(doc, passages, question, vision)
    prompt = "".join(p.text for p in messages[1].parts if isinstance(p, Text))
    given = [(p.page, p.text) for p in passages if p.text.strip()[:40] in prompt]
    return messages, passages, given, found


def run(model, messages, t0: float) -> tuple[str, float]:
    """The greedy answer, and seconds from t0 (the question asked) to its first token."""
    first, out = None, []
    for ev in model.stream(messages, GREEDY, threading.Event()):
        if isinstance(ev, Token):
            first = first or time.perf_counter() - t0
            out.append(ev.text)
    return "".join(out), (first or float("nan"))


def gold_passage(doc, q):
    """The passage on the answer's page that holds the answer (None when the text layer or OCR
    lost it)."""
    from ..documents import passages
    for p in passages(doc):
        if p.page == q["page"] and contains(p.text, q["answer"]):
            return p
    return None


def ask_old(doc, q, model):
    from ..documents import cite_boxes
    t0 = time.perf_counter()
    messages, pages, given = old_prompt(doc, q["question"])
    recall = any(n == q["page"] and contains(t, q["answer"]) for n, t in given)
    answer, first = run(model, messages, t0) if model else ("", time.perf_counter() - t0)
    gold = gold_passage(doc, q)
    boxed = cite_boxes(doc, answer, pages)
    stray = sum(1 for h in boxed if gold is None or not _inside(doc, gold, h))
    return {"recall": recall, "answer": answer, "correct": contains(answer, q["answer"]),
            "ttft": first, "stray": stray}


def ask_new(doc, q, model, vision=False):
    from ..documents import as_shown, cite_passages, quote_for
    from ..documents.prompt import NOT_FOUND
    t0 = time.perf_counter()
    messages, passages, given, found = new_prompt(doc, q["question"], vision)
    recall = any(n == q["page"] and contains(t, q["answer"]) for n, t in given)
    if not found:
        answer, first = NOT_FOUND, time.perf_counter() - t0
    elif model:
        answer, first = run(model, messages, t0)
    else:
        answer, first = "", time.perf_counter() - t0
    quote = quote_for(doc, q["question"], answer, passages) if found and model else None
    shown = as_shown(answer, quote)
    cited = cite_passages(doc, shown, passages)
    stray = sum(1 for _, hits in cited for h in hits if not any(_inside(doc, p, h) for p, _ in cited))
    return {"recall": recall, "answer": answer, "quote": quote.line if quote else None,
            "correct": contains(shown, q["answer"]), "model_correct": contains(answer, q["answer"]),
            "found": found, "ttft": first, "stray": stray}


def _inside(doc, passage, hit) -> bool:
    words = doc.page(passage.page).words[passage.start:passage.end]
    return hit.page == passage.page and any(w.box == hit.box for w in words)


# ---- documents and models -------------------------------------------------------------------------
def open_docs(qa: dict, tmp: Path) -> dict:
    import pypdfium2 as pdfium

    from ..documents import open_document
    docs = {}
    for key, d in qa["documents"].items():
        path = Path(d["path"])
        if not path.is_file():
            raise SystemExit(f"{path} is missing: apt-get install {d.get('debian', '')}")
        if "scan_pages" not in d:
            docs[key] = open_document(path, cache_dir=tmp / "index")
            continue
        pdf, images = pdfium.PdfDocument(str(path)), []
        for n in d["scan_pages"]:   # pixels only, as a scanner gives them: read by OCR
            out = tmp / f"{key}-{n}.png"
            pdf[n - 1].render(scale=2).to_pil().convert("L").save(out)
            images.append(out)
        docs[key] = open_document(images, cache_dir=tmp / "index")
    return docs


def local_model():
    import engine
    from ..catalog import default_model
    return engine.load(default_model(), backend="gguf")


class Server:
    """llama-cpp-python's OpenAI-compatible server with the default GGUF on 127.0.0.1."""

    def __init__(self, tmp: Path):
        import socket

        import httpx

        from ..catalog import default_model
        from ..gguf.cpu import physical_cores
        threads = str(physical_cores())   # as the in-process engine (its server default: all CPUs for prefill)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/v1"
        self.log = open(tmp / "server.log", "wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(default_model()),
                                      "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096",
                                      "--n_threads", threads, "--n_threads_batch", threads, "--verbose", "False"],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(300):
            try:
                if httpx.get(f"{self.url}/models", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        import engine
        self.model = engine.load(self.url, backend="openai")

    def close(self):
        self.model.close()
        self.proc.terminate()
        self.proc.wait(10)
        self.log.close()


# ---- the report -----------------------------------------------------------------------------------
def measure(docs, questions, model, label: str, log=print, pages: bool | None = None) -> dict:
    """pages: whether the model gets the passages' page images; None: as the app decides
    (shows_pages). The server's is False: it serves the text-only default GGUF, while a remote
    engine says it sees (whether it does is up to the server)."""
    pages = bool(model) and shows_pages(model.info) if pages is None else pages
    rows = []
    for i, q in enumerate(questions):
        doc = docs[q["doc"]]
        old, new = ask_old(doc, q, model), ask_new(doc, q, model, pages)
        rows.append({"q": q, "old": old, "new": new})
        log(f"[{label} {i + 1}/{len(questions)}] {q['kind']:5} old {'ok' if old['correct'] else '--'} "
            f"new {'ok' if new['correct'] else '--'} | {q['question'][:60]} -> {new['answer'].strip()[:60]!r}", flush=True)
    return summarize(rows)


def summarize(rows) -> dict:
    out = {"n": len(rows), "rows": rows}
    for side in ("old", "new"):
        r = [row[side] for row in rows]
        out[side] = {"recall": sum(x["recall"] for x in r) / len(r), "correct": sum(x["correct"] for x in r) / len(r),
                     "model_correct": sum(x.get("model_correct", x["correct"]) for x in r) / len(r),
                     "quoted": sum(bool(x.get("quote")) for x in r) / len(r),
                     "ttft_median": statistics.median(x["ttft"] for x in r), "ttft_max": max(x["ttft"] for x in r),
                     "stray": sum(x["stray"] for x in r) / len(r)}
        for kind in ("text", "table", "scan"):
            k = [row[side] for row in rows if row["q"]["kind"] == kind]
            if k:
                out[side][f"correct_{kind}"] = sum(x["correct"] for x in k) / len(k)
                out[side][f"recall_{kind}"] = sum(x["recall"] for x in k) / len(k)
    return out


def table(results: dict) -> str:
    lines = ["| figure | " + " | ".join(f"{name}: old | {name}: new" for name in results) + " |",
             "|---|" + "---|---|" * len(results)]

    def by_kind(figure):  # "97 / 86 / 100%": the figure per kind of question
        return lambda s: " / ".join(f"{s.get(f'{figure}_{k}', float('nan')):.0%}" for k in ("text", "table", "scan"))

    rows = [("passage with the answer given to the model", lambda s: f"{s['recall']:.0%}"),
            ("  text / table / scan", by_kind("recall")),
            ("answer correct as shown (greedy; the app's quote included)", lambda s: f"{s['correct']:.0%}"),
            ("  text / table / scan", by_kind("correct")),
            ("answer correct in the model's own words", lambda s: f"{s['model_correct']:.0%}"),
            ("answers the app quoted a line under (not drawn from the best line)", lambda s: f"{s['quoted']:.0%}"),
            ("time to first token, median (s)", lambda s: f"{s['ttft_median']:.2f}"),
            ("time to first token, slowest (s)", lambda s: f"{s['ttft_max']:.2f}"),
            ("words boxed outside the cited passages, per answer", lambda s: f"{s['stray']:.1f}")]
    for title, cell in rows:
        cells = [cell(r[side]) for r in results.values() for side in ("old", "new")]
        lines.append(f"| {title} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m engine bench documents --qa", description=__doc__)
    ap.add_argument("--qa", required=True)
    ap.add_argument("--server", action="store_true", help="also through a llama.cpp server on 127.0.0.1")
    ap.add_argument("--model", help="in process, this model instead of the default GGUF (e.g. own:ee-mllm)")
    ap.add_argument("--no-model", action="store_true", help="retrieval figures only")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--json", default=None, help="write every answer and figure to this file")
    args = ap.parse_args(argv)
    qa = json.loads(Path(args.qa).read_text(encoding="utf-8"))
    questions = qa["questions"][:args.limit or None]
    results = {}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        docs = open_docs(qa, tmp)
        from ..documents import retrieve_passages
        retrieve_passages(next(iter(docs.values())), "warm up the re-ranker")   # its load is not a question's
        if args.no_model:
            results["retrieval only"] = measure(docs, questions, None, "retrieval")
        else:
            import engine
            model = engine.load(args.model) if args.model else local_model()
            label = f"in process ({args.model})" if args.model else "in process (gguf)"
            results[label] = measure(docs, questions, model, args.model or "gguf")
            model.close()
            if args.server:
                server = Server(tmp)
                try:
                    results["llama.cpp server"] = measure(docs, questions, server.model, "server", pages=False)
                finally:
                    server.close()
    print(f"\n{len(questions)} questions over {len(qa['documents'])} documents\n")
    print(table(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")
    return 0
