"""A region given to a GGUF model is written in the model's own box text (the format engine.load
chose), inside the prompt llama.cpp really tokenizes."""
import pytest

from engine import Image, Message, Region, Text
from engine.grounding import region_text

pytestmark = pytest.mark.slow

BOX = (0.1, 0.2, 0.5, 0.75)


@pytest.mark.parametrize("fmt", ["qwen_vl", "shikra", "qwen2_5_vl", "auto"])
def test_prompt_carries_the_chosen_format(exported, images, fmt, load_engine):
    g = load_engine(exported("f16")[0], backend="gguf", threads=1, box_format=fmt)
    try:
        msgs = [Message("user", [Image(images[0]), Text("What is in "), Region(0, BOX), Text("?")])]
        ids = [k for k in g.inner.prompt_tokens(msgs) if isinstance(k, int)]  # image positions are keys
        text = g.inner._llm.detokenize(ids).decode()
    finally:
        g.close()
    written = region_text(Region(0, BOX), fmt, [(80, 50)])  # images[0] is 80x50
    assert f"What is in {written}?" in text
