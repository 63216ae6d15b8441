"""Batches built in worker processes. A sample costs ~10 ms of one core (drawing, tokenizing, the
image processor; a tower stage's image and per-patch targets a few ms): on a GPU host the
generator, not the model, is the bottleneck unless its cores share the work. Each worker takes
chunks of consecutive stream indices (every skill of the cycle in each chunk, so its batches mix
skills) and yields whole batches, made by the stage's own batching function."""
from __future__ import annotations

import itertools

from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from .samples import samples_at

CHUNK = 64  # consecutive indices a worker takes at a time


class _Batches(IterableDataset):
    def __init__(self, start: int, seed: int, skills, answers: dict, max_objects, to_batches, split: str):
        self.args = (seed, skills, answers, max_objects, split)
        self.start, self.to_batches = start, to_batches

    def __iter__(self):
        info = get_worker_info()
        w, n = (info.id, info.num_workers) if info else (0, 1)
        indices = (self.start + (k * n + w) * CHUNK + j for k in itertools.count() for j in range(CHUNK))
        return self.to_batches(samples_at(indices, *self.args))


def parallel_batches(start: int, seed: int, skills, answers: dict, max_objects, to_batches, workers: int,
                     split: str = "train"):
    """Endless batches from `workers` processes; to_batches(samples) -> batches is the serial
    batching of the stage (forked: it and the prompter it holds are inherited, not pickled)."""
    ds = _Batches(start, seed, skills, answers, max_objects, to_batches, split)
    return iter(DataLoader(ds, batch_size=None, num_workers=workers, prefetch_factor=4,
                           multiprocessing_context="fork"))
