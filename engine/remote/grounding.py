"""Hook: box text from a remote model goes through the same parsers as a local model's.

engine/grounding/ (written elsewhere) owns the parser table. Until it lands this returns None and
the remote engine yields no Box events. Expected there:
    parse_boxes(text: str, image_sizes: list[(w, h)], model: str) -> list[engine.api.Box]
"""
from __future__ import annotations

from typing import Callable

from ..api import Box

BoxParser = Callable[[str, list[tuple[int, int]]], list[Box]]


def box_parser_for(model_name: str) -> BoxParser | None:
    try:
        from ..grounding import parse_boxes
    except ImportError:
        return None
    return lambda text, sizes: parse_boxes(text, sizes, model=model_name)
