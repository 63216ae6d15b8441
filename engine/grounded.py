"""Every backend's answers go through the box-text parsers: a model that writes its boxes as text
(Qwen-VL, Florence-2, PaliGemma, ...) gets `[k]` in the text and Box events on the original image,
whichever backend runs it. Engines with a box head emit Box events themselves.

Grounded only adds boxes to a stream: the backend was loaded with its box format (it writes a
user's regions in the same box text) and says in its own info whether it grounds."""
from __future__ import annotations

from .api import EngineError, Image
from .grounding.stream import ground_stream
from .images import image_size


class Grounded:
    def __init__(self, inner, box_format: str = "auto", emits_boxes: bool = False):
        """`inner`: the backend's engine (kept public for tests and tools that need the backend
        itself); `box_format`: the format it was loaded with; `emits_boxes`: it has a box head."""
        self.inner, self.box_format, self.emits_boxes = inner, box_format, emits_boxes

    @property
    def info(self):
        return self.inner.info

    @property
    def box_source(self) -> str:
        """Where answers' boxes come from, for the user: the box head, or box text in a format."""
        if self.emits_boxes:
            return "box head (pix2emb)"
        return "any known box text (auto)" if self.box_format == "auto" else f"{self.box_format} box text"

    def stream(self, messages, params=None, cancel=None):
        try:
            sizes = [image_size(p) for m in messages for p in m.parts if isinstance(p, Image)]
        except EngineError:
            sizes = []  # a bad image: the backend reports it its own way
        events = self.inner.stream(messages, params, cancel)
        if not sizes or self.emits_boxes:  # no image to box, or a box head does it
            yield from events
        else:  # a backend may say how its model shows images, whatever the format's habit
            yield from ground_stream(events, format=self.box_format, image_sizes=sizes,
                                     geometry=getattr(self.inner, "image_geometry", None))

    def close(self) -> None:
        self.inner.close()
