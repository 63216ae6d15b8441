"""Box text parsed while it streams: markup out, `[k]` and Box events in.

BoxTextStream keeps back only the shortest tail of the text that could still begin a piece of
markup (the `regex` module's partial matching answers "could this still match?"), so ordinary
text flows out token by token and a box split across any number of tokens still parses.
"""
from __future__ import annotations

import dataclasses
from typing import Iterable, Iterator, Sequence

import regex

from ..api import Box, Done, Event, Stats, Token
from .formats import FORMATS, BoxFormat
from .geometry import Frame, clip_box, tally

MAX_HOLD = 400  # a "partial match" longer than this is ordinary text after all


class BoxTextStream:
    """feed(text) -> [Token | Box, ...]; flush() at the end of the answer.

    format: a name in FORMATS, or "auto" (any format; the first box seen fixes it).
    image_sizes: (width, height) of each image of the conversation, original pixels.
    geometry: None (the format's own), "stretch" | "pad" | "resize", or one Frame per image.
    image_index: the image the boxes refer to (default: the last one, as Qwen-VL draws them).
    """

    def __init__(self, format: str = "auto", image_sizes: Sequence[tuple[int, int]] = (),
                 geometry: str | Sequence[Frame] | None = None, image_index: int | None = None,
                 start_ref: int = 0):
        if format != "auto" and format not in FORMATS:
            raise ValueError(f"unknown box format {format!r}; known: auto, {', '.join(FORMATS)}")
        self.image_sizes = list(image_sizes)
        self.geometry = geometry
        self.image_index = image_index if image_index is not None else max(len(self.image_sizes) - 1, 0)
        self.next_ref = start_ref
        self.notes: list[str] = []
        self.format: str = format
        self._buf = ""
        auto = [f for f in FORMATS.values() if f.in_auto]
        self._use(auto if format == "auto" else [FORMATS[format]], auto=format == "auto")

    # -- setup --------------------------------------------------------------------------------
    def _use(self, formats: list[BoxFormat], auto: bool) -> None:
        self._formats = {f"u{i}": f for i, f in enumerate(formats)}
        alts = [f"(?P<{g}>{f.unit})" for g, f in self._formats.items()]
        drops = [f.drop_auto if auto else f.drop for f in formats]
        drops = [d for d in drops if d]
        if drops:
            alts.append("(?P<drop>" + "|".join(drops) + ")")
        self._pattern = regex.compile("|".join(alts))

    def frame(self) -> Frame | None:
        if self.image_index >= len(self.image_sizes) and not isinstance(self.geometry, (list, tuple)):
            return None
        if isinstance(self.geometry, (list, tuple)):
            return self.geometry[self.image_index] if self.image_index < len(self.geometry) else None
        w, h = self.image_sizes[self.image_index]
        fmt = FORMATS.get(self.format)
        return Frame(w, h, self.geometry or (fmt.geometry if fmt else "stretch"))

    # -- streaming ----------------------------------------------------------------------------
    def feed(self, text: str) -> list[Token | Box]:
        self._buf += text
        out: list = []
        while self._buf:
            m = self._pattern.search(self._buf, partial=True)
            if m is None or (m.partial and m.start() == len(self._buf)):
                out.append(self._buf)
                self._buf = ""
            elif m.partial:
                out.append(self._buf[:m.start()])
                self._buf = self._buf[m.start():]
                if len(self._buf) <= MAX_HOLD:
                    break
                out.append(self._buf[0])      # too long to be markup: let one char go, look again
                self._buf = self._buf[1:]
            else:
                out.append(self._buf[:m.start()])
                self._buf = self._buf[m.end():]
                if m.group("drop") if "drop" in m.re.groupindex else False:
                    continue
                out.extend(self._unit(m))
        return _merge(out)

    def flush(self) -> list[Token | Box]:
        rest, self._buf = self._buf, ""
        if any(c.isdigit() for c in rest):  # a box had begun ("<b" alone is just text)
            self.notes.append(f"unfinished box markup left as text: {rest[:60]!r}")
        return _merge([rest])

    def _unit(self, m: regex.Match) -> list:
        group = next(g for g in self._formats if m.group(g) is not None)
        fmt = self._formats[group]
        if self.format == "auto":   # the first box fixes the format for the rest of the answer
            self.format = fmt.name
            self._use([fmt], auto=False)
        text = m.group(group)
        out = [fmt.label(text)] if fmt.label else []
        frame = self.frame()
        if frame is None:
            self.notes.append(f"a box was given but no image size is known for image {self.image_index}: dropped")
            return out
        try:
            boxes = fmt.read(text, frame)
        except (ValueError, ZeroDivisionError, OverflowError) as e:
            self.notes.append(f"unreadable box markup {text[:60]!r} dropped ({e})")
            return out
        for raw in boxes:
            box, note = clip_box(frame.to_original(raw))
            if note:
                self.notes.append(note)
            if box is None:
                continue
            k, self.next_ref = self.next_ref, self.next_ref + 1
            out += [Box(k, self.image_index, *box), f"[{k}]"]
        if fmt.after and len(out) > 1:
            out.append(fmt.after)
        return out


def _merge(pieces: list) -> list[Token | Box]:
    """Strings -> one Token per run of text; Box events stay where they are."""
    events, text = [], []
    for p in pieces:
        if isinstance(p, str):
            text.append(p)
            continue
        if "".join(text):
            events.append(Token("".join(text)))
        text = []
        events.append(p)
    if "".join(text):
        events.append(Token("".join(text)))
    return events


def ground_stream(events: Iterable[Event], **kwargs) -> Iterator[Event]:
    """Wrap any engine stream: Token text goes through a BoxTextStream(**kwargs), everything else
    passes as it is (the held-back tail is flushed before Stats/Done and at the end). The parser's
    notes (boxes clipped or dropped, and why) ride on Done, for the user to see."""
    parser = kwargs.pop("parser", None) or BoxTextStream(**kwargs)
    for ev in events:
        if isinstance(ev, Token):
            yield from parser.feed(ev.text)
            continue
        if isinstance(ev, (Stats, Done)):
            yield from parser.flush()
        if isinstance(ev, Done) and parser.notes:
            ev = dataclasses.replace(ev, notes=ev.notes + tally(parser.notes))
            parser.notes = []
        yield ev
    yield from parser.flush()
