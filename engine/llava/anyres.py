"""LLaVA-NeXT's any-resolution step: an image becomes a base view (resized to one tile, aspect not
kept) plus row-major tiles of the image resized into the best of the checkpoint's grid pinpoints;
the tiles' features are stitched back into one grid, the padding cropped off, and one
`image_newline` row end appended per row. A preprocessing and packing step around the one vision
tower, projector and decoder, as transformers' LlavaNext implements it (modeling_llava_next.py,
image_processing_utils.py, processing_llava_next.py): the same choices and the same rounding.
Pinpoints are (height, width); sizes here are (height, width) unless named otherwise."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..api import EngineError


def select_best_resolution(size: tuple[int, int], pinpoints) -> tuple[int, int]:
    """The pinpoint that keeps the most of the image's pixels, ties by the least waste, then the
    first listed (transformers' select_best_resolution, integer truncation included)."""
    h0, w0 = size
    best, best_eff, best_waste = None, 0, float("inf")
    for h, w in pinpoints:
        scale = min(w / w0, h / h0)
        eff = min(int(w0 * scale) * int(h0 * scale), w0 * h0)
        waste = w * h - eff
        if eff > best_eff or (eff == best_eff and waste < best_waste):
            best, best_eff, best_waste = (h, w), eff, waste
    return best


def unpadded_size(size: tuple[int, int], grid_hw: tuple[int, int]) -> tuple[int, int]:
    """Rows and columns of the stitched feature grid `grid_hw` that show the image, not the
    centred padding (transformers' unpad_image: int(round(x, 7)), padding floored per side)."""
    (h0, w0), (h, w) = size, grid_hw
    if w0 / h0 > w / h:
        new = int(round(h0 * (w / w0), 7))
        return h - (h - new) // 2 * 2, w
    new = int(round(w0 * (h / h0), 7))
    return h, w - (w - new) // 2 * 2


def cap_pinpoints(pinpoints, tile: int, max_tiles: int | None) -> list:
    """The pinpoints with at most max_tiles tiles (None: all). Empty: the base view only."""
    if max_tiles is None:
        return [list(p) for p in pinpoints]
    return [list(p) for p in pinpoints if (p[0] // tile) * (p[1] // tile) <= max_tiles]


@dataclass(frozen=True)
class Grid:
    """How one image is tiled and how many decoder tokens it becomes."""
    size: tuple[int, int]       # original (height, width) in pixels
    rows: int                   # tiles down (0: base view only)
    cols: int                   # tiles across
    side: int                   # patches along one tile's side (336 / 14 = 24)
    feat_hw: tuple[int, int]    # the unpadded feature grid's (rows, columns)
    base_tokens: int            # the base view's tokens (side * side, + CLS under "full")

    @property
    def views(self) -> int:
        return 1 + self.rows * self.cols

    @property
    def tokens(self) -> int:
        fh, fw = self.feat_hw
        return self.base_tokens + (fh * (fw + 1) if self.rows else 1)

    @property
    def key(self) -> str:
        """What the visual K/V depend on besides the pixels: the cache key carries it."""
        return f"anyres {self.rows}x{self.cols} of {self.size[0]}x{self.size[1]}"

    @property
    def label(self) -> str:
        return "base view only" if not self.rows else f"{self.rows}x{self.cols} tiles"


def grid(size: tuple[int, int], pinpoints, tile: int, patch: int, base_tokens: int) -> Grid:
    """size: (height, width); pinpoints already capped (empty: the base view only)."""
    side = tile // patch
    if not pinpoints:
        return Grid(tuple(size), 0, 0, side, (0, 0), base_tokens)
    bh, bw = select_best_resolution(size, pinpoints)
    rows, cols = bh // tile, bw // tile
    return Grid(tuple(size), rows, cols, side, unpadded_size(size, (rows * side, cols * side)), base_tokens)


def most_tokens(pinpoints, tile: int, patch: int, base_tokens: int) -> int:
    """The most tokens one image can take (an image of the pinpoint's own shape: nothing unpadded)."""
    side = tile // patch
    counts = [base_tokens + (h // tile) * side * ((w // tile) * side + 1) for h, w in pinpoints]
    return max(counts, default=base_tokens + 1)


def most_image_tokens(cfg, max_tiles: int | None = None) -> int:
    """The most decoder tokens one image can take in a model (ModelConfig) under the tile cap."""
    if cfg.vision is None:
        return 0
    if cfg.grid_pinpoints is None:
        return cfg.image_seq_length
    tile = cfg.vision.image_size
    return most_tokens(cap_pinpoints(cfg.grid_pinpoints, tile, max_tiles), tile, cfg.vision.patch_size,
                       cfg.image_seq_length)


def most_views(cfg, max_tiles: int | None = None) -> int:
    """The most views the vision tower runs on for one image under the tile cap (1 untiled)."""
    if cfg.vision is None:
        return 0
    tile = cfg.vision.image_size
    return 1 + max(((h // tile) * (w // tile) for h, w in cap_pinpoints(cfg.grid_pinpoints or (), tile, max_tiles)),
                   default=0)


def pack(feats: torch.Tensor, g: Grid, newline: torch.Tensor) -> torch.Tensor:
    """One image's projected features (views, side*side, D), base view first, -> (tokens, D): the
    base view, then the tiles stitched row-major into one grid, unpadded, a newline per row."""
    base = feats[0]
    if not g.rows:
        return torch.cat([base, newline[None].to(base)])
    if feats.shape[0] != g.views:
        raise EngineError(f"An image gave {feats.shape[0]} views; its {g.label} need {g.views}.")
    s, d = g.side, feats.shape[-1]
    x = feats[1:].reshape(g.rows, g.cols, s, s, d).permute(0, 2, 1, 3, 4).reshape(g.rows * s, g.cols * s, d)
    (fh, fw), (h, w) = g.feat_hw, x.shape[:2]
    x = x[(h - fh) // 2:(h - fh) // 2 + fh, (w - fw) // 2:(w - fw) // 2 + fw]
    x = torch.cat([x, newline.to(x).expand(fh, 1, d)], dim=1)
    return torch.cat([base, x.reshape(-1, d)])


@dataclass
class TiledPixels:
    """Pixels of several tiled images as transformers' processor gives them, (images, most views,
    3, H, W), padded with zero views, and each image's Grid. Indexes like a tensor of images."""
    values: torch.Tensor
    grids: list[Grid]

    def __getitem__(self, idx) -> "TiledPixels":
        picks = list(range(len(self.grids)))[idx] if isinstance(idx, slice) else (
            [idx] if isinstance(idx, int) else list(idx))
        return TiledPixels(self.values[picks], [self.grids[i] for i in picks])

    def __len__(self) -> int:
        return len(self.grids)

    def to(self, device) -> "TiledPixels":
        return TiledPixels(self.values.to(device), self.grids)

    def views(self) -> torch.Tensor:
        """Every image's real views, concatenated: the vision tower's batch."""
        return torch.cat([v[:g.views] for v, g in zip(self.values, self.grids)])

    def image_sizes(self) -> torch.Tensor:
        """(images, 2) of (height, width): transformers' image_sizes."""
        return torch.tensor([g.size for g in self.grids])
