"""Every backend's answers go through the box-text parsers: a model that writes its boxes as text
(Qwen-VL, Florence-2, PaliGemma, ...) gets `[k]` in the text and Box events on the original image,
whichever backend runs it. Engines with a box head emit Box events themselves."""
from __future__ import annotations

from .api import EngineError, Image
from .grounding.stream import ground_stream
from .images import image_size


class Grounded:
    def __init__(self, inner, box_format: str = "auto"):
        self.inner, self.box_format = inner, box_format
        inner.box_format = box_format  # the inner prompt writes regions in the same box text
        # A box head emits Box events itself; otherwise boxes come from parsing the text.
        self.emits_boxes = getattr(inner, "emits_boxes", False)
        if box_format != "auto":
            inner.info.grounding = True

    @property
    def box_source(self) -> str:
        """Where answers' boxes come from, for the user: the box head, or box text in a format."""
        if self.emits_boxes:
            return "box head (pix2emb)"
        return "any known box text (auto)" if self.box_format == "auto" else f"{self.box_format} box text"

    def __getattr__(self, name):  # info, close, logits, ... of the engine inside
        return getattr(self.inner, name)

    def stream(self, messages, params=None, cancel=None):
        try:
            sizes = [image_size(p) for m in messages for p in m.parts if isinstance(p, Image)]
        except EngineError:
            sizes = []  # a bad image: the backend reports it its own way
        events = self.inner.stream(messages, params, cancel)
        if not sizes or self.emits_boxes:  # no image to box, or a box head does it
            yield from events
        else:
            yield from ground_stream(events, format=self.box_format, image_sizes=sizes)
