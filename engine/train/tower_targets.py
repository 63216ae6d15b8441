"""Stage 0: the vision tower learns from the generator's own labels, per patch, before any LLM
is involved (cheap: the 135M decoder is not run). Each patch of the padded-square image predicts
what covers it (colour, shape / word / bar), that object's box, and the characters under it
(where the font put them); the image predicts how many shapes it holds. Heads live here only; the
tower is the engine's."""
from __future__ import annotations

import bisect

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..grounding.geometry import original_to_padded, pad_offsets
from ..llava.prompt import pad_to_square
from .data import COLOURS, SHAPES

KINDS = ("none",) + SHAPES + ("word", "bar")
CHARS = "_abcdefghijklmnopqrstuvwxyz0123456789"   # "_": no character
SUBCOLS = 3                                        # characters read at 3 points across a patch


class TowerHeads(nn.Module):
    def __init__(self, hidden: int):
        super().__init__()
        self.colour = nn.Linear(hidden, len(COLOURS) + 1)
        self.kind = nn.Linear(hidden, len(KINDS))
        self.box = nn.Linear(hidden, 4)
        self.chars = nn.Linear(hidden, SUBCOLS * len(CHARS))
        self.count = nn.Linear(hidden, 9)


def patch_targets(scene, side: int) -> dict:
    """Targets on the side x side patch grid of the padded square the tower sees."""
    h, w = scene.id_map.shape
    sq, ox, oy = pad_offsets(w, h)
    full = np.zeros((sq, sq), np.uint8)
    full[oy:oy + h, ox:ox + w] = scene.id_map
    cell = sq / side
    colour = np.zeros((side, side), np.int64)
    kind = np.zeros((side, side), np.int64)
    box = np.zeros((side, side, 4), np.float32)
    has_box = np.zeros((side, side), bool)
    chars = np.zeros((side, side, SUBCOLS), np.int64)
    for r in range(side):
        for c in range(side):
            block = full[int(r * cell):int((r + 1) * cell), int(c * cell):int((c + 1) * cell)]
            ids, counts = np.unique(block[block > 0], return_counts=True)
            if not len(ids) or counts.max() < 0.15 * block.size:
                continue
            o = scene.objects[int(ids[counts.argmax()]) - 1]
            colour[r, c] = COLOURS.index(o.colour) + 1 if o.colour in COLOURS else 0
            kind[r, c] = KINDS.index(o.label) if o.kind == "shape" and o.label in KINDS else KINDS.index(
                o.kind if o.kind in KINDS else "none")
            box[r, c] = original_to_padded(o.box, w, h)
            has_box[r, c] = True
    for o in scene.objects:  # characters: where the font put each (every word carries its edges)
        if o.kind != "word" or not o.label:
            continue
        x1, y1, x2, y2 = original_to_padded(o.box, w, h)
        n, edges = len(o.label), o.edges
        assert len(edges) == n + 1, f"the word {o.label!r} lacks its character edges"
        for r in range(side):
            yc = (r + 0.5) / side
            if not y1 <= yc <= y2:
                continue
            for c in range(side):
                for s in range(SUBCOLS):
                    xc = (c + (s + 0.5) / SUBCOLS) / side
                    if x1 <= xc < x2:
                        k = bisect.bisect_right(edges, (xc - x1) / (x2 - x1)) - 1
                        ch = o.label[min(n - 1, max(0, k))].lower()
                        chars[r, c, s] = CHARS.index(ch) if ch in CHARS else 0
    n_shapes = min(8, sum(o.kind == "shape" for o in scene.objects))
    return dict(colour=colour.reshape(-1), kind=kind.reshape(-1), box=box.reshape(-1, 4),
                has_box=has_box.reshape(-1), chars=chars.reshape(-1, SUBCOLS), count=n_shapes)


def stack_targets(items: list[dict]) -> dict:
    out = {k: torch.as_tensor(np.stack([i[k] for i in items])) for k in items[0] if k != "count"}
    out["count"] = torch.tensor([i["count"] for i in items])
    return out


def tower_batches(stream, size: int, processor, side: int):
    """(pixels, targets) batches of `size` images from a stream of samples, every scene of each."""
    imgs, targets = [], []
    for s in stream:
        for scene in s.scenes:
            imgs.append(pad_to_square(scene.image, processor.image_mean))
            targets.append(patch_targets(scene, side))
            if len(imgs) == size:
                yield processor(images=imgs, return_tensors="pt")["pixel_values"], stack_targets(targets)
                imgs, targets = [], []


def on_shapes(t: dict) -> torch.Tensor:
    """The patches a shape covers (not background, a word or a bar)."""
    return (t["kind"] > 0) & (t["kind"] <= len(SHAPES))


@torch.no_grad()
def heldout_accuracy(feats: torch.Tensor, heads: TowerHeads, t: dict) -> dict:
    """The heads' accuracy on held-out patches, in percent: on those a shape covers, its colour and
    its shape (12-way, chance ~8%; the slow one: TRAINING.md, "Why it took so long to look"), and the
    shape per object (its patches' vote); on those under printed text, the characters (37-way)."""
    f = feats.float()
    out = {}
    on_shape = on_shapes(t)
    if bool(on_shape.any()):
        kind = heads.kind(f)
        colour = heads.colour(f).argmax(-1)[on_shape] == t["colour"][on_shape]
        shape = kind.argmax(-1)[on_shape] == t["kind"][on_shape]
        out.update(colour=100 * float(colour.float().mean()), shape=100 * float(shape.float().mean()),
                   objects=object_shape_accuracy(kind, t, on_shape))
    on_char = t["chars"] > 0   # the printed characters under a patch (37-way; what reading needs)
    if bool(on_char.any()):
        chars = heads.chars(f).reshape(*t["chars"].shape, len(CHARS)).argmax(-1)[on_char] == t["chars"][on_char]
        out["chars"] = 100 * float(chars.float().mean())
    return out


def object_votes(kind_logits: torch.Tensor, t: dict, on_shape: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per shape, not per patch: the patches over one object (same box target) vote with their
    mean kind logits (a mean, not a sum: as a loss, a sum made a large shape voted wrong cost tens of
    times a small one's: TRAINING.md, the twenty-ninth). Returns (votes, the objects' shapes)."""
    votes, wants = [], []
    for b in range(kind_logits.shape[0]):
        idx = torch.nonzero(on_shape[b]).flatten()
        if not len(idx):
            continue
        _, obj = torch.unique(t["box"][b, idx], dim=0, return_inverse=True)
        n = int(obj.max()) + 1
        summed = kind_logits.new_zeros(n, kind_logits.shape[-1]).index_add(0, obj, kind_logits[b, idx])
        votes.append(summed / torch.bincount(obj, minlength=n).unsqueeze(-1))
        wants.append(obj.new_zeros(n).index_copy_(0, obj, t["kind"][b, idx]))
    if not votes:
        return kind_logits.new_zeros(0, kind_logits.shape[-1]), kind_logits.new_zeros(0, dtype=torch.long)
    return torch.cat(votes), torch.cat(wants)


def object_shape_accuracy(kind_logits: torch.Tensor, t: dict, on_shape: torch.Tensor) -> float:
    """The shape per object (its patches' vote), in percent. What a question about "the pentagon"
    needs; an object on one or two patches is where the tower fails most (TRAINING.md, "Where shape
    fails")."""
    votes, want = object_votes(kind_logits.float(), t, on_shape)
    return 100 * int((votes.argmax(-1) == want).sum()) / max(1, len(want))


def _chars_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy averaged over the points under printed text, plus a fifth of it over the rest:
    a plain mean is ~97% "no character" and learns only that (held-out characters stayed at 6-7%)."""
    ce = F.cross_entropy(logits, target, reduction="none")
    on = target > 0
    off = ce[~on].mean() if bool((~on).any()) else ce.sum() * 0
    return (ce[on].mean() if bool(on.any()) else ce.sum() * 0) + 0.2 * off


# Each head's share of the tower's loss; a stage's "tower_weights" may change them (e.g. kind x3 when
# shape is the skill behind: its CE is averaged over every patch, background too, and the 37-way
# characters' loss is ~30x its size, so shape's share of the tower's gradient is small).
# "objects" (off unless a stage names it): cross-entropy of each shape's vote, the per-object figure
# the check reports: every shape weighs the same, however few patches it covers (a small pentagon or
# hexagon is where the tower errs most: TRAINING.md, the twenty-eighth).
LOSS_WEIGHTS = {"colour": 1.0, "kind": 1.0, "chars": 1.0, "box": 2.0, "count": 0.5, "objects": 0.0}


def tower_losses(feats: torch.Tensor, heads: TowerHeads, t: dict, weights: dict | None = None) -> dict:
    """feats: the tower's selected patch features (B, P, H), CLS dropped."""
    f = feats.float()
    colour = F.cross_entropy(heads.colour(f).flatten(0, 1), t["colour"].flatten())
    kind_logits = heads.kind(f)
    kind = F.cross_entropy(kind_logits.flatten(0, 1), t["kind"].flatten())
    chars = _chars_loss(heads.chars(f).reshape(-1, len(CHARS)), t["chars"].flatten())
    m = t["has_box"]
    box = (heads.box(f)[m] - t["box"][m]).abs().mean() if bool(m.any()) else f.sum() * 0
    count = F.cross_entropy(heads.count(f.mean(1)), t["count"])
    w = LOSS_WEIGHTS | (weights or {})
    parts = dict(colour=colour, kind=kind, chars=chars, box=box, count=count, objects=f.sum() * 0)
    if w["objects"]:
        votes, want = object_votes(kind_logits, t, on_shapes(t))
        if len(want):
            parts["objects"] = F.cross_entropy(votes, want)
    return dict(loss=sum(w[k] * v for k, v in parts.items()), **parts)
