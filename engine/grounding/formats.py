"""The box text of other models: one entry per format, a table, not a tangle of ifs.

Each entry says what one piece of box markup looks like (a regex that ends on a closing
delimiter, so a complete match is final while streaming), how to read boxes out of it (normalized
to the model's input, x1 y1 x2 y2), which tags around it are only decoration to be removed, and
how the model family shows an image (see geometry.py).
Samples of each model's real output are in tests/grounding/box_samples.py.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Callable

from .geometry import BoxT, Frame

NUM = r"-?\d+(?:\.\d+)?"


@dataclass(frozen=True)
class BoxFormat:
    name: str
    unit: str                                   # regex: one piece of markup holding >= 1 box
    read: Callable[[str, Frame], list[BoxT]]     # markup -> boxes normalized to the model input
    write: Callable[[BoxT, Frame], str]          # one box normalized to the model input -> markup
    drop: str = ""                              # regex: tags removed from the text
    drop_auto: str = ""                         # the subset of `drop` safe before the format is known
    geometry: str = "stretch"
    label: Callable[[str], str] | None = None   # text kept in place of the markup, before "[k]"
    after: str = ""                             # text after "[k]" (Florence glues labels to boxes)
    in_auto: bool = True                        # read under "auto" (False: its markup is another's)


def _numbers(text: str, pattern: str = NUM) -> list[float]:
    return [float(v) for v in re.findall(pattern, text)]


def _quads(values: list[float], scale: float, order=(0, 1, 2, 3)) -> list[BoxT]:
    out = []
    for i in range(0, len(values) - len(values) % 4, 4):
        q = values[i:i + 4]
        out.append(tuple(q[j] / scale for j in order))
    return out


def _read_kosmos(text: str, frame: Frame, grid: int = 32) -> list[BoxT]:
    """Kosmos-2: pairs of patch indices on a 32x32 grid, upper-left and lower-right cells.
    Corners sit at cell centres, unless the two cells share a row or column (then cell edges),
    as in the Kosmos-2 demo's decode_string.py."""
    idx = [int(v) for v in re.findall(r"<patch_index_(\d+)>", text)]
    cell, out = 1.0 / grid, []
    for ul, lr in zip(idx[0::2], idx[1::2]):
        ux, uy, lx, ly = ul % grid, ul // grid, lr % grid, lr // grid
        if ux == lx or uy == ly:
            out.append((ux * cell, uy * cell, (lx + 1) * cell, (ly + 1) * cell))
        else:
            out.append(((ux + .5) * cell, (uy + .5) * cell, (lx + .5) * cell, (ly + .5) * cell))
    return out


def _ints(box: BoxT, scale: int, top: int | None = None, rnd=round) -> list[int]:
    """Coordinates 0..1 -> integers 0..top (default scale), as the format's model writes them."""
    top = scale if top is None else top
    return [min(max(int(rnd(min(max(v, 0.0), 1.0) * scale)), 0), top) for v in box]


def _write_kosmos(box: BoxT, frame: Frame, grid: int = 32) -> str:
    """The cells holding the upper-left and lower-right corners, as transformers' Kosmos-2
    processor (coordinate_to_patch_index) makes them."""
    x1, y1, x2, y2 = (min(max(v, 0.0), 1.0) for v in box)
    cell = lambda v, f: min(max(f(v), 0), grid - 1)
    ul = cell(y1 * grid, math.floor) * grid + cell(x1 * grid, math.floor)
    lr = cell(y2 * grid - 1, math.ceil) * grid + cell(x2 * grid - 1, math.ceil)
    return f"<object><patch_index_{ul:04d}><patch_index_{lr:04d}></object>"


def _write_qwen25(box: BoxT, frame: Frame) -> str:
    w, h = frame.model_size
    x1, y1, x2, y2 = (min(max(v, 0.0), 1.0) for v in box)
    return json.dumps({"bbox_2d": [round(x1 * w), round(y1 * h), round(x2 * w), round(y2 * h)]})


def _bbox_2d(text: str) -> list[float]:
    m = re.search(r'"bbox_2d"\s*:\s*\[([^\]]*)\]', text)
    vals = _numbers(m.group(1)) if m else []
    return vals if len(vals) == 4 else []


def _read_qwen25(text: str, frame: Frame) -> list[BoxT]:
    return [frame.pixels_to_input(b) for b in _quads(_bbox_2d(text), 1.0)]


def _json_label(text: str) -> str:
    m = re.search(r'"label"\s*:\s*("(?:[^"\\]|\\.)*")', text)
    try:
        return json.loads(m.group(1)) + " " if m else ""
    except ValueError:
        return ""


_PAIR = r'"\w+"\s*:\s*(?:"(?:[^"\\]|\\.)*"|' + NUM + r")"
_NUMS4 = rf"\s*{NUM}\s*,\s*{NUM}\s*,\s*{NUM}\s*,\s*{NUM}\s*"
_SHIKRA_BOX = r"\d(?:\.\d*)?(?:,\d(?:\.\d*)?){3}"
_BBOX_2D = rf"\{{\s*(?:{_PAIR}\s*,\s*)*\"bbox_2d\"\s*:\s*\[{_NUMS4}\]\s*(?:,\s*{_PAIR}\s*)*\}}"

FORMATS: dict[str, BoxFormat] = {f.name: f for f in [
    # Qwen-VL: <ref>dog</ref><box>(x1,y1),(x2,y2)</box>, integers 0..1000
    BoxFormat("qwen_vl", rf"<box>\(\s*{NUM}\s*,\s*{NUM}\s*\)\s*,\s*\(\s*{NUM}\s*,\s*{NUM}\s*\)</box>",
              lambda t, f: _quads(_numbers(t), 1000.0),
              write=lambda b, f: "<box>({},{}),({},{})</box>".format(*_ints(b, 1000)),
              drop=r"</?ref>", drop_auto=r"</?ref>"),
    # Qwen2-VL: the same with special tokens
    BoxFormat("qwen2_vl", rf"<\|box_start\|>\(\s*{NUM}\s*,\s*{NUM}\s*\)\s*,\s*\(\s*{NUM}\s*,\s*{NUM}\s*\)<\|box_end\|>",
              lambda t, f: _quads(_numbers(t), 1000.0),
              write=lambda b, f: "<|box_start|>({},{}),({},{})<|box_end|>".format(*_ints(b, 1000)),
              drop=r"<\|object_ref_(?:start|end)\|>", drop_auto=r"<\|object_ref_(?:start|end)\|>"),
    # Qwen2.5-VL: {"bbox_2d": [x1, y1, x2, y2], "label": "dog"} in pixels of the resized input
    BoxFormat("qwen2_5_vl", _BBOX_2D, _read_qwen25, write=_write_qwen25, geometry="resize", label=_json_label),
    # Qwen3-VL: the same JSON, but 0..1000 relative to the image, whatever its size; "auto" cannot
    # tell it from Qwen2.5-VL's pixels, so it is used only when named (from the model or by the user)
    BoxFormat("qwen3_vl", _BBOX_2D, lambda t, f: _quads(_bbox_2d(t), 1000.0),
              write=lambda b, f: json.dumps({"bbox_2d": _ints(b, 1000)}), label=_json_label, in_auto=False),
    # Kosmos-2: <phrase>a dog</phrase><object><patch_index_0044><patch_index_0863></object>
    BoxFormat("kosmos2", r"<object>(?:\s*<patch_index_\d+>\s*<patch_index_\d+>\s*(?:</delimiter_of_multi_objects/>)?)+\s*</object>",
              _read_kosmos, write=_write_kosmos, drop=r"</?phrase>|<grounding>", drop_auto=r"</?phrase>|<grounding>"),
    # Florence-2: car<loc_53><loc_334><loc_933><loc_775>, 1000 bins, a box at bin centres
    BoxFormat("florence2", r"(?:<loc_\d+>){4}",
              lambda t, f: [tuple((v + .5) / 1000 for v in b) for b in _quads(_numbers(t, r"\d+"), 1.0)],
              write=lambda b, f: "".join(f"<loc_{v}>" for v in _ints(b, 1000, 999, math.floor)),
              drop=r"</s>|<s>|<pad>|<[A-Z][A-Z_]*>", drop_auto=r"</s>|<s>|<pad>", after=" "),
    # PaliGemma: <loc0000><loc0000><loc0930><loc1012> wall ; ...  y1 x1 y2 x2 over 1024
    BoxFormat("paligemma", r"(?:<loc\d{4}>){4}",
              lambda t, f: _quads(_numbers(t, r"\d+"), 1024.0, order=(1, 0, 3, 2)),
              write=lambda b, f: "".join(f"<loc{v:04d}>" for v in _ints((b[1], b[0], b[3], b[2]), 1024, 1023)),
              drop=r"<seg\d{3}>", drop_auto=r"<seg\d{3}>"),
    # Shikra: [0.102,0.100,0.546,0.986] or several joined by ';', 0..1
    BoxFormat("shikra", rf"\[\s*{_SHIKRA_BOX}(?:\s*;\s*{_SHIKRA_BOX})*\s*\]",
              lambda t, f: _quads(_numbers(t), 1.0),
              write=lambda b, f: "[" + ",".join(f"{min(max(v, 0.0), 1.0):.3f}" for v in b) + "]", geometry="pad"),
    # MiniGPT-v2: <p>sofas</p> {<57><49><70><72>}<delim>{<26><48><43><71>}, 0..100
    BoxFormat("minigpt_v2", r"\{<\d+><\d+><\d+><\d+>\}",
              lambda t, f: _quads(_numbers(t, r"\d+"), 100.0),
              write=lambda b, f: "{{<{}><{}><{}><{}>}}".format(*_ints(b, 100)), drop=r"</?p>|<delim>",
              drop_auto=r"<p>(?=[^<>{}]{0,200}</p>\s*\{<\d)|</p>(?=\s*\{<\d)"),
]}

# model_type / architecture / name fragments -> format, first match wins (more specific first)
MODEL_HINTS = [("qwen3_vl", "qwen3_vl"), ("qwen3-vl", "qwen3_vl"), ("qwen3vl", "qwen3_vl"),
               ("qwen3 vl", "qwen3_vl"), ("qwen2_5_vl", "qwen2_5_vl"), ("qwen2.5-vl", "qwen2_5_vl"),
               ("qwen2.5 vl", "qwen2_5_vl"), ("qwen2_vl", "qwen2_vl"), ("qwen2-vl", "qwen2_vl"),
               ("qwen-vl", "qwen_vl"), ("qwen_vl", "qwen_vl"), ("qwenvl", "qwen_vl"), ("kosmos", "kosmos2"),
               ("florence", "florence2"), ("paligemma", "paligemma"), ("shikra", "shikra"),
               ("minigpt", "minigpt_v2")]


# What a user may pick (--box-format): a format by name, or "auto" to read any of them.
CHOICES = ["auto", *FORMATS]


def load_format(asked: str | None, config: dict | None, name: str) -> str:
    """The box format a backend loads with: the one asked for (--box-format), else the model's own,
    from its config.json, else from its name."""
    return asked or format_for_model(config or name)


def format_for_model(config: dict | str | None) -> str:
    """The box format of a checkpoint, from its config.json (model_type, architectures, name) or a
    name; "auto" when unknown."""
    if isinstance(config, dict):
        keys = [config.get("model_type", ""), config.get("_name_or_path", ""),
                *config.get("architectures", []), str(config.get("box_format", ""))]
        if config.get("box_format") in FORMATS:
            return config["box_format"]
        text = " ".join(str(k) for k in keys).lower()
    else:
        text = (config or "").lower()
    return next((fmt for hint, fmt in MODEL_HINTS if hint in text), "auto")
