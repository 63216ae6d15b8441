"""One read of a chat per page refresh: its row and all its messages, read together
(Store.snapshot), and what the page shows derived from them in memory: the branch on screen, the
branches to pick from, its images, the last answer's boxes and cited pages."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from .prompt import images_of
from .store import Chat, StoredMessage

SHOWN_ROLES = ("user", "assistant")


@dataclass
class ChatSnapshot:
    chat: Chat | None = None
    messages: list[StoredMessage] = field(default_factory=list)  # all of the chat's, oldest first

    def branch(self, head: int | None = None) -> list[StoredMessage]:
        """Messages from the root to `head` (default: the chat's head)."""
        if head is None:
            head = self.chat.head if self.chat else None
        by_id = {m.id: m for m in self.messages}
        path = []
        while head is not None and head in by_id:
            path.append(by_id[head])
            head = by_id[head].parent_id
        return path[::-1]

    @cached_property
    def shown(self) -> list[StoredMessage]:
        """The branch as the chat shows it: one row per user or assistant message."""
        return [m for m in self.branch() if m.role in SHOWN_ROLES]

    @cached_property
    def images(self) -> list[str]:
        return images_of(self.shown)

    @cached_property
    def leaves(self) -> list[StoredMessage]:
        """The last message of every branch, oldest first."""
        parents = {m.parent_id for m in self.messages}
        return [m for m in self.messages if m.id not in parents]

    def last(self, role: str) -> StoredMessage | None:
        return next((m for m in reversed(self.shown) if m.role == role), None)

    @property
    def last_boxes(self) -> list[dict]:
        answer = self.last("assistant")
        return answer.meta.get("boxes", []) if answer else []

    @property
    def last_pages(self) -> list[dict]:
        """The pages the last answer cites, when it was answered from a document."""
        answer = self.last("assistant")
        return answer.meta.get("figures", []) if answer and answer.meta.get("doc") else []

    def branch_choices(self) -> tuple[list[tuple[str, int]], int | None]:
        """Every branch's last message, labelled by its question and the start of its answer
        (regenerated answers share the question), and the one shown now."""
        if self.chat is None:
            return [], None
        choices = []
        for i, leaf in enumerate(self.leaves):
            q = next((m for m in reversed(self.branch(leaf.id)) if m.role == "user"), leaf)
            label = f"{i + 1}. {_start(q.text, 40)}"
            if leaf.role == "assistant":
                label += f" → {_start(leaf.text, 30) or '(no answer)'}"
            choices.append((label, leaf.id))
        return choices, self.chat.head

    def image_choices(self) -> tuple[list[tuple[str, int]], int | None]:
        """The branch's images, then the pages the last answer cites; the one picked is the first
        cited page, else the image of the last answer's first box, else the last image."""
        images, pages = self.images, self.last_pages
        choices = [(f"image {i + 1}", i) for i in range(len(images))]
        choices += [(f["label"], len(images) + j) for j, f in enumerate(pages)]
        if not choices:
            return [], None
        boxes = self.last_boxes
        if pages:
            pick = len(images)
        elif boxes and boxes[0]["image_index"] < len(images):
            pick = boxes[0]["image_index"]
        else:
            pick = len(images) - 1
        return choices, pick


def _start(text: str, n: int) -> str:
    """The first n characters of text on one line, with … when cut."""
    line = " ".join(text.split())
    return line if len(line) <= n else line[:n - 1].rstrip() + "…"
