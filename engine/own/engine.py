"""The own EE-MLLM as the app loads it: a conversation that holds an image goes to the trained
model (torch engine, composite attention, box head); one without goes to its base decoder as it
ships, the SmolLM2 GGUF through llama.cpp, without the LoRA. The LoRA was trained on generated
scenes, and for text it only cost the base model's own chat (document answers right in its own
words: 16% with the LoRA, 45% without; README); llama.cpp also decodes several times faster.
The idea is the one that keeps an MLLM's language model frozen (BLIP-2, Flamingo): text-only input
never meets weights trained for images."""
from __future__ import annotations

import threading

from ..api import EngineInfo, GenParams, Image, Message

TEXT_NOTE = ("A chat without an image is answered by its base decoder (SmolLM2-135M-Instruct, "
             "llama.cpp) without the adapter trained on scenes: its own chat, and faster.")


def holds_image(messages: list[Message]) -> bool:
    return any(isinstance(p, Image) for m in messages for p in m.parts)


class OwnEngine:
    def __init__(self, seeing, text):
        self.seeing, self.text = seeing, text
        self.box_format, self.emits_boxes = seeing.box_format, seeing.emits_boxes
        self.info: EngineInfo = seeing.info
        self.info.notes.append(TEXT_NOTE)

    def __getattr__(self, name):  # the trained model's own parts (prompter, model, ...) stay reachable
        return getattr(self.seeing, name)

    def route(self, messages: list[Message]):
        return self.seeing if holds_image(messages) else self.text

    def stream(self, messages: list[Message], params: GenParams, cancel: threading.Event | None = None):
        return self.route(messages).stream(messages, params, cancel)

    def close(self) -> None:
        self.text.close()
        self.seeing.close()
