"""Turn our Message lists into the text a GGUF model is prompted with.

Images become llama.cpp's media marker (mtmd replaces each with the image's embeddings); regions
become a short text description, since a GGUF has no region encoder. The GGUF's own chat template
(`tokenizer.chat_template`) renders the conversation; a base model without one is prompted with
the plain text of the messages, so it continues it."""
from __future__ import annotations

from ..api import Image, Message, Region, Text


def part_text(part, marker: str) -> str:
    if isinstance(part, Text):
        return part.text
    if isinstance(part, Image):
        return marker
    if isinstance(part, Region):
        x1, y1, x2, y2 = part.box
        return (f"[region of image {part.image_index + 1}: x1={x1:.3f} y1={y1:.3f} "
                f"x2={x2:.3f} y2={y2:.3f}]")
    raise TypeError(f"unknown message part {part!r}")


def template_messages(messages: list[Message], marker: str) -> list[dict]:
    """OpenAI-style messages with string content, images as `marker`, in order."""
    out = []
    for m in messages:
        parts = [part_text(p, marker) for p in m.parts]
        # an image sits on its own line before the text that refers to it, as LLaVA was trained
        text = "".join(s if s != marker else marker + "\n" for s in parts)
        out.append({"role": m.role, "content": text})
    return out


def images_in_order(messages: list[Message]) -> list[Image]:
    return [p for m in messages for p in m.parts if isinstance(p, Image)]


def render(messages: list[Message], template: str | None, bos: str, eos: str,
           marker: str) -> str:
    msgs = template_messages(messages, marker)
    if not template:  # as the torch engine does for a base model
        return "\n".join(m["content"] for m in msgs)
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter  # transformers-compatible Jinja
    formatter = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos,
                                    add_generation_prompt=True)
    return formatter(messages=msgs).prompt
