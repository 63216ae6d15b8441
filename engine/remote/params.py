"""GenParams -> chat.completions arguments. Sampling knobs OpenAI lacks go in extra_body, only
when set, under the names vLLM/SGLang (repetition_penalty) and llama.cpp (repeat_penalty) read."""
from __future__ import annotations

from ..api import GenParams


def request_options(params: GenParams) -> dict:
    opts = {"max_tokens": params.max_new_tokens, "temperature": params.temperature,
            "top_p": params.top_p}
    if params.seed is not None:
        opts["seed"] = params.seed
    if params.stop:
        opts["stop"] = list(params.stop)
    extra = {}
    if params.top_k > 0:
        extra["top_k"] = params.top_k
    if params.repetition_penalty != 1.0:
        extra["repetition_penalty"] = extra["repeat_penalty"] = params.repetition_penalty
    if extra:
        opts["extra_body"] = extra
    return opts
