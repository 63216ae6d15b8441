"""What the page's buttons do, without any layout: the store, the model slot and the answers in
progress, behind plain methods that ui.py wires to Gradio events."""
from __future__ import annotations

import dataclasses
import logging
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image as PILImage

from engine.api import EngineError, GenParams, Message
from engine.documents import as_shown
from engine.documents.prompt import NOT_FOUND, shows_pages

from .answer import Answer
from .attachments import Limits, check_files
from .blobs import BlobStore
from .chat_view import notices, to_chatbot
from .documents import Documents
from .draw import draw_boxes
from .export import chat_markdown, file_name
from .figures import box_figures, render, with_drawn
from .model_slot import ModelSlot, ModelSpec
from .prompt import answer_regions, chat_messages, document_messages, images_of, latest_document
from .sampling import chosen, greedy
from .snapshot import ChatSnapshot
from .store import Store, StoredMessage

PAGES_REFUSED = ("The server did not take the document's page images (a text-only model?): its passages "
                 "were sent as text, and will be from now on.")

log = logging.getLogger(__name__)
CARD = re.compile(r"c(\d+)-(\d+)")   # a citation card, as a click on it names it

UNDO_KEPT_SECONDS = 600  # a deleted chat stays restorable this long (Undo shows for seconds)
# What an answer's meta says about its own writing; the rest (system prompt, ...) is kept on Continue.
ANSWER_META = ("boxes", "nulls", "stats", "reason", "error", "notes", "figures", "sampling")
TITLE_CHARS = 80  # a name the user gives a chat is cut here: the sidebar lists names, not paragraphs


@dataclass
class Settings:
    data_dir: Path
    model: str | None = None
    backend: str = "auto"
    attention: str = "full"
    quant: str = "none"
    served_model: str = ""
    box_format: str = ""  # "": from the model
    max_tiles: str = "all"  # a key of engine.api.MAX_TILES: LLaVA-NeXT's tiles per image
    remote_timeout: float | None = None  # seconds; None: the remote engine's default
    max_tokens: int = 512
    system_prompt: str = ""  # the page's default system prompt (a text box there)
    limits: Limits = field(default_factory=Limits)
    logit_bias: dict = field(default_factory=dict)  # token id -> bias for every answer (tests force <at>)


@dataclass
class Asked:
    """What ask ends with: the chat (new or the same), the answer started (None: none was), and
    the refused files with one problem each."""
    chat_id: int | None
    answer: Answer | None = None
    problems: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


class ChatApp:
    def __init__(self, settings: Settings):
        self.settings = settings
        d = Path(settings.data_dir)
        d.mkdir(parents=True, exist_ok=True)
        self.store = Store(d / "chats.sqlite3")
        self.blobs = BlobStore(d / "blobs")
        self.docs = Documents(d / "docindex", self.blobs, settings.limits)
        self.models_dir = d / "models"  # shown in the Model panel: made now, so it can be opened
        self.models_dir.mkdir(exist_ok=True)
        self.slot = ModelSlot(d, settings.remote_timeout)
        self.answers: dict[int, Answer] = {}  # chat id -> its answer being written
        if settings.model:
            self.load_model(ModelSpec(settings.model, settings.backend, settings.attention, settings.quant,
                                      settings.served_model, settings.box_format, settings.max_tiles))

    def load_model(self, spec: ModelSpec) -> None:
        self.slot.load(spec)

    # ---- asking ---------------------------------------------------------------------------------
    def ask(self, chat_id: int | None, text: str, files: list[str], params: GenParams,
            as_document: bool = False, owner: str | None = None, system: str = ""):
        """Store the question (reading a dropped document first) and start the answer, on behalf
        of `owner` (a page session). Yields (pages read, pages) while a dropped document is read
        ((0, 0) as it starts), then one Asked. Never raises: a bug while reading is a problem to
        show, so that what the user typed is not lost."""
        try:
            asked = yield from self._ask(chat_id, text, files, params, as_document, owner, system)
        except Exception as e:
            log.exception("chat %s: asking failed", chat_id)
            asked = Asked(chat_id, None, [f"Reading failed: {type(e).__name__}: {e}"], [str(f) for f in files])
        yield asked

    def _ask(self, chat_id, text, files, params, as_document, owner, system):
        checked = check_files(files, self.blobs, self.settings.limits, as_document)
        if checked.problems:
            return Asked(chat_id, None, checked.problems, checked.refused)
        meta = {"names": checked.names} if checked.blobs else {}
        if checked.documents:
            yield 0, 0
            try:
                meta["document"] = yield from self.docs.read(checked.documents)
            except EngineError as e:
                return Asked(chat_id, None, [str(e)], [str(p) for p in checked.documents])
        if not text.strip() and not checked.blobs and "document" not in meta:
            return Asked(chat_id)
        if chat_id is None or self.store.chat(chat_id) is None:
            chat_id = self.store.new_chat()
        head = self.store.chat(chat_id).head
        title = text or (meta["document"]["name"] if "document" in meta else "")
        user_id = self.store.add(chat_id, head, "user", text, checked.blobs, meta=meta, title=title)
        if not text.strip():  # a document alone: indexed, the questions come next
            return Asked(chat_id)
        return Asked(chat_id, self._answer(chat_id, user_id, params, owner, system))

    def regenerate(self, chat_id: int | None, params: GenParams, system: str = "",
                   owner: str | None = None) -> Answer | None:
        """A new answer to the last question; the old answer stays as another branch."""
        question = self.snapshot(chat_id).last("user")
        return self._answer(chat_id, question.id, params, owner, system) if question else None

    def edit(self, chat_id: int | None, index: int, text: str, params: GenParams,
             system: str = "", owner: str | None = None) -> Answer | None:
        """Replace the user message shown at `index` by a new one with the same images, and answer
        it: a new branch beside the old one, which is kept."""
        shown = self.shown(chat_id)
        if not 0 <= index < len(shown) or shown[index].role != "user":
            return None
        old = shown[index]
        new_id = self.store.add(chat_id, old.parent_id, "user", text, old.blobs, meta=old.meta)
        return self._answer(chat_id, new_id, params, owner, system)

    def _answer(self, chat_id: int, user_id: int, params: GenParams, owner: str | None = None,
                system: str = "") -> Answer | None:
        """`system`: the user's system prompt, first in what the model reads (and kept in the
        answer's meta); a document prompt's own instructions follow it. When the prompt cannot
        be made (a document whose files are gone, say), the question stays and an answer in
        error says why; None then."""
        try:
            return self._start_answer(chat_id, user_id, params, owner, system)
        except Exception as e:
            log.exception("chat %s: could not start an answer", chat_id)
            why = str(e) if isinstance(e, EngineError) else f"{type(e).__name__}: {e}"
            self.store.add(chat_id, user_id, "assistant", "", status="error",
                           meta={"error": f"Could not answer: {why}"})
            return None

    def go_on(self, chat_id: int | None, params, system: str = "", owner: str | None = None) -> Answer | None:
        """Continue the last answer where the token limit cut it: the same answer, written on."""
        cut = self.snapshot(chat_id).last("assistant")
        if cut is None or cut.meta.get("reason") != "length" or cut.status != "done":
            return None
        messages, finish, _, _ = self._prompt(chat_id, cut.parent_id, system)
        so_far = Message("assistant", answer_regions(cut.text, cut.meta.get("boxes", []),
                                                     len(images_of(self.store.branch(chat_id, cut.id))),
                                                     cut.meta.get("nulls", ())))
        if callable(messages):
            prompt = messages
            messages = lambda info: [*prompt(info), so_far]  # noqa: E731
        else:
            messages = [*messages, so_far]
        kept = {k: v for k, v in cut.meta.items() if k not in ANSWER_META}
        answer = Answer(self.store, self.slot, chat_id, cut.parent_id, messages, self._biased(params),
                        finish, kept, owner, resume=cut)
        self.answers[chat_id] = answer
        return answer

    def _biased(self, params):
        """The tests' logit bias (settings.logit_bias) in every answer's params, callable or not."""
        bias = self.settings.logit_bias
        if not bias:
            return params
        if callable(params):
            return lambda info: self._biased(params(info))
        return params if params.logit_bias else dataclasses.replace(params, logit_bias=dict(bias))

    def _start_answer(self, chat_id, user_id, params, owner, system) -> Answer:
        self.store.set_sampling(chat_id, chosen(params))  # the chat's own: the page shows it when reopened
        params = self._biased(params)
        messages, finish, extra, fallback = self._prompt(chat_id, user_id, system)
        if system.strip():
            extra["system"] = system
        self.store.set_system(chat_id, system)  # the chat's own from now on: reopened with it
        doc = extra.get("doc")
        if doc is not None and callable(params):   # following the model: a document answer is greedy
            params = greedy(params)
        answer = Answer(self.store, self.slot, chat_id, user_id, messages, params, finish, extra, owner,
                        fixed=NOT_FOUND if doc is not None and not doc["found"] else None, fallback=fallback)
        self.answers[chat_id] = answer
        return answer

    def _prompt(self, chat_id: int, user_id: int, system: str):
        """(messages, finish, extra, fallback) for an answer to the question `user_id`."""
        branch = self.store.branch(chat_id, user_id)
        ref, talk = latest_document(branch)
        if ref is not None:
            return self._document_answer(ref, talk, system)
        messages, notes = chat_messages(branch, self.blobs, system)
        if branch[-1].meta.get("notes", []) != notes:
            self.store.update(user_id, meta={**branch[-1].meta, "notes": notes})
        images = images_of(branch)
        return messages, (lambda a: {"figures": with_drawn(box_figures(a.boxes, images), self.blobs)}), {}, None

    def _document_answer(self, ref: dict, talk: list[StoredMessage], system: str = ""):
        """The question is answered from the document's best passages; the passages it draws on
        come back as citation cards and boxed on their pages."""
        question = talk[-1].text
        keys, found = self.docs.pick_passages(ref, question)
        doc = self.docs.get(ref)
        given = self.docs.passages_of(ref, keys)

        def messages(info):  # page images only for a model that sees: known once it is loaded
            return document_messages(doc, given, talk, system, shows_pages(info))

        def as_text(info):
            """A server says it sees whatever it serves; a text-only model behind it fails on the
            page images (llama.cpp: 500). Then the passages alone, and from now on for this model."""
            if not shows_pages(info):
                return None
            info.reads_pages = False
            info.notes.append(PAGES_REFUSED)
            return document_messages(doc, given, talk, system, False), PAGES_REFUSED

        def finish(answer):
            # an answer the model finished that does not draw on the passages' best line gets that line
            quote = self.docs.quote(ref, keys, question, answer.text) if found and answer.status == "done" else None
            shown = self.docs.evidence(ref, keys, question, as_shown(answer.text, quote), found)
            return {"cards": shown["cards"], "figures": with_drawn(shown["figures"], self.blobs),
                    **({"quote": {"line": quote.line, "label": quote.label, "page": quote.passage.page}}
                       if quote else {})}
        return messages, finish, {"doc": {"sha": ref["sha"], "passages": keys, "found": found}}, as_text

    def stop(self, chat_id: int | None, owner: str | None = None) -> None:
        """Stop the answer in `chat_id`, or, for a page that has no chat yet (its first answer has
        not reached it), the answers that page (`owner`, its session) started. Never anyone else's."""
        if chat_id is not None:
            targets = [self.answers.get(chat_id)]
        else:
            targets = [a for a in self.answers.values() if owner and a.owner == owner]
        for a in targets:
            if a is not None:
                a.stop()

    def answering(self, owner: str | None) -> bool:
        """Whether an answer that page (`owner`, its session) asked for is being written."""
        return owner is not None and any(a.owner == owner and not a.finished for a in list(self.answers.values()))

    def delete_chat(self, chat_id: int) -> None:
        """Stop its answer (waiting briefly, so that it has ended when Undo brings the chat back),
        then hide the chat; undelete_chat brings it back, until UNDO_KEPT_SECONDS or the next start."""
        answer = self.answers.pop(chat_id, None)
        if answer is not None:
            answer.stop()
            answer.join(timeout=10)
        self.store.purge_deleted(time.time() - UNDO_KEPT_SECONDS)
        self.store.delete_chat(chat_id)

    def undelete_chat(self, chat_id: int | None) -> bool:
        return chat_id is not None and self.store.undelete_chat(int(chat_id))

    def rename_chat(self, chat_id: int | None, title: str) -> str | None:
        """Name the chat `title` (spaces collapsed, cut to TITLE_CHARS); returns the name kept,
        or None when there is no such chat or the title is blank (the old name stays)."""
        title = " ".join((title or "").split())[:TITLE_CHARS].rstrip()
        if chat_id is None or not title or self.store.chat(chat_id) is None:
            return None
        self.store.rename_chat(chat_id, title)
        return title

    def export_chat(self, chat_id: int | None) -> Path | None:
        """The shown branch as `<title>.md` in a fresh temporary folder (Gradio serves files from
        the temp dir; a folder per export keeps two pages exporting at once apart), or None."""
        chat = self.store.chat(chat_id) if chat_id is not None else None
        if chat is None:
            return None
        path = Path(tempfile.mkdtemp(prefix="vlchat-export-")) / file_name(chat.title)
        path.write_text(chat_markdown(chat.title, self.store.branch(chat_id), self.blobs, chat.system),
                        encoding="utf-8")
        return path

    def undo(self, chat_id: int | None, index: int) -> str:
        """Delete the user message at `index` and all after it; return its text to edit again."""
        shown = self.shown(chat_id)
        if not 0 <= index < len(shown):
            return ""
        while index > 0 and shown[index].role != "user":
            index -= 1
        self.store.delete_from(shown[index].id)
        return shown[index].text

    # ---- reading: `chat` is a chat id, or the snapshot already read for this refresh ----------
    def snapshot(self, chat: int | None | ChatSnapshot) -> ChatSnapshot:
        """The chat's row and messages, read once (an empty snapshot for no chat)."""
        if isinstance(chat, ChatSnapshot):
            return chat
        return ChatSnapshot(*self.store.snapshot(chat)) if chat is not None else ChatSnapshot()

    def shown(self, chat) -> list[StoredMessage]:
        """The branch as the chat shows it: one row per user or assistant message."""
        return self.snapshot(chat).shown

    def chatbot(self, chat, live: Answer | None = None, problems=(), info=()) -> list[dict]:
        return (to_chatbot(self.shown(chat), self.blobs, live) + notices(list(problems))
                + [{"role": "assistant", "content": i} for i in info])

    def title(self, chat_id: int | None) -> str:
        chat = self.store.chat(chat_id) if chat_id is not None else None
        return chat.title if chat else ""

    def chat_sampling(self, chat_id: int | None) -> dict:
        """The user's sampling for a chat; {} when it follows the model (a new chat does)."""
        chat = self.store.chat(chat_id) if chat_id is not None else None
        return chat.sampling if chat else {}

    def system_prompt(self, chat_id: int | None) -> str:
        """The system prompt a chat's answers use; the page's default for a new chat."""
        chat = self.store.chat(chat_id) if chat_id is not None else None
        return chat.system if chat else self.settings.system_prompt

    def chat_choices(self, query: str = "") -> list[tuple[str, int]]:
        """All chats, or those whose name or messages hold `query`."""
        chats = self.store.search_chats(query.strip()) if query.strip() else self.store.chats()
        return [(c.title, c.id) for c in chats]

    def branch_choices(self, chat) -> tuple[list[tuple[str, int]], int | None]:
        return self.snapshot(chat).branch_choices()

    def show_branch(self, chat_id: int | None, leaf_id: int | None) -> None:
        if chat_id is not None and leaf_id is not None:
            msg = self.store.get(int(leaf_id))
            if msg is not None and msg.chat_id == chat_id:
                self.store.set_head(chat_id, msg.id)

    def image_choices(self, chat) -> tuple[list[tuple[str, int]], int | None]:
        return self.snapshot(chat).image_choices()

    def last_boxes(self, chat) -> list[dict]:
        return self.snapshot(chat).last_boxes

    def focus(self, chat, ref: str, current: int | None) -> tuple[int | None, object]:
        """What the boxes panel shows when the user points at `[k]` (or `[pN]`) in the last answer:
        (image picked, image drawn). Box k's image with box k emphasised; page N if the answer
        shows it; an empty ref: the current image as it was."""
        snap = self.snapshot(chat)
        ref = (ref or "").strip().strip("[]")
        if ref.isdigit():
            box = next((b for b in snap.last_boxes if b["ref"] == int(ref)), None)
            if box is not None and box["image_index"] < len(snap.images):
                return box["image_index"], self.boxed_image(snap, box["image_index"], int(ref))
        elif ref[:1] == "p" and ref[1:].isdigit():
            for j, fig in enumerate(snap.last_pages):
                if fig.get("page") == int(ref[1:]) or fig["label"].startswith(f"page {int(ref[1:])} of "):
                    return len(snap.images) + j, self.boxed_image(snap, len(snap.images) + j)
        elif CARD.fullmatch(ref):
            return current if current is None else int(current), self.card_page(snap, ref)
        current = None if current is None else int(current)
        return current, self.boxed_image(snap, current)

    def card_page(self, chat, ref: str):
        """The page of citation card `ref` ("c<answer id>-<card number>", what a click on the card
        sends) with only that passage boxed, its label in the margin; None if there is no such card."""
        msg_id, n = (int(v) for v in CARD.fullmatch(ref).groups())
        answer = next((m for m in self.snapshot(chat).messages if m.id == msg_id), None)
        card = next((c for c in (answer.meta.get("cards", []) if answer else []) if c["n"] == n), None)
        if card is None:
            return None
        return render({"image": card["image"], "boxes": [[str(n), *card["box"]]], "margin": True}, self.blobs)

    def boxed_image(self, chat, index: int | None, focus: int | None = None):
        """The chosen image (or cited page) with the last answer's boxes for it drawn on (box
        `focus` emphasised), or None."""
        snap = self.snapshot(chat)
        images, pages = snap.images, snap.last_pages
        if index is None or not 0 <= int(index) < len(images) + len(pages):
            return None
        index = int(index)
        if index >= len(images):
            return render(pages[index - len(images)], self.blobs)
        boxes = [(b["ref"], (b["x1"], b["y1"], b["x2"], b["y2"]))
                 for b in snap.last_boxes if b["image_index"] == index]
        with PILImage.open(self.blobs.path(images[index])) as img:
            return draw_boxes(img, boxes, focus)

    def plain_image(self, chat, index: int | None):
        """The chosen conversation image without boxes (to draw a region on), or None."""
        images = self.snapshot(chat).images
        if index is None or not 0 <= int(index) < len(images):
            return None
        return str(self.blobs.path(images[int(index)]))
