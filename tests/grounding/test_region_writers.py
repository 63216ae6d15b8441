"""A region written in a model's own box text reads back, through that format's parser, as the
same box on the original image, within the format's quantization."""
import math

import pytest

from engine.api import Box, Region
from engine.grounding import FORMATS, BoxTextStream, region_text, smart_resize
from engine.grounding.regions import generic_text

SIZE = (640, 480)            # not square: Shikra's padding and Qwen2.5-VL's resize both matter
BOXES = [(0.1, 0.2, 0.5, 0.9), (0.0, 0.0, 1.0, 1.0), (0.33, 0.41, 0.37, 0.45), (0.731, 0.052, 0.998, 0.267)]


def step(name: str) -> float:
    """The largest error the format's integers (or decimals) allow on the original image."""
    w, h = SIZE
    return {"qwen_vl": 0.5e-3, "qwen2_vl": 0.5e-3, "qwen3_vl": 0.5e-3, "florence2": 0.5e-3, "minigpt_v2": 0.5e-2,
            "paligemma": 1 / 1024, "kosmos2": 1 / 32,
            "qwen2_5_vl": 0.5 / min(smart_resize(w, h)),
            "shikra": 0.5e-3 * max(w, h) / min(w, h)}[name]  # 3 decimals on the padded square


@pytest.mark.parametrize("name", sorted(FORMATS))
@pytest.mark.parametrize("box", BOXES)
def test_writer_round_trips_through_its_parser(name, box):
    text = region_text(Region(0, box), name, [SIZE])
    assert text != generic_text(Region(0, box))
    stream = BoxTextStream(name, image_sizes=[SIZE])
    events = stream.feed(text) + stream.flush()
    boxes = [e for e in events if isinstance(e, Box)]
    assert len(boxes) == 1 and not stream.notes, (text, events, stream.notes)
    got = (boxes[0].x1, boxes[0].y1, boxes[0].x2, boxes[0].y2)
    assert got == pytest.approx(box, abs=step(name) + 1e-9), text


def test_writers_write_what_the_models_write():
    r = Region(0, (0.1, 0.2, 0.5, 0.75))
    assert region_text(r, "qwen_vl", [SIZE]) == "<box>(100,200),(500,750)</box>"
    assert region_text(r, "florence2", [SIZE]) == "<loc_100><loc_200><loc_500><loc_750>"
    assert region_text(r, "paligemma", [SIZE]) == "<loc0205><loc0102><loc0768><loc0512>"  # y x y x
    assert region_text(r, "minigpt_v2", [SIZE]) == "{<10><20><50><75>}"
    # 640x480 centred on 640x640: 80 px of padding above
    assert region_text(r, "shikra", [SIZE]) == "[0.100,0.275,0.500,0.688]"
    assert region_text(r, "qwen2_5_vl", [SIZE]) == '{"bbox_2d": [64, 95, 322, 357]}'  # 644x476 input
    assert region_text(r, "qwen3_vl", [SIZE]) == '{"bbox_2d": [100, 200, 500, 750]}'   # 0..1000, any size
    assert region_text(r, "kosmos2", [SIZE]) == "<object><patch_index_0195><patch_index_0751></object>"


def test_unknown_format_missing_size_or_bad_box_give_the_generic_text():
    r = Region(1, (0.1, 0.2, 0.5, 0.75))
    generic = "[region on image 2: x1=0.100, y1=0.200, x2=0.500, y2=0.750, normalized 0..1]"
    assert region_text(r, "auto", [SIZE, SIZE]) == generic
    assert region_text(r, "shikra", [SIZE]) == generic        # padding needs image 2's size
    assert region_text(r, "qwen2_5_vl", []) == generic        # so do pixels
    assert region_text(r, "qwen_vl", []) == "<box>(100,200),(500,750)</box>"  # 0..1000 needs none
    nan = Region(0, (math.nan, 0.2, 0.5, 0.75))
    assert region_text(nan, "qwen_vl", [SIZE]) == generic_text(nan)  # never a crash
