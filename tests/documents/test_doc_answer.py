"""Questions whose answers sit on a known page: the page is retrieved, the prompt carries it, and
the answer's words are boxed where they are printed."""
import pytest
from doc_pdfs import PAGES, word_box

from engine.api import Box, Image, Text
from engine.documents import (build_messages, cite_boxes, cite_events, citations, retrieve, retrieve_passages,
                              split_page)


@pytest.mark.parametrize("question,page", [
    ("How much revenue did the company make in 2023?", 2),
    ("How many people did they employ?", 3),
    ("When does the Lisbon factory open?", 4),
    ("Which company is this report about?", 1),
    ("Where was the warehouse inventory audit completed?", 5),   # the scanned page, via OCR
])
def test_the_page_with_the_answer_comes_first(report, question, page):
    assert retrieve(report, question, k=2)[0].number == page


def test_no_match_still_gives_pages(report):
    assert [p.number for p in retrieve(report, "zebra quantum", k=2)] == [1, 2]


def test_messages_for_a_text_only_model(report):
    passages = [h.passage for h in retrieve_passages(report, "How much revenue?", k=2)]
    system, user = build_messages(report, passages, "How much revenue?", can_see_images=False)
    assert system.role == "system" and "few words" in system.text and "report.pdf" not in system.text
    assert not user.images
    assert user.text.startswith("[p2] page 2:\n") and "42 million dollars" in user.text
    assert user.text.rstrip().endswith("Question: How much revenue?\nAnswer briefly.")


def test_messages_for_a_model_that_sees(report):
    passages = [p for p in split_page(report.page(2)) + split_page(report.page(5))]
    _, user = build_messages(report, passages, "What was audited?", can_see_images=True, image_width=256)
    images = [p for p in user.parts if isinstance(p, Image)]
    assert len(images) == 2 and all(p.endswith(".png") for p in (i.source for i in images))
    # each page's image comes right before its first passage
    kinds = [type(p) for p in user.parts]
    assert kinds == [Image, Text, Image, Text, Text]


def test_passages_beyond_the_token_budget_are_left_out(report):
    passages = [p for n in (1, 2, 3) for p in split_page(report.page(n))]
    _, user = build_messages(report, passages, "q", can_see_images=False, max_tokens=60)
    assert "[p1]" in user.text and "[p3]" not in user.text
    _, user = build_messages(report, passages[:1], "q", can_see_images=False, max_tokens=12)
    assert "…" in user.text    # the first passage always comes, cut to fit


def test_citations_are_parsed():
    assert citations("A [p3]. B [p 5, p2] and [P3]; C [p.7-8] not [3]") == [3, 5, 2, 7, 8]


def test_answer_words_are_boxed_on_the_cited_page(report):
    answer = "The total revenue reached 42 million dollars in 2023 [p2]."
    hits = cite_boxes(report, answer)
    assert {h.page for h in hits} == {2}
    words = [h.word.strip(".,") for h in hits]
    assert words[:6] == ["Total", "revenue", "reached", "42", "million", "dollars"]
    line = PAGES[2][1]
    for h in hits[:6]:
        x1, x2, base = word_box(line, h.word.rstrip(".,"), 1)
        assert h.box[0] == pytest.approx(x1, abs=2 / 612) and h.box[1] < base < h.box[3]


def test_text_only_answer_without_citation_uses_the_given_pages(report):
    hits = cite_boxes(report, "They plan to open the Lisbon factory in March 2025.", pages=[4, 1])
    assert {h.page for h in hits} == {4}
    assert {h.word.strip(".") for h in hits} >= {"Lisbon", "factory", "March", "2025"}


def test_common_words_alone_are_not_boxed(report):
    assert cite_boxes(report, "It is the end of the story [p3].") == []
    words = [h.word for h in cite_boxes(report, "At the end of the year, 1,250 people [p3]")]
    assert words == ["1,250", "people", "at", "the", "end", "of", "the", "year"]   # in page order


def test_ocr_page_words_are_boxed_too(report):
    hits = cite_boxes(report, "The warehouse inventory audit was completed in Porto [p5].")
    assert {h.word for h in hits} >= {"Warehouse", "inventory", "audit", "Porto"}


def test_cite_events_point_at_the_page_images(report):
    hits = cite_boxes(report, "revenue reached 42 million [p2]")
    events = cite_events(hits, {2: 1}, start_ref=5)
    assert events and all(isinstance(e, Box) and e.image_index == 1 for e in events)
    assert [e.ref for e in events] == list(range(5, 5 + len(events)))
    assert cite_events(hits, {3: 0}) == []
