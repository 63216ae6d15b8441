"""The documents benchmark runs and reports its numbers (speed itself is never asserted)."""
import json

from engine.bench.documents import main


def test_bench_documents_smoke(capsys):
    assert main(["--pages", "5", "--ocr-pages", "0", "--no-model", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["pages"] == 5 and r["text_pages_per_s"] > 0 and r["reopen_ms"] > 0


def test_known_answers_are_matched_as_whole_words():
    from engine.bench.docqa import contains
    assert contains("The flag is cs.", ["cs"]) and not contains("see the docs", ["cs"])
    assert contains("It returns ASN1_SUCCESS.", ["ASN1_SUCCESS"]) and contains("use *.tar.gz", ["*.tar.gz"])
    assert not contains("version 0.210", ["0.21"])


def test_the_qa_set_holds_its_answers_on_their_pages(tmp_path):
    """>= 40 questions over >= 4 real PDFs, tables and scans among them; each known answer is
    printed on the page the set names (checked on the text layer: the scans are those pages)."""
    from pathlib import Path

    import pytest

    from engine.bench.docqa import contains
    from engine.documents import open_document
    qa = json.loads((Path(__file__).parents[1] / "data" / "docqa.json").read_text())
    questions, docs = qa["questions"], qa["documents"]
    assert len(questions) >= 40 and len({d["path"] for d in docs.values()}) >= 4
    assert {"text", "table", "scan"} <= {q["kind"] for q in questions}
    missing = [d["path"] for d in docs.values() if not Path(d["path"]).is_file()]
    if missing:
        pytest.skip(f"not installed: {missing} (the README's test command installs them)")
    opened = {k: open_document(d["path"], cache_dir=tmp_path) for k, d in docs.items()}
    for q in questions:
        d = docs[q["doc"]]
        page = d["scan_pages"][q["page"] - 1] if "scan_pages" in d else q["page"]
        assert contains(opened[q["doc"]].page(page).text, q["answer"]), q["question"]
