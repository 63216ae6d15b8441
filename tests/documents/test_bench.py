"""The documents benchmark runs and reports its numbers (speed itself is never asserted)."""
import json

from engine.bench.documents import main


def test_bench_documents_smoke(capsys):
    assert main(["--pages", "5", "--ocr-pages", "0", "--no-model", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["pages"] == 5 and r["text_pages_per_s"] > 0 and r["reopen_ms"] > 0
