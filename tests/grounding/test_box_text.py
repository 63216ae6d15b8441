"""Box text of other models parsed while streaming: every format from a real sample, every split."""
import math

import pytest

from engine.api import Box, Done, Stats, Token
from engine.grounding import BoxTextStream, FORMATS, format_for_model, ground_stream

from box_samples import S


def run(fmt, sample, pieces):
    stream = BoxTextStream(fmt, image_sizes=[sample["size"]], geometry=sample["geometry"])
    events = []
    for p in pieces:
        events += stream.feed(p)
    events += stream.flush()
    text = "".join(e.text for e in events if isinstance(e, Token))
    boxes = [e for e in events if isinstance(e, Box)]
    return text, boxes, stream


def check(sample, text, boxes):
    want_text, want_boxes = sample["expected"]
    assert text == want_text
    assert [b.ref for b in boxes] == list(range(len(want_boxes)))
    for b, w in zip(boxes, want_boxes):
        assert (b.x1, b.y1, b.x2, b.y2) == pytest.approx(w, abs=1e-9)
        assert b.image_index == 0


def skip_if_not_in_auto(name, fmt):
    if fmt == "auto" and not FORMATS[name].in_auto:
        pytest.skip(f"{name} is read only when named: under auto its markup is another format's")


@pytest.mark.parametrize("name", sorted(S))
@pytest.mark.parametrize("fmt", ["named", "auto"])
def test_sample_whole(name, fmt):
    skip_if_not_in_auto(name, fmt)
    sample = S[name]
    text, boxes, stream = run(name if fmt == "named" else "auto", sample, [sample["text"]])
    check(sample, text, boxes)
    assert stream.format == name


@pytest.mark.parametrize("name", sorted(S))
def test_sample_every_split_in_two(name):
    sample = S[name]
    s = sample["text"]
    for i in range(len(s) + 1):
        text, boxes, _ = run(name, sample, [s[:i], s[i:]])
        check(sample, text, boxes)


@pytest.mark.parametrize("name", sorted(S))
@pytest.mark.parametrize("fmt", ["named", "auto"])
def test_sample_char_by_char(name, fmt):
    skip_if_not_in_auto(name, fmt)
    sample = S[name]
    text, boxes, _ = run(name if fmt == "named" else "auto", sample, list(sample["text"]))
    check(sample, text, boxes)


def test_box_event_comes_before_its_marker_and_text_is_not_held():
    stream = BoxTextStream("qwen_vl", image_sizes=[(100, 100)])
    assert stream.feed("The dog ") == [Token("The dog ")]          # nothing to hold back
    assert stream.feed("is here <bo") == [Token("is here ")]        # only the possible markup waits
    assert stream.feed("x>(100,200),(300,400)</box>, ok") == [
        Box(0, 0, 0.1, 0.2, 0.3, 0.4), Token("[0], ok")]
    assert stream.feed(" <b>bold</b>") == [Token(" <b>bold</b>")]   # looked like markup, was not
    assert stream.flush() == []


def test_unfinished_markup_is_text_at_the_end_with_a_note():
    stream = BoxTextStream("qwen_vl", image_sizes=[(100, 100)])
    out = stream.feed("see <box>(1,2),(3") + stream.flush()
    assert "".join(e.text for e in out) == "see <box>(1,2),(3"
    assert stream.notes and "unfinished" in stream.notes[0]


def test_runaway_partial_match_is_released():
    stream = BoxTextStream("qwen2_5_vl", image_sizes=[(100, 100)])
    long_label = '{"label": "' + "x" * 1000
    out = stream.feed(long_label)
    assert len("".join(e.text for e in out)) >= 1000 - 400       # not held forever


def test_invalid_boxes_are_clipped_or_dropped_with_a_note_never_a_crash():
    stream = BoxTextStream("qwen_vl", image_sizes=[(200, 100)])
    out = stream.feed("a<box>(900,100),(1200,300)</box> b<box>(600,100),(500,300)</box> "
                      "c<box>(1500,1500),(1600,1700)</box> d<box>(1,2),(3,4)</box>") + stream.flush()
    text = "".join(e.text for e in out if isinstance(e, Token))
    boxes = [e for e in out if isinstance(e, Box)]
    assert text == "a[0] b c d[1]"
    assert (boxes[0].x1, boxes[0].x2) == pytest.approx((0.9, 1.0))
    assert len(stream.notes) == 3
    assert any("clipped" in n for n in stream.notes) and any("outside" in n for n in stream.notes)
    assert any("far corner" in n for n in stream.notes)


def test_pixel_format_without_image_size_drops_the_box_with_a_note():
    stream = BoxTextStream("qwen2_5_vl")
    out = stream.feed('{"bbox_2d": [1, 2, 3, 4], "label": "cat"}') + stream.flush()
    assert [e.text for e in out] == ["cat "] and "no image size" in stream.notes[0]


def test_ground_stream_passes_other_events_and_flushes_before_stats():
    stats, done = Stats(1.0, 2.0), Done("stop")
    events = [Token("a <bo"), Token("x>(100,200),(300,400)</box> and <b"), stats, done]
    out = list(ground_stream(iter(events), format="qwen_vl", image_sizes=[(10, 10)]))
    assert out == [Token("a "), Box(0, 0, .1, .2, .3, .4), Token("[0] and "), Token("<b"), stats, done]


def test_ground_stream_puts_the_notes_on_done():
    events = [Token("<box>(600,100),(500,300)</box> x <box>(100,100),(300,300)</box> y <box>(1,2),(3"),
              Done("length")]
    out = list(ground_stream(iter(events), format="qwen_vl", image_sizes=[(10, 10)]))
    assert "".join(e.text for e in out if isinstance(e, Token)) == " x [0] y <box>(1,2),(3"
    assert out[-1].reason == "length" and len(out[-1].notes) == 2
    assert "far corner" in out[-1].notes[0] and "unfinished" in out[-1].notes[1]


def test_refs_continue_from_start_ref_and_point_at_the_last_image():
    stream = BoxTextStream("shikra", image_sizes=[(10, 10), (100, 50)], start_ref=3)
    out = stream.feed("x[0.1,0.3,0.2,0.6]") + stream.flush()
    box = out[1]
    assert (box.ref, box.image_index) == (3, 1)
    # 100x50 on a 100x100 padded square: 25 px of padding above the image
    assert (box.x1, box.y1, box.x2, box.y2) == pytest.approx((0.1, (30 - 25) / 50, 0.2, (60 - 25) / 50))
    assert out[-1] == Token("[3]")


def test_plain_text_in_auto_mode_is_untouched():
    text = "Prices rose [see table 2] by 3 < 4 and {x: 1}, <b>bold</b>; done."
    stream = BoxTextStream("auto", image_sizes=[(10, 10)])
    out = []
    for ch in text:
        out += stream.feed(ch)
    out += stream.flush()
    assert "".join(e.text for e in out) == text and stream.format == "auto"


def test_unknown_format_is_refused():
    with pytest.raises(ValueError, match="unknown box format"):
        BoxTextStream("nope")


@pytest.mark.parametrize("config,want", [
    ({"model_type": "qwen2_5_vl"}, "qwen2_5_vl"), ({"model_type": "kosmos-2"}, "kosmos2"),
    ({"architectures": ["Florence2ForConditionalGeneration"]}, "florence2"),
    ({"model_type": "paligemma"}, "paligemma"), ("Qwen/Qwen-VL-Chat", "qwen_vl"),
    ("shikras/shikra-7b-delta-v1", "shikra"), ("minigptv2", "minigpt_v2"),
    ({"model_type": "llava"}, "auto"), (None, "auto"), ({"box_format": "florence2"}, "florence2"),
    ({"model_type": "qwen3_vl"}, "qwen3_vl"), ({"architectures": ["Qwen3VLForConditionalGeneration"]}, "qwen3_vl"),
    ({"model_type": "qwen3_vl_moe"}, "qwen3_vl"), ("Qwen/Qwen3-VL-2B-Instruct", "qwen3_vl"),
    ("Qwen3 VL 2B Instruct", "qwen3_vl"), ("Qwen2.5 VL 3B Instruct", "qwen2_5_vl")])
def test_format_for_model(config, want):
    assert format_for_model(config) == want


def test_every_format_has_a_real_sample():
    assert set(FORMATS) - set(S) <= {"qwen2_vl"}


def test_qwen2_vl_special_token_boxes():
    stream = BoxTextStream("auto", image_sizes=[(50, 50)])
    s = "<|object_ref_start|>the dog<|object_ref_end|><|box_start|>(216,426),(580,868)<|box_end|>"
    out = []
    for ch in s:
        out += stream.feed(ch)
    out += stream.flush()
    assert "".join(e.text for e in out if isinstance(e, Token)) == "the dog[0]"
    b = next(e for e in out if isinstance(e, Box))
    assert (b.x1, b.y1, b.x2, b.y2) == pytest.approx((.216, .426, .58, .868))
    assert not any(math.isnan(v) for v in (b.x1, b.y1, b.x2, b.y2))


def test_qwen3_vl_reads_thousandths_of_the_image_whatever_its_size_and_auto_reads_pixels():
    text = '{"bbox_2d": [250, 100, 750, 600], "label": "cup"}'
    for size in [(640, 480), (1920, 1080), (37, 300)]:
        stream = BoxTextStream("qwen3_vl", image_sizes=[size])
        box = next(e for e in stream.feed(text) + stream.flush() if isinstance(e, Box))
        assert (box.x1, box.y1, box.x2, box.y2) == pytest.approx((.25, .1, .75, .6))
    auto = BoxTextStream("auto", image_sizes=[(1920, 1080)])
    auto.feed(text)
    assert auto.format == "qwen2_5_vl"   # the same markup: only the model's name tells them apart
