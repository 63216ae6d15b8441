"""Next-token choice from one row of logits: repetition penalty, temperature, top-k, top-p."""
from __future__ import annotations

import torch


def sample(logits: torch.Tensor, seen: torch.Tensor, temperature=0.7, top_k=0, top_p=1.0,
           repetition_penalty=1.0, generator: torch.Generator | None = None) -> int:
    logits = logits.float().clone()  # a normal tensor: edited in place below
    if repetition_penalty != 1.0 and len(seen):
        # CTRL / transformers convention: shrink the logit of every token already in the context.
        prev = logits[seen]
        logits[seen] = torch.where(prev > 0, prev / repetition_penalty, prev * repetition_penalty)
    if temperature <= 0:
        return int(logits.argmax())
    logits = logits / temperature
    if top_k > 0:
        kth = torch.topk(logits, min(top_k, logits.numel())).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if 0 < top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True)
        cum = sorted_logits.softmax(-1).cumsum(-1)
        drop = cum - sorted_logits.softmax(-1) > top_p  # keep the smallest set reaching top_p
        logits[order[drop]] = float("-inf")
    probs = logits.softmax(-1)
    return int(torch.multinomial(probs, 1, generator=generator))
