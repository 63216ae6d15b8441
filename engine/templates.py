"""A chat template that refuses a system message (Gemma's raise "System role not supported",
some Mistral ones insist on user/assistant turns) still gets the user's instructions: they open
the first user turn instead, as Ollama does. Used by every backend that renders templates here."""
from __future__ import annotations

from jinja2.exceptions import TemplateError


def fold_system(conv: list[dict]) -> list[dict]:
    """The system message's text put at the start of the first user message (string or parts)."""
    system, rest = conv[0], list(conv[1:])
    text = system["content"] if isinstance(system["content"], str) else "".join(
        p.get("text", "") for p in system["content"])
    i = next((k for k, m in enumerate(rest) if m["role"] == "user"), None)
    if i is None:
        return [{"role": "user", "content": text}, *rest]
    content = rest[i]["content"]
    if isinstance(content, str):
        content = f"{text}\n\n{content}"
    else:
        content = [{"type": "text", "text": f"{text}\n\n"}, *content]
    rest[i] = {**rest[i], "content": content}
    return rest


def render_folding_system(render, conv: list[dict]) -> str:
    """render(conv), or, when the template refuses a leading system message, render of it folded
    (a refusal of anything else is raised again, by the second render)."""
    try:
        return render(conv)
    except (TemplateError, ValueError):  # transformers' raise_exception: TemplateError; llama.cpp's: ValueError
        if not conv or conv[0]["role"] != "system":
            raise
        return render(fold_system(conv))


def render_continuing(render, conv: list[dict]) -> str:
    """As render_folding_system; a conversation that ends in the assistant's own unfinished answer
    (Continue after the token limit) is prompted up to that turn, the answer so far after it as it
    is, so the model goes on from where it stopped (transformers' continue_final_message)."""
    if conv and conv[-1]["role"] == "assistant":
        content = conv[-1]["content"]
        text = content if isinstance(content, str) else "".join(p.get("text", "") for p in content)
        return render_folding_system(render, conv[:-1]) + text
    return render_folding_system(render, conv)
