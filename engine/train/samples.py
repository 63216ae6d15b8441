"""The endless training stream: generated samples, with text-only chat answered by the base model
itself (SmolLM2 through llama.cpp, greedy, once per training directory), so LoRA keeps its chat."""
from __future__ import annotations

import itertools
import json
from pathlib import Path

from ..api import Message, Text
from .data import make_sample, text_prompts


def text_answers(work: Path, n: int) -> dict:
    """question -> the base model's own answer (only answers that ended by themselves)."""
    path = work / "text_answers.json"
    if path.is_file():
        return json.loads(path.read_text())
    from llama_cpp import Llama
    from ..own.build import base_gguf
    llm = Llama(str(base_gguf()), n_ctx=512, n_threads=2, verbose=False, seed=0)
    out = {}
    for q, _ in text_prompts(n, seed=0):
        if q in out:
            continue
        r = llm.create_chat_completion([{"role": "user", "content": q}], temperature=0, max_tokens=80,
                                       repeat_penalty=1.1)
        c = r["choices"][0]
        if c["finish_reason"] == "stop" and c["message"]["content"].strip():
            out[q] = c["message"]["content"].strip()
    path.write_text(json.dumps(out, indent=1))
    return out


def sample_stream(start: int, seed: int, skills: list | None, answers: dict, max_objects: int | None = None,
                  split: str = "train"):
    """Samples from index `start` on; skills: restrict to these (cycled), else the training mix;
    max_objects: cap the scenes' object count (see make_sample); split: "train", or "train+null"
    for a pointer with a null (the same draws, its replies' forms: tasks.make_sample)."""
    return samples_at(itertools.count(start), seed, skills, answers, max_objects, split)


def samples_at(indices, seed: int, skills: list | None, answers: dict, max_objects: int | None = None,
               split: str = "train"):
    """The samples at these indices of the stream (a worker process takes its share of them)."""
    for i in indices:
        skill = skills[i % len(skills)] if skills else None
        s = make_sample(seed * 10_000_000 + i, split, skill, max_objects)
        if s.skill == "text":
            q = s.messages[-2].text
            if q not in answers:
                continue
            s.messages[-1] = Message("assistant", [Text(answers[q])])
        yield s
