"""Figures under an answer: an image with the answer's boxes drawn on it, stored as a blob so the
chat shows it like any attachment. A figure is plain JSON in the answer's meta:
{"image": plain blob, "label": ..., "boxes": [[label, x1, y1, x2, y2], ...], "drawn": blob}, and
"margin": true for a document page (its labels beside the page, not over its text)."""
from __future__ import annotations

import io

from PIL import Image as PILImage

from .blobs import BlobStore
from .draw import draw_figure


def box_figures(boxes, images: list[str]) -> list[dict]:
    """The answer's Box events grouped by the conversation image they are on."""
    out = {}
    for b in boxes:
        if 0 <= b.image_index < len(images):
            fig = out.setdefault(b.image_index, {"image": images[b.image_index],
                                                 "label": f"image {b.image_index + 1}", "boxes": []})
            fig["boxes"].append([b.ref, b.x1, b.y1, b.x2, b.y2])
    return [out[k] for k in sorted(out)]


def render(fig: dict, blobs: BlobStore) -> PILImage.Image:
    with PILImage.open(blobs.path(fig["image"])) as img:
        return draw_figure(img, fig["boxes"], margin=fig.get("margin", False))


def with_drawn(figures: list[dict], blobs: BlobStore) -> list[dict]:
    """Each figure with its drawn image stored (content-addressed: redrawing costs no space)."""
    for fig in figures:
        buf = io.BytesIO()
        render(fig, blobs).save(buf, format="PNG")
        fig["drawn"] = blobs.put(buf.getvalue(), ".png")
    return figures
