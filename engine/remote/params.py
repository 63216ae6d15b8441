"""GenParams -> chat.completions arguments. Sampling knobs OpenAI lacks go in extra_body, under
the names vLLM/SGLang (repetition_penalty) and llama.cpp (repeat_penalty) read. The repetition
penalty is always sent, 1.0 included: left out, llama.cpp's server applies its own 1.1, so "off"
would not be off, and the same setting would sample differently here than in the other backends.
A strict server (api.openai.com) refuses fields it does not know: see `refused_extras`."""
from __future__ import annotations

import openai

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
    extra["repetition_penalty"] = extra["repeat_penalty"] = params.repetition_penalty
    opts["extra_body"] = extra
    return opts


def refused_extras(err: Exception, opts: dict) -> list[str]:
    """The extra_body fields a 400/422 names (OpenAI: "Unrecognized request argument supplied:
    top_k"; pydantic servers: "Extra inputs are not permitted" at loc [body, top_k]): the request
    is worth repeating without them. Empty when the refusal is about something else."""
    if not isinstance(err, openai.APIStatusError) or err.status_code not in (400, 422):
        return []
    said = f"{err.message} {err.body}"
    return [k for k in opts.get("extra_body", {}) if k in said]
