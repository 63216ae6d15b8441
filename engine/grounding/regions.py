"""A region the user gives, as text for a model without a box head: in the model's own box format
when it is known (the format table's writers), else as plain coordinates any model can read.
Every backend writes regions through region_text, so they all say the same thing."""
from __future__ import annotations

from typing import Sequence

from ..api import Region
from .formats import FORMATS
from .geometry import NO_BOX, Frame, clip_box


def generic_text(region: Region) -> str:
    x1, y1, x2, y2 = region.box
    return (f"[region on image {region.image_index + 1}: x1={x1:.3f}, y1={y1:.3f}, x2={x2:.3f}, "
            f"y2={y2:.3f}, normalized 0..1]")


def region_text(region: Region, box_format: str = "auto",
                sizes: Sequence[tuple[int, int]] = (), geometry: str | None = None) -> str:
    """`box_format`: a name in FORMATS (as engine.load chose it for the model) or "auto";
    `sizes`: (width, height) of the conversation's images so far, in order. A format that needs
    the image's size (padding, pixels) gets the generic text when the size is not known.
    `geometry`: how the loaded model shows an image, when it is not the format's own (a tiled
    LLaVA-NeXT sees the whole image, unpadded: "stretch"). A box head's point into nothing
    (NO_BOX, in an answer a box-head model gave earlier in the chat) is no region: no text."""
    if tuple(region.box) == NO_BOX:
        return ""
    fmt = FORMATS.get(box_format)
    box, _ = clip_box(region.box)
    known = 0 <= region.image_index < len(sizes)
    geometry = geometry or (fmt.geometry if fmt else "stretch")
    if fmt is None or box is None or (not known and geometry != "stretch"):
        return generic_text(region)
    frame = Frame(*sizes[region.image_index], geometry) if known else Frame(1, 1)
    return fmt.write(frame.from_original(box), frame)
