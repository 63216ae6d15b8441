"""Invalid boxes in the model's answer are clipped or dropped with a note on Done, never a crash;
a dropped box has no [k] and no Box event. Both ways a model gives boxes: box text (a tiny
checkpoint whose tokenizer holds the markup as one token, forced by a logit bias, through the
real Grounded wrapper) and the pix2emb box head (loc_decoder set to say one bad box)."""
import math
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from engine import Box, Done, GenParams, Message, Token

pytestmark = pytest.mark.slow

# One token of box text: kept, reversed (dropped), reaching past the right edge (clipped).
MARKUP = "a<box>(100,100),(300,300)</box>b<box>(600,100),(500,300)</box>c<box>(900,100),(1200,300)</box>"


def split(events):
    text = "".join(e.text for e in events if isinstance(e, Token))
    return text, [e for e in events if isinstance(e, Box)], events[-1]


def test_box_text_notes_reach_done_and_dropped_boxes_have_no_ref(make_tiny_ckpt, images, load_engine):
    e = load_engine(make_tiny_ckpt(words=(MARKUP,)), backend="torch", box_format="qwen_vl")
    markup = e.inner.prompter.tokenizer.convert_tokens_to_ids(MARKUP)
    text, boxes, done = split(list(e.stream([Message.user("Where?", [images[0]])], GenParams(
        max_new_tokens=2, temperature=0, logit_bias={markup: 1e4}))))
    assert text == "a[0]bc[1]a[2]bc[3]"
    assert [b.ref for b in boxes] == [0, 1, 2, 3]
    assert (boxes[1].x1, boxes[1].y1, boxes[1].x2, boxes[1].y2) == pytest.approx((0.9, 0.1, 1.0, 0.3))
    assert isinstance(done, Done) and done.reason == "length"
    assert done.notes == (
        "dropped a box whose far corner comes before its near corner: (0.600, 0.100, 0.500, 0.300) (2 times)",
        "clipped a box that reached outside the image: (0.900, 0.100, 1.200, 0.300) (2 times)")


@pytest.fixture
def bad_head(make_tiny_ckpt, tmp_path):
    """A copy of the tiny box-head checkpoint whose loc_decoder always says `box`."""
    def make(box):
        folder = shutil.copytree(make_tiny_ckpt(grounding=True, seed=4), tmp_path / "head")
        w = load_file(str(folder / "grounding.safetensors"))
        w["loc_decoder.2.weight"] = torch.zeros_like(w["loc_decoder.2.weight"])
        w["loc_decoder.2.bias"] = torch.tensor(box)
        save_file(w, str(folder / "grounding.safetensors"))
        return folder
    return make


# images[0] is 80x50, centred on an 80x80 square: 15 px of padding above and below.
@pytest.mark.parametrize("box, text, note", [
    ((0.75, 0.3, 0.25, 0.6), "", "dropped a box whose far corner comes before its near corner"),
    ((math.nan, 0.3, 0.75, 0.6), "", "dropped a box with a coordinate that is not a number"),
    ((0.25, 0.0, 0.75, 0.1), "", "dropped a box that lies outside the image"),   # in the padding
    ((0.25, 0.1, 0.75, 0.6), "[0][1][2]", "clipped a box that reached outside the image"),
], ids=["reversed", "nan", "in-the-padding", "clipped"])
@pytest.mark.parametrize("mode", ["full", "composite"])
def test_box_head_bad_boxes_are_dropped_or_clipped_with_a_note(bad_head, images, box, text, note, mode, load_engine):
    e = load_engine(bad_head(box), backend="torch", attention=mode)
    at = e.inner.model.cfg.grounding["at_token_id"]
    got, boxes, done = split(list(e.stream([Message.user("Where?", [images[0]])], GenParams(
        max_new_tokens=3, temperature=0, logit_bias={at: 1e4}))))
    assert got == text and len(boxes) == len(text) // 3
    assert all(0 <= v <= 1 for b in boxes for v in (b.x1, b.y1, b.x2, b.y2))
    assert done.reason == "length" and len(done.notes) == 1
    assert done.notes[0].startswith(note) and done.notes[0].endswith("(3 times)")
