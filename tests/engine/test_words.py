"""The words an OCR reads, given after the image to a model trained with them (engine/llava/words.py):
the real OCR on generated signs and charts, and the one prompt builder that app, evaluation and
training share."""
from __future__ import annotations

import json
import shutil

import pytest

import engine
from engine import Message
from engine.llava import words
from engine.llava.prompt import pixel_hash
from engine.train.data import make_sample
from engine.train.data.records import iou, png_bytes
from engine.train.examples import WORDLESS_READ, Tokenize

ITEMS = range(5000, 5008)


def _read(img):
    return words.ocr_reader(img, pixel_hash(img))


def test_the_ocr_reads_generated_words_where_they_are():
    found = 0
    for i in ITEMS:
        s = make_sample(i, "heldout", "read")
        scene = s.scenes[0]
        got = dict(_read(scene.image))
        if s.answer in got:
            target = next(o for o in scene.objects if o.kind == "word" and o.label == s.answer)
            (x1, y1, x2, y2), (a1, b1, a2, b2) = got[s.answer], target.box
            # the OCR's box holds the word (its text regions are grown, ocr.UNCLIP)
            assert x1 <= (a1 + a2) / 2 <= x2 and y1 <= (b1 + b2) / 2 <= y2 and iou(got[s.answer], target.box) > 0.15
            found += 1
    assert found >= 7, found  # 38 of 40 held-out words measured (TRAINING.md)


def test_the_ocr_reads_the_asked_bar_label():
    hits = sum(make_sample(i, "heldout", "chart").answer in dict(_read(make_sample(i, "heldout", "chart").scenes[0].image))
               for i in ITEMS)
    assert hits >= 7, hits


def test_a_charts_labels_are_given_left_to_right():
    """One row of labels reads left to right, whatever their letters' heights (sorted by the top
    edge alone, "Feb" came before "Jan" and "dogs" before "cats")."""
    rows = 0
    for i in range(5100, 5124):
        scene = make_sample(i, "heldout", "chart").scenes[0]
        labels = [o.label for o in scene.objects if o.kind == "bar"]  # left to right
        read = [t for t, _ in _read(scene.image) if t in labels]
        if len(read) == len(labels):
            assert read == labels, (i, read)
            rows += 1
    assert rows >= 18, rows


def test_only_words_with_a_letter_or_digit_are_given():
    assert words.readable("EXIT") and words.readable("7") and words.readable("O")
    assert not any(words.readable(g) for g in ("★", "■", "+", "→", "口", ""))
    assert words.hint([], 0) == []


@pytest.fixture
def reading_model(make_tiny_ckpt, tmp_path):
    """A tiny box-head checkpoint whose config says it was trained with the OCR's words."""
    folder = tmp_path / "reads"
    shutil.copytree(make_tiny_ckpt(grounding=True, ee_mllm={"attention": "composite"}), folder)
    cfg = json.loads((folder / "config.json").read_text())
    cfg["grounding"]["ocr_words"] = True
    (folder / "config.json").write_text(json.dumps(cfg))
    return folder


def test_a_model_that_reads_is_given_the_words_and_their_boxes(reading_model, make_tiny_ckpt, load_engine):
    s = make_sample(ITEMS[0], "heldout", "read")
    img = s.scenes[0].image
    msgs = [Message.user("What does it say?", [png_bytes(img)])]
    got = _read(img)
    assert got
    eng = load_engine(reading_model, backend="torch", device="cpu", dtype="float32").inner
    prompt = eng.build(msgs)
    text = eng.prompter.render(eng.prompter.conversation(msgs)[0])
    listed = ", ".join(f'"{w}" <boxes>' for w, _ in got)
    assert f"{words.LEAD} {listed}.\nWhat does it say?" in text, text
    assert len(prompt.boxes) == len(got)   # one region embedding a word, in padded-square coordinates
    plain = load_engine(make_tiny_ckpt(grounding=True, ee_mllm={"attention": "composite"}),
                        backend="torch", device="cpu", dtype="float32").inner
    assert words.LEAD not in plain.prompter.tokenizer.decode(plain.build(msgs).ids)
    assert plain.build(msgs).boxes == []


def test_training_is_given_the_words_as_the_app_is(reading_model, load_engine):
    """Training tokenizes through the same builder: its prompt up to the answer is the app's."""
    eng = load_engine(reading_model, backend="torch", device="cpu", dtype="float32").inner
    tok = Tokenize(eng.prompter)
    for skill, i in (("read", ITEMS[0]), ("chart", ITEMS[1])):
        s = make_sample(i, "heldout", skill)
        app = eng.build(s.messages[:-1])
        ex = tok(s)
        assert ex.ids.tolist()[:len(app.ids)] == app.ids.tolist() and ex.boxes[:len(app.boxes)] == app.boxes
        assert words.LEAD in eng.prompter.tokenizer.decode(app.ids)
    # Of the images without printed words, those their pixels pick go through the OCR too
    images = [make_sample(i, "heldout", "colour").scenes[0] for i in range(5000, 5040)]
    picked = [sc for sc in images if int(pixel_hash(sc.image)[:8], 16) < WORDLESS_READ * 16 ** 8]
    assert 2 <= len(picked) <= 20, len(picked)
    left = next(sc for sc in images if sc not in picked)
    sample = make_sample(5000, "heldout", "colour")
    assert tok.reader(sample)(left.image, pixel_hash(left.image)) == []
    assert tok.reader(sample)(picked[0].image, pixel_hash(picked[0].image)) == _read(picked[0].image)


def test_the_status_says_how_long_the_ocr_took_once_per_image(reading_model, load_engine):
    from engine.api import GenParams, Stats
    words.forget()
    eng = load_engine(reading_model, backend="torch", device="cpu", dtype="float32")
    msgs = [Message.user("What does it say?", [png_bytes(make_sample(ITEMS[2], "heldout", "read").scenes[0].image)])]
    said = [[ev for ev in eng.stream(msgs, GenParams(max_new_tokens=2)) if isinstance(ev, Stats)][0] for _ in range(2)]
    assert said[0].extra["ocr_ms"] > 20 and said[1].extra.get("ocr_ms", 0) < 5  # the second time from the cache
