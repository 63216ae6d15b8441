"""The seam between the app and every backend: plain dataclasses, no torch, no gradio."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Iterator, Protocol, Union


# ---- message parts -------------------------------------------------------------------------
@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Image:
    """An image as a file path or raw encoded bytes (PNG, JPEG, ...)."""
    source: Union[str, bytes]


@dataclass(frozen=True)
class Region:
    """A box on one of the conversation's images, normalized 0..1 to the original image. In a
    user message, a region the user points at; in an assistant message, a box the model gave
    (its answer's [k]), sent back as the model wrote it (box text, or <at> + box embedding)."""
    image_index: int
    box: tuple[float, float, float, float]


Part = Union[Text, Image, Region]


@dataclass
class Message:
    role: str  # "system" | "user" | "assistant"
    parts: list[Part]

    @classmethod
    def user(cls, text: str, images: tuple | list = ()) -> "Message":
        return cls("user", [Image(i) for i in images] + [Text(text)])

    @classmethod
    def system(cls, text: str) -> "Message":
        return cls("system", [Text(text)])

    @classmethod
    def assistant(cls, text: str) -> "Message":
        return cls("assistant", [Text(text)])

    @property
    def text(self) -> str:
        return "".join(p.text for p in self.parts if isinstance(p, Text))

    @property
    def images(self) -> list[Image]:
        return [p for p in self.parts if isinstance(p, Image)]


@dataclass
class GenParams:
    max_new_tokens: int = 512
    temperature: float = 0.7  # 0 means greedy
    top_p: float = 0.95
    top_k: int = 0  # 0 means off
    repetition_penalty: float = 1.1  # as Ollama: small models loop without it (1.0 = off)
    seed: int | None = None
    stop: tuple[str, ...] = ()
    logit_bias: dict = field(default_factory=dict)  # token id -> added logit (OpenAI's parameter)


@dataclass(frozen=True)
class Sampling:
    """The sampling a model asks for by default, and where that came from (shown on the page)."""
    temperature: float
    top_p: float
    top_k: int
    repetition_penalty: float
    source: str  # "generation_config.json", "GGUF metadata", "small model (135M parameters): greedy", ...


# ---- events a stream yields ----------------------------------------------------------------
@dataclass(frozen=True)
class Token:
    text: str


@dataclass(frozen=True)
class Box:
    """A region the answer refers to as [ref], normalized 0..1 to the ORIGINAL image."""
    ref: int
    image_index: int
    x1: float
    y1: float
    x2: float
    y2: float


@dataclass(frozen=True)
class NoBox:
    """The box head pointed into nothing (a pointer's null: a count's "no more"). Nothing is drawn
    and no [ref] written, but the answer sent back with the next turn holds it where it came, as
    the model read it while answering (a Region with geometry.NO_BOX)."""
    image_index: int


@dataclass(frozen=True)
class Stats:
    prefill_ms: float
    decode_tokens_per_s: float
    prompt_tokens: int = 0
    generated_tokens: int = 0
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Done:
    reason: str  # "stop" | "length" | "cancelled" | "error"
    error: str | None = None
    notes: tuple[str, ...] = ()  # for the user: boxes of the answer clipped or dropped, and why


Event = Union[Token, Box, NoBox, Stats, Done]


@dataclass
class EngineInfo:
    name: str
    backend: str
    device: str = "cpu"
    dtype: str = "float32"
    quantization: str | None = None
    attention: str | None = None
    vision: bool = False
    grounding: bool = False
    context_length: int = 0
    notes: list[str] = field(default_factory=list)
    sees: str = ""  # what a model that sees was trained on, when that is narrow (the own model)
    reads_pages: bool = True  # a document's page images help it (not a model that knows only scenes)
    sampling: Sampling | None = None  # the model's own defaults; None: the server decides (remote)


# The load option max_tiles (LLaVA-NeXT): a cap on how many high-resolution tiles an image is cut
# into, by name: the most tiles a grid may have, None for any, 0 for the base view only.
MAX_TILES = {"all": None, "4": 4, "2": 2, "base": 0}


class EngineError(Exception):
    """An error meant to be shown to the user as it is: says what went wrong and what to do."""


class Engine(Protocol):
    info: EngineInfo

    def stream(self, messages: list[Message], params: GenParams,
               cancel: threading.Event | None = None) -> Iterator[Event]: ...

    def close(self) -> None: ...


def collect(events) -> tuple[str, list]:
    """Join a stream into (text, other events): handy for the CLI and tests."""
    text, rest = [], []
    for ev in events:
        (text.append(ev.text) if isinstance(ev, Token) else rest.append(ev))
    return "".join(text), rest
