"""Coordinates on the model's input -> the original image, on non-square images."""
import math

import pytest

from engine.grounding import (BoxTextStream, Frame, clip_box, original_to_padded, pad_offsets,
                              padded_to_original, smart_resize)


def test_pad_offsets_match_expand2square():
    assert pad_offsets(640, 480) == (640, 0, 80)     # wide: padding above and below
    assert pad_offsets(480, 640) == (640, 80, 0)     # tall: padding left and right
    assert pad_offsets(301, 100) == (301, 0, 100)    # odd: expand2square floors the offset


def test_padded_square_box_to_original_on_a_wide_image():
    # The image fills the square's middle band y in [80, 560] of 640: that band is the whole height.
    assert padded_to_original((0.5, 80 / 640, 1.0, 560 / 640), 640, 480) == pytest.approx((0.5, 0.0, 1.0, 1.0))
    assert padded_to_original((0.25, 0.5, 0.75, 0.75), 640, 480) == pytest.approx(
        (0.25, (320 - 80) / 480, 0.75, (480 - 80) / 480))


def test_padded_square_box_to_original_on_a_tall_image():
    assert padded_to_original((80 / 640, 0.0, 560 / 640, 0.5), 480, 640) == pytest.approx((0.0, 0.0, 1.0, 0.5))


@pytest.mark.parametrize("size", [(640, 480), (480, 640), (1000, 37), (333, 333)])
def test_pad_round_trip(size):
    box = (0.1, 0.2, 0.7, 0.9)
    assert padded_to_original(original_to_padded(box, *size), *size) == pytest.approx(box)


def test_smart_resize_matches_qwen_rules():
    assert smart_resize(1200, 800) == (1204, 812)                   # nearest multiples of 28
    w, h = smart_resize(4000, 3000, max_pixels=1280 * 28 * 28)       # too big: scaled down
    assert (w, h) == (1148, 840) and w * h <= 1280 * 28 * 28
    w, h = smart_resize(20, 10)                                     # too small: scaled up
    assert w % 28 == 0 and h % 28 == 0 and w * h >= 56 * 56


def test_qwen25_pixels_on_resized_input_map_to_original():
    frame = Frame(1200, 800, "resize")
    assert frame.model_size == (1204, 812)
    # the whole resized input is the whole original image
    assert frame.to_original(frame.pixels_to_input((0, 0, 1204, 812))) == (0, 0, 1, 1)


def test_stream_on_padded_non_square_image():
    """A pad-square model (NExT-Chat / LLaVA style) boxes the lower half of a 640x480 photo."""
    stream = BoxTextStream("shikra", image_sizes=[(640, 480)], geometry="pad")
    (box,) = [e for e in stream.feed("[0.000,0.500,1.000,0.875]") if hasattr(e, "x1")]
    assert (box.x1, box.y1, box.x2, box.y2) == pytest.approx((0, 0.5, 1, 1))
    # and the same text read as a stretched image means something else
    stream = BoxTextStream("shikra", image_sizes=[(640, 480)], geometry="stretch")
    (box,) = [e for e in stream.feed("[0.000,0.500,1.000,0.875]") if hasattr(e, "x1")]
    assert (box.y1, box.y2) == pytest.approx((0.5, 0.875))


def test_frames_given_per_image():
    frames = [Frame(100, 100), Frame(200, 100, "pad")]
    stream = BoxTextStream("shikra", geometry=frames, image_index=1)
    (box,) = [e for e in stream.feed("[0.0,0.25,1.0,0.75]") if hasattr(e, "x1")]
    assert (box.image_index, box.y1, box.y2) == (1, 0.0, 1.0)


@pytest.mark.parametrize("box,kept,note", [
    ((0.1, 0.1, 0.5, 0.5), (0.1, 0.1, 0.5, 0.5), None),
    ((-0.2, 0.1, 0.5, 1.3), (0.0, 0.1, 0.5, 1.0), "clipped"),
    ((math.nan, 0.1, 0.5, 0.5), None, "not a number"),
    ((0.1, 0.1, math.inf, 0.5), None, "not a number"),
    ((0.6, 0.1, 0.5, 0.5), None, "far corner"),
    ((1.2, 0.1, 1.5, 0.5), None, "outside"),
])
def test_clip_box(box, kept, note):
    got, why = clip_box(box)
    assert got == (pytest.approx(kept) if kept else None)
    assert (why is None) if note is None else (note in why)


def test_unknown_geometry_is_refused():
    with pytest.raises(ValueError, match="geometry"):
        Frame(10, 10, "crop")
