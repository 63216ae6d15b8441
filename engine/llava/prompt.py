"""Messages -> model inputs, with the checkpoint's own chat template, tokenizer and image
processor (transformers), images opened safely (engine.images)."""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..api import EngineError, Image, Message, Region, Text
from ..catalog import text_only_refusal
from ..grounding.regions import region_text
from ..images import open_rgb
from ..templates import render_continuing, render_folding_system
from . import anyres, words
from .config import ModelConfig


@dataclass
class Prompt:
    ids: torch.Tensor                    # (T,) with image tokens expanded
    pixels: torch.Tensor | anyres.TiledPixels | None  # (n_images, 3, H, W), or tiled (LLaVA-NeXT)
    image_hashes: list[str] = field(default_factory=list)  # sha256 of each image's pixels (+ tiling)
    image_sizes: list[tuple[int, int]] = field(default_factory=list)  # original (w, h)
    boxes: list[tuple] = field(default_factory=list)  # regions for <boxes> tokens, padded-square coords
    image_tokens: list[int] = field(default_factory=list)  # decoder tokens of each image, in order
    read_ms: float = 0.0                 # the OCR's time reading the images' words (words.py), uncached ones


def pad_to_square(img, mean):
    """LLaVA's expand2square: the image centred on a square of the processor's mean colour."""
    from PIL import Image as PILImage
    from ..grounding.geometry import pad_offsets
    side, ox, oy = pad_offsets(*img.size)
    if side == img.width == img.height:
        return img
    sq = PILImage.new("RGB", (side, side), tuple(int(m * 255) for m in mean))
    sq.paste(img, (ox, oy))
    return sq


def pixel_hash(img, tiling: str = "") -> str:
    """The image's decoded pixels and, for a tiled image, its tiling (other tiles, other K/V)."""
    return hashlib.sha256(f"{img.size}{tiling}".encode() + img.tobytes()).hexdigest()


class Prompter:
    def __init__(self, folder: str | Path, cfg: ModelConfig, max_tiles: int | None = None):
        """max_tiles: LLaVA-NeXT only, the most tiles an image is cut into (0: the base view only)."""
        self.name = Path(folder).name  # as the model list names it
        # A tiled image is seen whole, its padding cropped off the feature grid (anyres.unpadded_size):
        # a box normalized to what the model sees is normalized to the original image.
        self.image_geometry = "stretch" if cfg.grid_pinpoints is not None else None
        from transformers import AutoProcessor, AutoTokenizer
        from transformers.utils import logging
        logging.set_verbosity_error()  # its torchvision notice is noise: the PIL processors are used
        folder = Path(folder)
        self.cfg = cfg
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(folder)
            has_proc = (folder / "preprocessor_config.json").is_file() or (folder / "processor_config.json").is_file()
            self.processor = AutoProcessor.from_pretrained(folder) if cfg.vision is not None and has_proc else None
        except Exception as e:
            raise EngineError(f"{folder}: cannot read the tokenizer/processor files ({e}).") from None
        if cfg.vision is not None and self.processor is None:
            raise EngineError(f"{folder} is a vision checkpoint without processor files "
                              "(preprocessor_config.json): cannot prepare images for it.")
        owner = self.processor or self.tokenizer
        self.template = getattr(owner, "chat_template", None) or self.tokenizer.chat_template
        if cfg.grid_pinpoints is not None:
            self._pin_tiling(folder, max_tiles)
        # A model trained with the words an OCR reads is given them after each image (words.py).
        self.reads_words = bool((cfg.grounding or {}).get("ocr_words"))

    def _pin_tiling(self, folder: Path, max_tiles: int | None) -> None:
        """LLaVA-NeXT: transformers' PIL image processor, always (the torchvision one gives other
        pixels), and the pinpoints left under the tile cap."""
        from transformers import LlavaNextImageProcessorPil
        self.processor.image_processor = LlavaNextImageProcessorPil.from_pretrained(folder)
        self.tile = self.cfg.vision.image_size
        self.pinpoints = anyres.cap_pinpoints(self.cfg.grid_pinpoints, self.tile, max_tiles)

    def grid(self, size: tuple[int, int]) -> anyres.Grid:
        """The tiling of an image of (width, height) pixels under this prompter's cap."""
        v = self.cfg.vision
        return anyres.grid((size[1], size[0]), self.pinpoints, self.tile, v.patch_size, self.cfg.image_seq_length)

    def conversation(self, messages: list[Message], box_format: str = "auto", read=None):
        """-> (conversation for the chat template, images, region boxes, seconds the OCR took).
        read: (image, pixel hash) -> [(word, box)] for a model that reads words (words.py);
        None: the OCR's, cached."""
        read = (read or words.ocr_reader) if self.reads_words else None
        conv, images, boxes, read_s = [], [], [], 0.0
        for m in messages:
            parts = []

            def add(p):
                if isinstance(p, Text):
                    parts.append({"type": "text", "text": p.text})
                elif isinstance(p, Region):
                    parts.append({"type": "text", "text": self._region(p, images, boxes, box_format, m.role)})

            for p in m.parts:
                if isinstance(p, Image):
                    images.append(open_rgb(p))
                    parts.append({"type": "image"})
                    if read is not None and m.role == "user":
                        t0 = time.perf_counter()
                        found = read(images[-1], pixel_hash(images[-1]))
                        read_s += time.perf_counter() - t0
                        for h in words.hint(found, len(images) - 1):
                            add(h)
                else:
                    add(p)
            if all(p["type"] == "text" for p in parts):  # plain string: every template accepts it
                parts = "".join(p["text"] for p in parts)
            conv.append({"role": m.role, "content": parts})
        return conv, images, boxes, read_s

    def _region(self, r: Region, images: list, boxes: list, box_format: str, role: str) -> str:
        """A box-head model reads a region as one embedding at a <boxes> token (padded-square
        coordinates), after <at> in its own answers, as it generated them; other models read it
        as their own box text."""
        if self.cfg.grounding is None:
            return region_text(r, box_format, [i.size for i in images], self.image_geometry)
        from ..grounding.geometry import NO_BOX, original_to_padded
        if not 0 <= r.image_index < len(images):
            raise EngineError(f"A region refers to image {r.image_index + 1}, but only {len(images)} "
                              "image(s) came before it.")
        boxes.append(r.box if tuple(r.box) == NO_BOX else original_to_padded(r.box, *images[r.image_index].size))
        at = self.cfg.grounding.get("at_token", "<at>") if role == "assistant" else ""
        return at + self.cfg.grounding.get("boxes_token", "<boxes>")

    def render(self, conv, finished: bool = False) -> str:
        if not self.template:  # a base model: plain text, the last user turn last
            return "\n".join(c["content"] if isinstance(c["content"], str) else "" for c in conv)
        owner = self.processor or self.tokenizer
        render = lambda c: owner.apply_chat_template(c, add_generation_prompt=True, tokenize=False)
        return render_folding_system(render, conv) if finished else render_continuing(render, conv)

    def build(self, messages: list[Message], box_format: str = "auto", finished: bool = False,
              read=None) -> Prompt:
        """box_format: how regions are written for a model without a box head (engine.grounding).
        A conversation ending in an assistant turn is that answer to go on from (Continue), unless
        `finished`: training's targets are whole answers, each closed by its end-of-turn token.
        read: how a model that reads words gets them (conversation)."""
        if not messages:
            raise EngineError("No messages to answer.")
        conv, images, boxes, read_s = self.conversation(messages, box_format, read)
        if images and self.cfg.vision is None:
            raise EngineError(text_only_refusal(self.name))
        prompt = self._inputs(self.render(conv, finished), images, boxes)
        prompt.read_ms = read_s * 1e3
        return prompt

    def _inputs(self, text: str, images: list, boxes: list) -> Prompt:
        if images:
            sizes = [i.size for i in images]
            if self.cfg.grid_pinpoints is not None:
                return self._tiled(text, images, boxes)
            if self.cfg.grounding is not None:  # box-head models see (and answer on) padded squares
                images = [pad_to_square(i, self.processor.image_processor.image_mean) for i in images]
            out = self.processor(text=text, images=images, return_tensors="pt")
            return Prompt(out["input_ids"][0], out["pixel_values"], [pixel_hash(i) for i in images],
                          sizes, boxes, [self.cfg.image_seq_length] * len(images))
        ids = self.tokenizer(text, return_tensors="pt")["input_ids"][0]
        if self.cfg.image_token_id is not None and bool((ids == self.cfg.image_token_id).any()):
            raise EngineError("The text holds image placeholders but no image was attached.")
        return Prompt(ids, None, boxes=boxes)

    def _tiled(self, text: str, images: list, boxes: list) -> Prompt:
        """LLaVA-NeXT: pixels from transformers' processor under the capped pinpoints (the base view
        only: its base view, the one tile dropped); each image token expanded to that image's count
        here, not by the processor, whose count ignores the cap."""
        grids = [self.grid(i.size) for i in images]
        out = self.processor.image_processor(images, image_grid_pinpoints=self.pinpoints or [[self.tile] * 2],
                                             return_tensors="pt")
        values = out["pixel_values"] if self.pinpoints else out["pixel_values"][:, :1]
        token = self.processor.image_token
        pieces = text.split(token)
        if len(pieces) != len(images) + 1:
            raise EngineError(f"The prompt has {len(pieces) - 1} image placeholders for {len(images)} images.")
        text = "".join(p + token * g.tokens for p, g in zip(pieces, grids)) + pieces[-1]
        ids = self.tokenizer(text, return_tensors="pt")["input_ids"][0]
        return Prompt(ids, anyres.TiledPixels(values, grids), [pixel_hash(i, g.key) for i, g in zip(images, grids)],
                      [i.size for i in images], boxes, [g.tokens for g in grids])
