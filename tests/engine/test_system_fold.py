"""A chat template that refuses a system message (Gemma 2's: raise_exception('System role not
supported')) still gets the user's instructions, at the start of the first user turn, through the
real torch prompt builder (a tiny checkpoint with that template) and the real GGUF renderer."""
from __future__ import annotations

import shutil

import pytest
from jinja2.exceptions import TemplateError

from engine.api import Message, Text
from engine.gguf.prompt import render

REFUSE = ("{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}"
          "{% endif %}")
SYSTEM = Message("system", [Text("Answer like a pirate.")])


@pytest.mark.slow
def test_torch_prompt_folds_a_refused_system_message(tiny_llava, images, tmp_path, load_engine):
    folder = tmp_path / "ckpt"
    shutil.copytree(tiny_llava, folder)
    template = folder / "chat_template.jinja"
    template.write_text(REFUSE + template.read_text())
    e = load_engine(folder, backend="torch")
    with pytest.raises(TemplateError):  # the template really refuses it
        e.inner.prompter.processor.apply_chat_template([{"role": "system", "content": "x"}], tokenize=False)
    text = e.inner.prompter.tokenizer.decode(e.inner.build([SYSTEM, Message.user("Hello?", [images[0]])]).ids)
    assert "USER:" in text and text.index("Answer like a pirate.") < text.index("Hello?")
    assert text.index("USER:") < text.index("Answer like a pirate.")  # inside the user turn
    # Without a system message the template renders as before.
    assert "pirate" not in e.inner.prompter.tokenizer.decode(e.inner.build([Message.user("Hello?")]).ids)


def test_gguf_render_folds_a_refused_system_message():
    template = REFUSE + ("{% for m in messages %}<start_of_turn>{{ m['role'] }}\n{{ m['content'] }}"
                         "<end_of_turn>\n{% endfor %}<start_of_turn>model\n")
    out = render([SYSTEM, Message.user("Hello?")], template, "<bos>", "<eos>", "<__media__>")
    assert out.startswith("<start_of_turn>user\nAnswer like a pirate.\n\nHello?<end_of_turn>")
    with pytest.raises((TemplateError, ValueError)):  # another refusal is not hidden
        render([Message.user("Hi")], "{{ raise_exception('no') }}", "<bos>", "<eos>", "<__media__>")
