"""Samples -> training tensors through the engine's own prompt builder (one prompt builder: what the
model is trained on is exactly what the app will send it), grouped into batches whose rows share
their visual layout (composite attention runs the visual rows of a batch as one pass)."""
from __future__ import annotations

import bisect
import dataclasses
import math
import random
from dataclasses import dataclass

import torch

from ..grounding.geometry import NO_BOX
from ..llava import words
from ..llava.prompt import Prompter

IGNORE = -100
POOL = 8   # batches whose examples are sorted by length together (see batches)
# A model that reads words (llava/words.py) gets the OCR's words after every image at inference. In
# training every image with printed words goes through the OCR (~0.3 s an image on this CPU); of the
# others only this share does, which is enough to meet what the OCR reads in a scene of shapes (a
# star as "★", a circle as "O": in about half of them) and costs less than the step.
WORDLESS_READ = 0.25


@dataclass
class Example:
    ids: torch.Tensor          # (T,)
    labels: torch.Tensor       # (T,) next token at each position, IGNORE where no loss
    pixels: torch.Tensor | None
    boxes: list                # every <boxes> token's box, in order (padded-square coordinates)
    box_targets: list          # (position of <at>, box): the box head's targets
    skill: str = ""
    layout: tuple = ()         # where its images start: rows of a batch share it
    patch_boxes: torch.Tensor | None = None   # (P, 4) the box of the object over each patch of its one image
    patch_has: torch.Tensor | None = None     # (P,) whether an object covers the patch
    focus: list = ()           # per box target: (P,) the patches of the object it names (pointer target)
    taken: list = ()           # per box target: (P,) the patches of what its answer boxed before it
    turns: list = ()           # per box target: which assistant turn it is in


class Tokenize:
    def __init__(self, prompter: Prompter):
        self.p = prompter
        tok = prompter.tokenizer
        self.header = tok("<|im_start|>assistant\n", add_special_tokens=False)["input_ids"]
        self.end = tok.convert_tokens_to_ids("<|im_end|>")
        g = prompter.cfg.grounding or {}
        self.at, self.boxes = g.get("at_token_id"), g.get("boxes_token_id")

    @staticmethod
    def reader(sample):
        """The same OCR as at inference for images with words; for the share of the others that
        their pixels pick (deterministic), too; the rest are given none."""
        if any(sc.kind in ("text", "chart") for sc in sample.scenes):
            return words.ocr_reader
        return lambda image, key: words.ocr_reader(image, key) if int(key[:8], 16) < WORDLESS_READ * 16 ** 8 else []

    def __call__(self, sample) -> Example:
        prompt = self.p.build(sample.messages, finished=True, read=self.reader(sample))
        ids = prompt.ids
        n = len(self.header)
        if ids[-n:].tolist() == self.header:  # the generation prompt after the last answer
            ids = ids[:-n]
        labels = torch.full_like(ids, IGNORE)
        lst, i, starts = ids.tolist(), 0, []
        while i < len(lst):  # loss on every assistant turn: its tokens through <|im_end|>
            if lst[i:i + n] == self.header:
                starts.append(i)
                j = i + n
                while j < len(lst) and lst[j] != self.end:
                    j += 1
                for k in range(i + n, min(j + 1, len(lst))):
                    if lst[k] != self.boxes:       # a box embedding is not a token to predict
                        labels[k - 1] = lst[k]
                i = j
            i += 1
        box_targets, turns, b = [], [], 0
        for k, t in enumerate(lst):
            if t == self.boxes:
                if k and lst[k - 1] == self.at:
                    box_targets.append((k - 1, prompt.boxes[b]))
                    turns.append(bisect.bisect(starts, k))  # the assistant turn it is in
                b += 1
        img = self.p.cfg.image_token_id
        layout = tuple(k for k, t in enumerate(lst) if t == img and (k == 0 or lst[k - 1] != img))
        ex = Example(ids, labels, prompt.pixels, list(prompt.boxes), box_targets, sample.skill, layout, turns=turns)
        if len(sample.scenes) == 1 and len(layout) == 1:
            _patches(ex, sample.scenes[0], math.isqrt(sum(t == img for t in lst)))
        return ex


def _patches(ex: Example, scene, side: int) -> None:
    """What a pointer box head learns from besides the box: each patch's object box (patch_box),
    and for each box target the patches of the object it names (where <at> should point)."""
    from .tower_targets import patch_targets
    t = patch_targets(scene, side)
    ex.patch_boxes, ex.patch_has = torch.as_tensor(t["box"]), torch.as_tensor(t["has_box"])
    ex.focus = [ex.patch_has & (ex.patch_boxes - torch.tensor(box)).abs().amax(-1).lt(1e-3)
                if tuple(box) != NO_BOX else torch.zeros_like(ex.patch_has) for _, box in ex.box_targets]
    # The pointer passes over what its answer has boxed already, as at inference (decode_box).
    ex.taken, seen, turn = [], torch.zeros_like(ex.patch_has), None
    for f, t in zip(ex.focus, ex.turns):
        if t != turn:
            seen, turn = torch.zeros_like(ex.patch_has), t
        ex.taken.append(seen & ~f)
        seen = seen | f


@dataclass
class Batch:
    ids: torch.Tensor          # (B, T)
    labels: torch.Tensor       # (B, T)
    pixels: torch.Tensor | None
    boxes: torch.Tensor        # (N, 4) every <boxes> embedding, row-major order
    at_rows: torch.Tensor      # (M,) row of each box target
    at_pos: torch.Tensor       # (M,) position of its <at>
    at_boxes: torch.Tensor     # (M, 4)
    skills: list
    patch_boxes: torch.Tensor | None = None  # (B, P, 4) rows of one image each: the box over each patch
    patch_has: torch.Tensor | None = None    # (B, P) bool
    at_focus: torch.Tensor | None = None     # (M, P) bool: the named object's patches (all False: unknown)
    at_taken: torch.Tensor | None = None     # (M, P) bool: patches of objects boxed before it in its answer
    at_null: torch.Tensor | None = None      # (M,) bool: the target is NO_BOX (the pointer's null)
    # This batch's answer tokens and box targets against its pool's mean per batch (see batches):
    # the losses' per-batch means times these weigh every token and box of a pool alike.
    token_share: float = 1.0
    box_share: float = 1.0

    def to(self, device) -> "Batch":
        return dataclasses.replace(self, **{f.name: v.to(device) for f in dataclasses.fields(self)
                                            if torch.is_tensor(v := getattr(self, f.name))})


def collate(examples: list[Example], pad_id: int) -> Batch:
    t = max(len(e.ids) for e in examples)
    ids = torch.full((len(examples), t), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), t), IGNORE, dtype=torch.long)
    for r, e in enumerate(examples):  # right padding: causal rows never see it
        ids[r, :len(e.ids)], labels[r, :len(e.ids)] = e.ids, e.labels
    pix = [e.pixels for e in examples if e.pixels is not None]
    boxes = [b for e in examples for b in e.boxes]
    rows = [(r, p, b) for r, e in enumerate(examples) for p, b in e.box_targets]
    batch = Batch(ids, labels, torch.cat(pix) if pix else None,
                  torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
                  torch.tensor([r for r, _, _ in rows], dtype=torch.long),
                  torch.tensor([p for _, p, _ in rows], dtype=torch.long),
                  torch.tensor([b for _, _, b in rows], dtype=torch.float32).reshape(-1, 4),
                  [e.skill for e in examples])
    batch.at_null = torch.tensor([tuple(b) == NO_BOX for _, _, b in rows], dtype=torch.bool)
    known = [e for e in examples if e.patch_boxes is not None]
    if known:  # rows of one image each share its patch count (a batch shares its visual layout)
        p = known[0].patch_has.shape[0]
        batch.patch_boxes = torch.stack([e.patch_boxes if e.patch_boxes is not None else torch.zeros(p, 4)
                                         for e in examples])
        batch.patch_has = torch.stack([e.patch_has if e.patch_has is not None else torch.zeros(p, dtype=torch.bool)
                                       for e in examples])
        batch.at_focus = torch.stack([f for e in examples for f in (e.focus or [torch.zeros(p, dtype=torch.bool)]
                                                                    * len(e.box_targets))]) if rows else None
        batch.at_taken = torch.stack([f for e in examples for f in (e.taken or [torch.zeros(p, dtype=torch.bool)]
                                                                    * len(e.box_targets))]) if rows else None
    return batch


def batches(samples, tokenize: Tokenize, batch_size: int, pad_id: int, pool: int = POOL):
    """Endless batches from an endless sample iterator, bucketed by visual layout. Within a layout,
    `pool` batches' worth of examples are sorted by length and then cut into batches (in a shuffled
    order), so the rows of a batch are of similar length: the text pass runs every row to the
    batch's longest, and with batches cut in arrival order 60% of its positions were padding.
    Sorted batches differ in how many answer tokens and boxes they hold (a batch of one-word
    answers beside one of long conversations), so each carries its share of its pool's: the loss's
    per-batch means are scaled by it, and a token weighs the same in either batch, as it did in
    mixed batches (unscaled, a token of a short batch would weigh several times one of a long batch)."""
    buckets: dict = {}
    pools = 0
    for s in samples:
        e = tokenize(s)
        b = buckets.setdefault(e.layout, [])
        b.append(e)
        if len(b) == batch_size * pool:
            b.sort(key=lambda x: len(x.ids))
            cut = [b[k:k + batch_size] for k in range(0, len(b), batch_size)]
            tokens = [sum(int((x.labels != IGNORE).sum()) for x in c) for c in cut]
            boxes = [sum(len(x.box_targets) for x in c) for c in cut]
            for k in random.Random(pools).sample(range(pool), pool):
                batch = collate(cut[k], pad_id)
                batch.token_share = tokens[k] * pool / max(1, sum(tokens))
                batch.box_share = boxes[k] * pool / sum(boxes) if sum(boxes) else 1.0
                yield batch
            pools += 1
            buckets[e.layout] = []
