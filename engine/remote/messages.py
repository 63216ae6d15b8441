"""engine.api messages -> OpenAI chat messages. Images go as base64 data URLs, regions as the
model's own box text (engine.grounding.regions)."""
from __future__ import annotations

import base64
import io

from ..api import Image, Message, Text
from ..grounding.regions import region_text
from ..images import open_rgb

# PNG keeps page text crisp; past this size a JPEG is sent instead (llama.cpp caps media at 15 MB).
PNG_LIMIT = 8 * 1024 * 1024


def image_data_url(image: Image) -> tuple[str, tuple[int, int]]:
    """Validate and decode the image (open_rgb), re-encode it, return (data URL, (width, height))."""
    img = open_rgb(image)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    mime = "image/png"
    if buf.tell() > PNG_LIMIT:
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=90)
        mime = "image/jpeg"
    return f"data:{mime};base64,{base64.b64encode(buf.getvalue()).decode('ascii')}", img.size


def to_openai(messages: list[Message], box_format: str = "auto") -> tuple[list[dict], list[tuple[int, int]]]:
    """Return (OpenAI messages, sizes of the conversation's images in order); regions are written
    in `box_format` (a name in engine.grounding.FORMATS, or "auto": plain coordinates).

    A message without images is sent as a plain string: some servers' chat templates (llama.cpp's
    Python server among them) cannot render list content for text-only models."""
    out, sizes = [], []
    for m in messages:
        parts = []
        for p in m.parts:
            if isinstance(p, Image):
                url, size = image_data_url(p)
                sizes.append(size)
                parts.append({"type": "image_url", "image_url": {"url": url}})
            else:
                text = p.text if isinstance(p, Text) else region_text(p, box_format, sizes)
                if parts and parts[-1]["type"] == "text":  # joined as they are, as the other backends do
                    parts[-1]["text"] += text
                else:
                    parts.append({"type": "text", "text": text})
        if all(p["type"] == "text" for p in parts):
            out.append({"role": m.role, "content": "".join(p["text"] for p in parts)})
        else:
            out.append({"role": m.role, "content": parts})
    return out, sizes
