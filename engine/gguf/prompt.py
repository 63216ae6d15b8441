"""Turn our Message lists into the text a GGUF model is prompted with.

Images become llama.cpp's media marker (mtmd replaces each with the image's embeddings); regions
become the model's own box text (engine.grounding.regions), since a GGUF has no region encoder.
The GGUF's own chat template (`tokenizer.chat_template`) renders the conversation; a base model
without one is prompted with the plain text of the messages, so it continues it."""
from __future__ import annotations

from ..api import Image, Message, Region, Text
from ..grounding.regions import region_text
from ..images import image_size
from ..templates import render_continuing


def part_text(part, marker: str, box_format: str = "auto", sizes=()) -> str:
    if isinstance(part, Text):
        return part.text
    if isinstance(part, Image):
        return marker
    if isinstance(part, Region):
        return region_text(part, box_format, sizes)
    raise TypeError(f"unknown message part {part!r}")


def template_messages(messages: list[Message], marker: str, box_format: str = "auto") -> list[dict]:
    """OpenAI-style messages with string content, images as `marker`, regions in `box_format`."""
    has_regions = any(isinstance(p, Region) for m in messages for p in m.parts)
    # image sizes (from the headers) only when a region may need them
    sizes = [image_size(i) for i in images_in_order(messages)] if has_regions else []
    out = []
    for m in messages:
        parts = [part_text(p, marker, box_format, sizes) for p in m.parts]
        # an image sits on its own line before the text that refers to it, as LLaVA was trained
        text = "".join(s if s != marker else marker + "\n" for s in parts)
        out.append({"role": m.role, "content": text})
    return out


def images_in_order(messages: list[Message]) -> list[Image]:
    return [p for m in messages for p in m.parts if isinstance(p, Image)]


def render(messages: list[Message], template: str | None, bos: str, eos: str,
           marker: str, box_format: str = "auto") -> str:
    msgs = template_messages(messages, marker, box_format)
    if not template:  # as the torch engine does for a base model
        return "\n".join(m["content"] for m in msgs)
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter  # transformers-compatible Jinja
    formatter = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos,
                                    add_generation_prompt=True)
    return render_continuing(lambda m: formatter(messages=m).prompt, msgs)
