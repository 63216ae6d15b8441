"""A region given to a torch model without a box head is written in the model's own box text,
the format engine.load chose for it (named, or from the checkpoint's config)."""
import json
import shutil

import pytest

from engine import Image, Message, Region, Text
from engine.grounding import FORMATS, region_text

pytestmark = pytest.mark.slow

BOX = (0.1, 0.2, 0.5, 0.75)


def prompt_text(e, images):
    msgs = [Message("user", [Image(images[0]), Text("What is in "), Region(0, BOX), Text("?")])]
    ids, _ = e.inner.prepare(msgs)
    return e.inner.prompter.tokenizer.decode(ids[ids != e.inner.model.cfg.image_token_id])


@pytest.mark.parametrize("fmt", sorted(FORMATS) + ["auto"])
def test_prompt_carries_the_chosen_format(tiny_llava, images, fmt, load_engine):
    e = load_engine(tiny_llava, backend="torch", box_format=fmt)
    written = region_text(Region(0, BOX), fmt, [(80, 50)])  # images[0] is 80x50
    assert f"What is in {written}?" in prompt_text(e, images)


def test_format_comes_from_the_checkpoint(tiny_llava, images, tmp_path, load_engine):
    plain = load_engine(tiny_llava, backend="torch")
    assert "[region on image 1: x1=0.100, y1=0.200, x2=0.500, y2=0.750, normalized 0..1]" in prompt_text(plain, images)
    folder = shutil.copytree(tiny_llava, tmp_path / "florence-like")
    cfg = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**cfg, "box_format": "florence2"}))
    e = load_engine(folder, backend="torch")
    assert "What is in <loc_100><loc_200><loc_500><loc_750>?" in prompt_text(e, images)
