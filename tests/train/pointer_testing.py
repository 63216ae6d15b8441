"""A pointer set by hand, for the pointer tests: what it gives is then known in advance."""
from __future__ import annotations

import torch


def set_pointer(model, boxes, scores) -> torch.Tensor:
    """Visual token i reads box boxes[i] and is pointed at with score scores[i] (its values carry
    both: the box in dims 0-3, the score in 4) -> those values (N, V)."""
    g, dim = model.grounding, model.grounding.patch_box.in_features
    values = torch.zeros(len(boxes), dim)
    values[:, :4] = torch.stack(boxes)
    values[:, 4] = torch.tensor(scores) * dim ** 0.5
    with torch.no_grad():
        g.patch_box.weight.zero_()
        g.patch_box.weight[:, :4] = torch.eye(4)
        g.patch_box.bias.zero_()
        g.point_q.weight.zero_()
        g.point_q.bias.zero_()
        g.point_q.bias[4] = 1.0
    return values
