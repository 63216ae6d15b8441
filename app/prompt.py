"""What the model reads: a chat's stored branch made into engine.api Messages. The one place a
prompt is built: text and images in order, regions (a typed `[x1, y1, x2, y2]`, an answer's own
boxes, a `[k]` the user writes), a document's best passages, the user's system prompt, and the turn
shapes chat templates accept. How the page shows the same messages is chat_view.py's job."""
from __future__ import annotations

import re

from PIL import Image as PILImage

from engine.api import Image, Message, Region, Text
from engine.documents import Document, Passage, build_messages
from engine.grounding.geometry import NO_BOX, clip_box

from .blobs import BlobStore
from .store import StoredMessage

ROLES = ("system", "user", "assistant")
HISTORY_TURNS = 2    # earlier questions and answers about a document kept in its prompt

NUM = r"\s*(-?\d+(?:\.\d+)?)\s*"
TYPED_BOX = re.compile(r"\[" + ",".join([NUM] * 4) + r"\]")
REF = re.compile(r"\[(\d+)\]")


# ---- the two prompts --------------------------------------------------------------------------
def chat_messages(branch: list[StoredMessage], blobs: BlobStore, system: str) -> tuple[list[Message], list[str]]:
    """The conversation as the model reads it, and the notes about the last question's typed
    regions (clipped, or left as text) for the user."""
    messages, notes = to_engine(branch, blobs)
    return with_system(one_turn_each(messages), system), notes


def document_messages(doc: Document, passages: list[Passage], talk: list[StoredMessage], system: str,
                      can_see: bool) -> list[Message]:
    """A question about a document (the last of `talk`): its best passages (with their page
    images only for a model that sees) with the last turns about it between the document prompt
    and the question."""
    doc_system, question = build_messages(doc, passages, talk[-1].text, can_see)
    turns = [Message(m.role, [Text(m.text)]) for m in talk[:-1] if m.text][-2 * HISTORY_TURNS:]
    return with_system(one_turn_each([doc_system, *turns, question]), system)


def latest_document(branch) -> tuple[dict | None, list]:
    """The last document dropped in the branch, and the talk about it: the messages after it, and
    the one that brought it when a question came with it."""
    for i in range(len(branch) - 1, -1, -1):
        ref = branch[i].meta.get("document")
        if ref:
            return ref, branch[i if branch[i].text.strip() else i + 1:]
    return None, []


def images_of(branch: list[StoredMessage]) -> list[str]:
    """Blob names of the branch's images in the order the model sees them: a Box's image_index
    counts in this list."""
    return [b for m in branch if m.role in ROLES for b in m.blobs]


# ---- the conversation -------------------------------------------------------------------------
def to_engine(branch: list[StoredMessage], blobs: BlobStore) -> tuple[list[Message], list[str]]:
    """The conversation the model sees, and notes about typed regions. Images are numbered by
    their order here, which is the image_index of the Box events the model sends back; a typed
    [x1, y1, x2, y2] becomes a Region on the last image at or before its message, and an answer's
    [k] the Region of its box k (so the model reads its own boxes back, not "[k]"); a [k] the
    user writes is box k of the answer before it ("what colour is [0]?")."""
    out, notes, n_images, last, boxes = [], [], 0, None, []
    for m in branch:
        if m.role not in ROLES or (m.role == "assistant" and not m.text):
            continue
        parts = [Image(str(blobs.path(b))) for b in m.blobs]
        n_images += len(m.blobs)
        last = m.blobs[-1] if m.blobs else last
        if m.role == "user" and last is not None:
            text_parts, notes = split_regions(m.text, n_images - 1, image_size(blobs.path(last)))
            text_parts = referred_regions(text_parts, boxes, n_images)
        elif m.role == "assistant":  # the model's boxes (and points into nothing), as it gave them
            text_parts = answer_regions(m.text, m.meta.get("boxes", []), n_images, m.meta.get("nulls", ()))
        else:
            text_parts = [Text(m.text)]
        out.append(Message(m.role, parts + text_parts))
        if m.role == "assistant":
            boxes = m.meta.get("boxes", [])
    return out, notes  # the notes of the last message: the one being sent


def one_turn_each(messages: list[Message]) -> list[Message]:
    """Questions in a row (the answer between them failed or was stopped before any text) become
    one user turn: many chat templates (Llama 2, Mistral, Gemma) refuse two user turns in a row."""
    out: list[Message] = []
    for m in messages:
        if out and m.role == "user" and out[-1].role == "user":
            out[-1] = Message("user", [*out[-1].parts, Text("\n\n"), *m.parts])
        else:
            out.append(m)
    return out


def with_system(messages: list[Message], system: str) -> list[Message]:
    """The user's system prompt before everything; merged into a system message already there
    (a document prompt's), since chat templates take one system message, first."""
    if not system.strip():
        return messages
    if messages and messages[0].role == "system":
        return [Message("system", [Text(system.strip() + "\n\n"), *messages[0].parts]), *messages[1:]]
    return [Message("system", [Text(system.strip())]), *messages]


# ---- regions in the text ----------------------------------------------------------------------
def image_size(path) -> tuple[int, int]:
    with PILImage.open(path) as img:  # the header only
        return img.size


def to_normalized(values: tuple[float, ...], size: tuple[int, int]) -> tuple[float, ...]:
    """All four at most 1: already normalized; otherwise pixels of the image."""
    if all(abs(v) <= 1.0 for v in values):
        return values
    w, h = size
    return values[0] / w, values[1] / h, values[2] / w, values[3] / h


def split_regions(text: str, image_index: int | None, size: tuple[int, int] | None) -> tuple[list, list[str]]:
    """Message text -> Text and Region parts, and notes about boxes clipped or left as text. A
    typed box refers to the last image sent at or before its message; one that reaches outside
    it is clipped, one that cannot be a box stays text."""
    if image_index is None or not TYPED_BOX.search(text):
        return [Text(text)], []
    spans, notes = [], []
    for m in TYPED_BOX.finditer(text):
        box, note = clip_box(to_normalized(tuple(float(g) for g in m.groups()), size))
        if note:
            notes.append(f"Region {m.group(0)}: {note}" + ("; sent as plain text." if box is None else "."))
        if box is not None:
            spans.append((m.start(), m.end(), Region(image_index, box)))
    return _splice(text, spans), notes


def answer_regions(text: str, boxes: list[dict], n_images: int, nulls=()) -> list:
    """An answer's text with each box's [k] (at its stored offset) as a Region on its image, and
    each point into nothing (a box head's null, which has no [k]) as a NO_BOX Region at its offset.
    A box on an image the conversation does not have (yet), or whose [k] is not where it was
    written, stays as text."""
    marked = [(b.get("at", -1), f"[{b['ref']}]", b) for b in boxes] + [(n.get("at", -1), "", n) for n in nulls]
    spans, at = [], 0
    for start, marker, b in sorted(marked, key=lambda m: (m[0], m[1] != "")):
        if start < at or not text.startswith(marker, start) or not 0 <= b["image_index"] < n_images:
            continue
        at = start + len(marker)
        spans.append((start, at, _box_region(b) if marker else Region(b["image_index"], NO_BOX)))
    return _splice(text, spans) or [Text(text)]


def referred_regions(parts: list, boxes: list[dict], n_images: int) -> list:
    """Text parts with each [k] that names a box of the answer before (`boxes`, as stored) made
    that box's Region; any other [k] stays as text."""
    by_ref = {b["ref"]: b for b in boxes if 0 <= b["image_index"] < n_images}
    if not by_ref:
        return parts
    out = []
    for part in parts:
        if not isinstance(part, Text):
            out.append(part)
            continue
        out += _splice(part.text, [(m.start(), m.end(), _box_region(by_ref[int(m.group(1))]))
                                   for m in REF.finditer(part.text) if int(m.group(1)) in by_ref])
    return out


def _splice(text: str, spans) -> list:
    """`text` as Text parts with each (start, end, Region) span, in order, put in its place."""
    parts, at = [], 0
    for start, end, region in spans:
        if text[at:start]:
            parts.append(Text(text[at:start]))
        parts.append(region)
        at = end
    if text[at:]:
        parts.append(Text(text[at:]))
    return parts


def _box_region(b: dict) -> Region:
    """A stored box (an answer's meta["boxes"] item) as the Region it marks."""
    return Region(b["image_index"], (b["x1"], b["y1"], b["x2"], b["y2"]))
