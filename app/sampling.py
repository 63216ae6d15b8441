"""Sampling on the page: the model's own defaults (EngineInfo.sampling: its generation_config.json,
its GGUF's metadata, or greedy for a small model) unless the user moves a slider; the user's choice
is kept per chat (Store: chats.sampling) and wins whenever that chat answers."""
from __future__ import annotations

import dataclasses

from engine.api import EngineInfo, GenParams, Sampling
from engine.sampling_defaults import usual

FIELDS = ("temperature", "top_p", "repetition_penalty")  # the panel's sliders, beside max tokens


def of_model(info: EngineInfo | None) -> Sampling:
    """What a model asks for; the usual defaults where it cannot say (a server, nothing loaded)."""
    if info is not None and info.sampling is not None:
        return info.sampling
    return Sampling(**usual(), source="app default" if info is None else "app default (the server may differ)")


def in_use_line(chosen: dict | None, info: EngineInfo | None) -> str:
    """The values an answer of this chat uses now, and where they come from (Markdown)."""
    s, values = of_model(info), _values(chosen, info)
    where = "your choice for this chat" if chosen else f"{s.source}, for {info.name}" if info else s.source
    temp = values["temperature"]
    said = f"temperature {temp:g}" + (" (greedy)" if temp <= 0 else "")
    return (f"In use: {said}, top-p {values['top_p']:g}, repetition penalty "
            f"{values['repetition_penalty']:g}. From: {where}.")


def _values(chosen: dict | None, info: EngineInfo | None) -> dict:
    """The model's values with the chat's own choices over them."""
    return {**dataclasses.asdict(of_model(info)), **(chosen or {})}


def slider_values(chosen: dict | None, info: EngineInfo | None) -> tuple[float, float, float]:
    values = _values(chosen, info)
    return tuple(float(values[f]) for f in FIELDS)


def params(use_model: bool, temperature, top_p, max_tokens, repeat_penalty=None):
    """GenParams from the sliders, or, when the model's settings are in use, a function of the
    model's info that the answer calls once the model is loaded (it may still be loading now)."""
    kw = {} if repeat_penalty is None else {"repetition_penalty": float(repeat_penalty)}
    given = GenParams(max_new_tokens=int(max_tokens), temperature=float(temperature), top_p=float(top_p), **kw)
    if not use_model:
        return given

    def from_model(info: EngineInfo) -> GenParams:
        s = of_model(info)
        return dataclasses.replace(given, temperature=s.temperature, top_p=s.top_p, top_k=s.top_k,
                                   repetition_penalty=s.repetition_penalty)
    return from_model


def chosen(p) -> dict:
    """What a chat keeps of an answer's params: {} while it follows the model, else the user's values."""
    return {} if callable(p) else {f: getattr(p, f) for f in FIELDS}


def greedy(p):
    """A function of the model's info (its own sampling, the user chose none) made greedy: a
    document answer from a small model sampled at 0.7 wanders off the passages it was given."""
    return lambda info: dataclasses.replace(p(info), temperature=0.0)
