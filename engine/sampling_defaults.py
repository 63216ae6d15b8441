"""The sampling a model asks for: its generation_config.json, or a GGUF's general.sampling.*
keys; else, for a small model, greedy (a 135M decoder sampled at 0.7 answers "Londre" for the
capital of France, greedy "Paris"); else the app's usual defaults. Plain data, no torch."""
from __future__ import annotations

from .api import GenParams, Sampling

SMALL_MODEL = 1e9  # parameters: below this, sampling hurts answers more than it varies them

# generation_config.json key -> Sampling field
HF_KEYS = {"temperature": "temperature", "top_p": "top_p", "top_k": "top_k",
           "repetition_penalty": "repetition_penalty"}
# GGUF metadata key (llama.cpp's general.sampling.*) -> Sampling field
GGUF_KEYS = {"general.sampling.temp": "temperature", "general.sampling.top_p": "top_p",
             "general.sampling.top_k": "top_k", "general.sampling.penalty_repeat": "repetition_penalty"}


def usual() -> dict:
    d = GenParams()
    return {"temperature": d.temperature, "top_p": d.top_p, "top_k": d.top_k,
            "repetition_penalty": d.repetition_penalty}


def _size(n_params: int) -> str:
    return f"{n_params / 1e9:.1f}B" if n_params >= 1e9 else f"{n_params / 1e6:.0f}M"


def fallback(n_params: int | None) -> Sampling:
    """No sampling in the model's files: greedy for a small model, else the usual defaults."""
    if n_params and n_params < SMALL_MODEL:
        return Sampling(**{**usual(), "temperature": 0.0, "top_p": 1.0},
                        source=f"small model ({_size(n_params)} parameters): greedy")
    return Sampling(**usual(), source="app default")


def _merged(found: dict, source: str, n_params: int | None) -> Sampling:
    base = fallback(n_params)
    values = {f: getattr(base, f) for f in HF_KEYS.values()}
    values.update(found)
    return Sampling(**values, source=source)


def from_generation_config(cfg: dict, n_params: int | None) -> Sampling:
    """transformers' generation_config.json: do_sample false is greedy whatever temperature says."""
    found = {field: float(cfg[key]) if field != "top_k" else int(cfg[key])
             for key, field in HF_KEYS.items() if isinstance(cfg.get(key), (int, float))}
    if cfg.get("do_sample") is False:
        found["temperature"] = 0.0
    if not found:
        return fallback(n_params)
    return _merged(found, "generation_config.json", n_params)


def from_gguf(meta: dict, n_params: int | None) -> Sampling:
    found = {field: float(meta[key]) if field != "top_k" else int(meta[key])
             for key, field in GGUF_KEYS.items() if isinstance(meta.get(key), (int, float))}
    if not found:
        return fallback(n_params)
    return _merged(found, "GGUF metadata", n_params)
