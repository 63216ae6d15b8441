"""The losses of stages 1 and 2: next-token loss on answer tokens only, and the pix2emb box loss
(L1 + GIoU, NExT-Chat) on the hidden state of each <at>. The forward is the engine's."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..llava.forward import RunConfig, forward
from .examples import IGNORE, Batch


def giou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Generalized IoU of matching rows of (N,4) x1y1x2y2 boxes."""
    ix = (torch.minimum(a[:, 2], b[:, 2]) - torch.maximum(a[:, 0], b[:, 0])).clamp(min=0)
    iy = (torch.minimum(a[:, 3], b[:, 3]) - torch.maximum(a[:, 1], b[:, 1])).clamp(min=0)
    inter = ix * iy
    area = lambda x: (x[:, 2] - x[:, 0]).clamp(min=0) * (x[:, 3] - x[:, 1]).clamp(min=0)
    union = area(a) + area(b) - inter
    hull = ((torch.maximum(a[:, 2], b[:, 2]) - torch.minimum(a[:, 0], b[:, 0])) *
            (torch.maximum(a[:, 3], b[:, 3]) - torch.minimum(a[:, 1], b[:, 1])))
    return inter / union.clamp(min=1e-6) - (hull - union) / hull.clamp(min=1e-6)


def hidden_and_values(model, batch: Batch, run: RunConfig):
    """The engine's forward over a batch -> (final hidden states (B, T, D), the visual rows'
    first-layer values for a pointer (B, N, V), else None)."""
    feats = model.image_features(batch.pixels) if batch.pixels is not None else None
    x, is_visual = model.embed(batch.ids, feats, batch.boxes if model.has_box_head else None)
    h = forward(model.decoder, x, torch.arange(batch.ids.shape[1], device=batch.ids.device), is_visual, None, run)
    values = model.visual_values(x[:, is_visual]) if model.has_pointer and bool(is_visual.any()) else None
    return h, values


def batch_losses(model, batch: Batch, run: RunConfig, box_weight: float = 1.0) -> dict:
    h, values = hidden_and_values(model, batch, run)
    sel = batch.labels != IGNORE
    tok = F.cross_entropy(model.head(h[sel]).float(), batch.labels[sel], reduction="none")
    lm = tok.mean()
    out = {"lm": lm, "loss": lm * batch.token_share}   # share: see examples.batches
    # answer loss per skill (not optimised, only logged): the curve that says whether a skill uses the image
    names = sorted(set(batch.skills))
    row_skill = torch.tensor([names.index(k) for k in batch.skills], device=tok.device)
    tok_skill = row_skill[sel.nonzero()[:, 0]]  # each labelled token's row's skill
    for i, skill in enumerate(names):
        mask = tok_skill == i
        if mask.any():
            out[f"lm.{skill}"] = tok.detach()[mask].mean()
    if len(batch.at_pos):
        h_at = h[batch.at_rows, batch.at_pos]
        if values is not None:
            pred, logits = model.point(h_at, values[batch.at_rows], taken=batch.at_taken)
        else:
            pred, logits = model.box_from_hidden(h_at), None
        real = ~batch.at_null
        if bool(real.any()):  # a NO_BOX target has no box to regress: the pointer's null is its target
            pred = pred[real].float()
            l1 = (pred - batch.at_boxes[real]).abs().mean()
            g = (1 - giou(pred, batch.at_boxes[real])).mean()
            out.update(box_l1=l1, box_giou=g, loss=out["loss"] + box_weight * batch.box_share * (l1 * 2 + g))
        if logits is not None and batch.at_focus is not None:
            # where to point: the named object's patches, shared evenly (cross-entropy to them);
            # with a null column, nothing for a NO_BOX target
            target = batch.at_focus
            if hasattr(model.grounding, "null_value"):
                target = torch.cat([target, batch.at_null[:, None]], -1)
            known = target.any(-1)
            if bool(known.any()):
                target = target[known].float()
                logp = logits[known].float().log_softmax(-1).masked_fill(target == 0, 0.0)  # taken rows: -inf
                ce = -(target / target.sum(-1, keepdim=True) * logp).sum(-1).mean()
                out.update(point_ce=ce, loss=out["loss"] + 0.5 * box_weight * batch.box_share * ce)
    if values is not None and batch.patch_has is not None and bool(batch.patch_has.any()):
        # each patch reads the box of the object over it (as the tower's own box head does)
        per_patch = model.grounding.patch_box(values.to(model.grounding.patch_box.weight.dtype)).float()
        pl1 = (per_patch[batch.patch_has] - batch.patch_boxes[batch.patch_has]).abs().mean()
        out.update(patch_l1=pl1, loss=out["loss"] + 2 * pl1)
    return out
