"""Every backend's answers go through the box-text parsers: a model that writes its boxes as text
(Qwen-VL, Florence-2, PaliGemma, ...) gets `[k]` in the text and Box events on the original image,
whichever backend runs it. Engines with a box head emit Box events themselves."""
from __future__ import annotations

from .api import Image
from .grounding.stream import ground_stream
from .images import image_size


class Grounded:
    def __init__(self, inner, box_format: str = "auto"):
        self.inner, self.box_format = inner, box_format

    def __getattr__(self, name):  # info, close, logits, ... of the engine inside
        return getattr(self.inner, name)

    def stream(self, messages, params=None, cancel=None):
        sizes = [image_size(p) for m in messages for p in m.parts if isinstance(p, Image)]
        events = self.inner.stream(messages, params, cancel)
        if not sizes or self.inner.info.grounding:  # no image to box, or a box head does it
            return events
        return ground_stream(events, format=self.box_format, image_sizes=sizes)
