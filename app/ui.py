"""The page: Gradio Blocks layout and the events that connect it to ChatApp."""
from __future__ import annotations

import os

import gradio as gr

from engine.api import GenParams
from engine.grounding.formats import CHOICES as BOX_CHOICES

from .chat_app import Asked, ChatApp
from .examples import examples
from .get_model import get_model_block
from .model_slot import ModelSpec
from .models import model_choices
from .page_style import CSS, PAGE_JS, THEME  # noqa: F401 (cli.py takes CSS and THEME from here)
from .sampling import in_use_line, params as sampling_params, slider_values
from .refs import ref_picker
from .regions import box_text, drawn_box
from .status import status_html

BACKENDS = ["auto", "torch", "gguf", "openai"]
ATTENTION = ["full", "composite"]
QUANT = ["none", "8bit", "4bit"]
# LLaVA-NeXT's tiles per image (engine.api.MAX_TILES), as the Model panel names them.
TILES = [("all the model's grids", "all"), ("at most 2x2", "4"), ("at most 2x1", "2"), ("base view only", "base")]
FROM_MODEL = "from the model"  # the box format its config or name says (engine.load's default)
BOX_FORMATS = [FROM_MODEL, *BOX_CHOICES]

EMPTY_BOX = {"text": "", "files": []}
UNDO_SECONDS = 10  # how long "Undo delete" stays on the page
# Shown under the message box while an answer of this page streams: Enter waits until it ends.
BUSY_NOTE = ("*An answer is being written: press ■ (or Stop) to end it. A message typed now waits "
             "in the box: press Enter again once the answer is done.*")


def _index(i) -> int:
    return int(i[0] if isinstance(i, (list, tuple)) else i)


def _text_of(value) -> str:
    """The text of an edited message, whatever shape Gradio sends it in."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return _text_of(value.get("text", value.get("content", "")))
    if isinstance(value, (list, tuple)):
        return "".join(_text_of(v) for v in value if isinstance(v, (str, dict)) and not
                       (isinstance(v, dict) and ("path" in v or "file" in v)))
    return ""


def _reading(files, i: int, n: int) -> str:
    """The line shown while a document is read, with a bar once the page count is known."""
    names = ", ".join(os.path.basename(str(f)) for f in files) or "the document"
    if not n:
        return f"📄 Reading {names} …"
    return (f"📄 Reading {names}: page {i} of {n} …\n\n"
            f"<progress max='{n}' value='{i}'>{i} of {n}</progress>")


def add_region(editor, message):
    """The box around what was drawn in the region editor, added to the message as text."""
    message = message or EMPTY_BOX
    background = (editor or {}).get("background")
    box = drawn_box((editor or {}).get("layers"), background.size) if background is not None else None
    if box is None:
        gr.Warning("Pick an image, press 'Draw on it', and draw over the part you mean first.")
        return gr.skip()
    text = (message.get("text") or "").rstrip()
    return {"text": f"{text} {box_text(box)}".strip(), "files": list(message.get("files") or [])}


def build(app: ChatApp, extra_models: list[str] = ()) -> gr.Blocks:
    s = app.settings

    def box(value=None, busy=False):
        """The message box and the note under it: while an answer of this page streams, the send
        arrow is a stop button and the note says that Enter waits (nothing typed is lost)."""
        if busy:
            kw = {} if value is None else {"value": value}
            return gr.update(submit_btn=False, stop_btn=True, **kw), gr.update(visible=True)
        if value is not None:  # a plain value, as API clients read it (leaving resets the button: idle)
            return value, gr.update(visible=False)
        return gr.update(submit_btn=True, stop_btn=False), gr.update(visible=False)

    def everything(chat_id, textbox=None):
        """Every output of an answer event, for the chat as stored now: one read of it."""
        snap = app.snapshot(chat_id)
        branches, head = snap.branch_choices()
        images, pick = snap.image_choices()
        last = snap.last("assistant")
        cut = last is not None and last.status == "done" and last.meta.get("reason") == "length"
        message, note = box(textbox)
        return (app.chatbot(snap), message, chat_id, gr.update(choices=app.chat_choices(), value=chat_id),
                gr.update(choices=branches, value=head), gr.update(choices=images, value=pick),
                app.boxed_image(snap, pick), gr.update(visible=cut), note)

    def follow(chat_id, answer, textbox=None):
        """Stream an answer into the chat, then refresh the rest of the page."""
        if answer is None:
            yield everything(chat_id, textbox)
            return
        first = True
        for a in answer.follow():
            if first:
                message, note = box(textbox, busy=True)
                yield (app.chatbot(chat_id, live=a), message, chat_id,
                       gr.update(choices=app.chat_choices(), value=chat_id), gr.skip(), gr.skip(), gr.skip(),
                       gr.update(visible=False), note)
            else:
                yield (app.chatbot(chat_id, live=a), *(gr.skip(),) * 8)
            first = False
        yield everything(chat_id)

    def owner_of(request) -> str | None:
        return request.session_hash if request else None

    def send(message, chat_id, temperature, top_p, max_tokens, as_document=False, repeat_penalty=None,
             system="", use_model=False, request: gr.Request = None):
        message = message or EMPTY_BOX
        text, files = message.get("text") or "", list(message.get("files") or [])
        params = sampling_params(use_model, temperature, top_p, max_tokens, repeat_penalty)
        for step in app.ask(chat_id, text, files, params, bool(as_document), owner_of(request), system or ""):
            if not isinstance(step, Asked):  # (page, pages) of a document being read
                yield (app.chatbot(chat_id, info=[_reading(files, *step)]), gr.skip(), chat_id,
                       *(gr.skip(),) * 6)
        if step.problems:  # refused: say why in the chat, keep what the user typed and the good files
            keep = [f for f in files if str(f) not in step.refused]
            message, note = box({"text": text, "files": keep})
            yield (app.chatbot(step.chat_id, problems=step.problems), message, step.chat_id,
                   *(gr.skip(),) * 5, note)
            return
        yield from follow(step.chat_id, step.answer, EMPTY_BOX)

    def ask_example(index, chat_id, top_p, max_tokens, repeat_penalty=None, system="", request: gr.Request = None):
        """An example scene and its question, sent as the user would, with the model's own sampling
        (greedy for the small own model)."""
        image, question = shown_examples[int(index)]
        yield from send({"text": question, "files": [image]}, chat_id, 0.0, top_p, max_tokens, False,
                        repeat_penalty, system, True, request)

    def regenerate(chat_id, temperature, top_p, max_tokens, repeat_penalty=None, system="", use_model=False,
                   request: gr.Request = None):
        params = sampling_params(use_model, temperature, top_p, max_tokens, repeat_penalty)
        yield from follow(chat_id, app.regenerate(chat_id, params, system or "", owner_of(request)))

    def go_on(chat_id, temperature, top_p, max_tokens, repeat_penalty=None, system="", use_model=False,
              request: gr.Request = None):
        """Continue: the answer cut at the token limit goes on, in the same message."""
        params = sampling_params(use_model, temperature, top_p, max_tokens, repeat_penalty)
        yield from follow(chat_id, app.go_on(chat_id, params, system or "", owner_of(request)))

    def edit(chat_id, index, text, temperature, top_p, max_tokens, repeat_penalty=None, system="",
             use_model=False, request: gr.Request = None):
        params = sampling_params(use_model, temperature, top_p, max_tokens, repeat_penalty)
        yield from follow(chat_id, app.edit(chat_id, _index(index), _text_of(text), params, system or "",
                                            owner_of(request)))

    def on_edit(chat_id, temperature, top_p, max_tokens, repeat_penalty, system, use_model, evt: gr.EditData,
                request: gr.Request = None):
        yield from edit(chat_id, evt.index, evt.value, temperature, top_p, max_tokens, repeat_penalty, system,
                        use_model, request)

    def on_undo(chat_id, evt: gr.UndoData):
        text = app.undo(chat_id, _index(evt.index))
        return everything(chat_id, {"text": text, "files": []})

    def open_chat(chat_id):
        return everything(int(chat_id) if chat_id is not None else None)

    def reopen(remembered):
        """A reload or a restart: the chat that was open in this browser, if it still exists."""
        chat = int(remembered) if isinstance(remembered, (int, float)) else None
        return everything(chat if chat is not None and app.title(chat) else None)

    def new_chat():
        return everything(None, EMPTY_BOX)

    def delete_chat(chat_id):
        """Hidden at once; Undo brings it back for UNDO_SECONDS."""
        title = app.title(chat_id)
        if not title:
            return (*everything(None), gr.skip(), gr.skip(), gr.skip())
        app.delete_chat(chat_id)
        return (*everything(None), chat_id, gr.update(visible=True, value=f"↶ Undo delete of “{title[:40]}”"),
                gr.Timer(active=True))

    def undelete(deleted):
        if not app.undelete_chat(deleted):
            return (*everything(None), None, gr.update(visible=False), gr.Timer(active=False))
        return (*everything(int(deleted)), None, gr.update(visible=False), gr.Timer(active=False))

    def stop(chat_id, request: gr.Request = None):
        app.stop(chat_id, owner_of(request))

    def pick_branch(chat_id, leaf_id):
        app.show_branch(chat_id, leaf_id)
        return everything(chat_id)

    def rename(chat_id, title):
        """Rename the open chat; a blank title is refused and the box shows the old one again."""
        if not app.title(chat_id):  # no chat open, or another page deleted it
            gr.Warning("Open a chat to rename it.")
            return gr.skip(), gr.skip()
        if app.rename_chat(chat_id, title) is None:
            gr.Warning("A chat needs a name: the old one is kept.")
        return gr.update(choices=app.chat_choices(), value=chat_id), app.title(chat_id)

    def export(chat_id):
        """The file itself, not an update (gradio_client downloads only a plain file value); an
        error when no chat is open, so that the file box is not shown empty."""
        path = app.export_chat(chat_id)
        if path is None:
            raise gr.Error("Open a chat to export it.")
        return str(path)

    def sampling_shown(chosen: dict):
        """The sampling panel for a chat: its own values, or the model's (ticked)."""
        info = app.slot.info
        t, p, r = slider_values(chosen, info)
        return not chosen, t, p, r, in_use_line(chosen, info)

    def opened(chat_id):
        """Another chat on the page: its name in the rename box, its system prompt and sampling,
        the per-message options reset, the last chat's export gone, and the browser remembers it
        (a reload or restart opens it again)."""
        return (app.title(chat_id), gr.update(value=None, visible=False), app.system_prompt(chat_id),
                False, *sampling_shown(app.chat_sampling(chat_id)), chat_id)

    def fresh():
        """+ New chat (also when no chat was open): per-message options and sampling back to the start."""
        return (False, *sampling_shown({}))

    def own_sampling(temperature, top_p, repeat_penalty):
        """A slider moved: the user's values from now on."""
        chosen = {"temperature": temperature, "top_p": top_p, "repetition_penalty": repeat_penalty}
        return False, in_use_line(chosen, app.slot.info)

    def model_sampling_ticked(use_model, temperature, top_p, repeat_penalty):
        if use_model:
            return sampling_shown({})[1:]
        return temperature, top_p, repeat_penalty, in_use_line(
            {"temperature": temperature, "top_p": top_p, "repetition_penalty": repeat_penalty}, app.slot.info)

    def find(query):
        """Chats that hold `query`, in a list of their own (the chat list stays whole)."""
        if not (query or "").strip():
            return gr.update(choices=[], value=None, visible=False)
        found = app.chat_choices(query)
        return gr.update(choices=found, value=None, visible=True,
                         label=f"Found in {len(found)} chat{'s' if len(found) != 1 else ''}")

    def models_with(path: str):
        """The model list, with `path` in it (the one loaded or typed) even when it lies elsewhere."""
        return model_choices(s.data_dir, [*extra_models, path])

    def model_box():
        """The model in use (or loading) in the model box."""
        spec = app.slot.spec
        if spec is None:
            return (gr.skip(),) * 6
        return (gr.update(value=spec.path, choices=models_with(spec.path)),
                spec.backend, spec.attention, spec.quant, spec.box_format or FROM_MODEL, spec.max_tiles)

    def page_loaded(use_model, temperature, top_p, repeat_penalty, request: gr.Request = None):
        """At once on page load: the status as it is now (no stale "Loading" from start-up), the
        model in use in the model box, and the sampling the model asks for."""
        return (status_html(app.slot, app.answering(owner_of(request))), *model_box(), app.slot.finished,
                *model_sampling_ticked(True, temperature, top_p, repeat_penalty), True)

    def tick(seen, use_model, temperature, top_p, repeat_penalty, request: gr.Request = None):
        """Every second: the status; when a load has ended since the page last looked (another
        page's load too), the model box shows the model in use (the old one after a failed load)
        and the sampling its defaults."""
        if app.slot.finished == seen:
            return (status_html(app.slot, app.answering(owner_of(request))), *(gr.skip(),) * 11)
        return after_load(use_model, temperature, top_p, repeat_penalty, request)

    def after_load(use_model, temperature, top_p, repeat_penalty, request: gr.Request = None):
        return (status_html(app.slot, app.answering(owner_of(request))), *model_box(), app.slot.finished,
                *model_sampling_ticked(use_model, temperature, top_p, repeat_penalty))

    def load_ended(use_model, temperature, top_p, repeat_penalty, request: gr.Request = None):
        """What a tick shows after a load, sent by the Load button's own event once the load has
        ended: the page that pressed Load never depends on one tick's answer getting through (a
        tick updates the box once per load, so that it never undoes what the user types)."""
        app.slot.wait()
        return after_load(use_model, temperature, top_p, repeat_penalty, request)

    def status_now() -> str:
        return status_html(app.slot)

    def load_model(path, backend, attention, quant, box_format=FROM_MODEL, max_tiles="all"):
        box_format = "" if box_format in (None, FROM_MODEL) else box_format
        app.load_model(ModelSpec((path or "").strip(), backend, attention, quant, box_format=box_format,
                                 max_tiles=max_tiles or "all"))
        return status_html(app.slot), gr.update(choices=models_with(path))

    with gr.Blocks(title="vlchat", fill_height=True) as demo:
        chat_id = gr.State(None)
        deleted_id = gr.State(None)   # the chat Undo brings back
        load_seen = gr.State(-1)      # the slot's load count this page has shown
        remembered = gr.BrowserState(None, storage_key="vlchat-open-chat", secret="vlchat-open-chat")
        with gr.Sidebar(open=True, label="Chats"):
            new_btn = gr.Button("+ New chat", variant="primary")
            search_box = gr.Textbox(label="Search chats", placeholder="Words in a name or a message",
                                    elem_id="chat-search", max_lines=1)
            found = gr.Radio(label="Found", choices=[], visible=False, elem_id="chat-found")
            chat_list = gr.Radio(label="Chats", choices=app.chat_choices(), value=None,
                                 elem_id="chat-list")
            title_box = gr.Textbox(label="Name of this chat", placeholder="Open a chat to rename it",
                                   elem_id="chat-title", max_lines=1)
            with gr.Row():
                rename_btn = gr.Button("Rename", size="sm", elem_id="rename")
                export_btn = gr.Button("Export (.md)", size="sm", elem_id="export")
            export_file = gr.File(label="Exported chat", visible=False, interactive=False,
                                  elem_id="export-file")
            delete_btn = gr.Button("Delete this chat", size="sm", variant="stop", elem_id="delete-chat")
            undo_btn = gr.Button("↶ Undo delete", size="sm", visible=False, elem_id="undo-delete")
            undo_timer = gr.Timer(UNDO_SECONDS, active=False)
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                # No label shown: a floating "Chat" covered the messages when scrolled.
                chatbot = gr.Chatbot(label="Chat", show_label=False, elem_id="chatbot", height="68vh",
                                     editable="user", buttons=["copy", "copy_all"], feedback_options=None,
                                     placeholder="Drop or paste images, ask a question.")
                # Any file type is accepted here so that a wrong one gets a clear message in the
                # chat from attachments.py instead of a toast that loses the message.
                textbox = gr.MultimodalTextbox(
                    elem_id="message", file_count="multiple", label="Message",
                    placeholder="Message (Enter to send, Shift+Enter for a new line)",
                    show_label=False, autofocus=True)
                busy_note = gr.Markdown(BUSY_NOTE, visible=False, elem_id="busy-note")
                with gr.Row():
                    as_document = gr.Checkbox(False, label="Images are pages of a scanned document",
                                              elem_id="as-document", scale=2, min_width=200)
                    stop_btn = gr.Button("■ Stop", size="sm", elem_id="stop")
                    regen_btn = gr.Button("↻ Regenerate", size="sm", elem_id="regenerate")
                    continue_btn = gr.Button("▸ Continue", size="sm", elem_id="continue", visible=False)
                    branch_dd = gr.Dropdown(label="Branch", choices=[], scale=2, min_width=200)
                shown_examples = examples()
                example_set = gr.Dataset(
                    components=[gr.Image(visible=False, type="filepath"), gr.Textbox(visible=False)],
                    samples=[[img, q] for img, q in shown_examples], type="index", elem_id="examples",
                    label="Try an example: generated scenes the own EE-MLLM was trained on",
                    visible=bool(shown_examples), samples_per_page=8)
                # For API clients: the chatbot's own edit event carries its data in the event.
                edit_index = gr.Number(visible=False, precision=0)
                edit_text = gr.Textbox(visible=False)
                edit_btn = gr.Button(visible=False)
                open_id = gr.Number(visible=False, precision=0)  # any stored chat, by id
                open_btn = gr.Button(visible=False)
            with gr.Column(scale=1, min_width=300):
                with gr.Accordion("Model", open=True):
                    model_dd = gr.Dropdown(
                        label="Model (pick, or type a path or URL)", allow_custom_value=True,
                        choices=models_with(s.model or ""),
                        value=s.model or None, elem_id="model-path")
                    backend = gr.Radio(BACKENDS, value=s.backend, label="Backend")
                    attention = gr.Radio(ATTENTION, value=s.attention, label="Attention")
                    quant = gr.Dropdown(QUANT, value=s.quant, label="Quantization (torch on CUDA)")
                    box_format = gr.Dropdown(BOX_FORMATS, value=s.box_format or FROM_MODEL,
                                             label="Box format (how the model writes boxes)",
                                             elem_id="box-format")
                    tiles = gr.Dropdown(TILES, value=s.max_tiles, elem_id="max-tiles",
                                        label="Tiles per image (LLaVA-NeXT: fewer is faster, less detail)")
                    load_btn = gr.Button("Load", variant="primary")
                    # Empty until the page loads: the start-up value would say "Loading" for good.
                    status = gr.HTML("", elem_id="status")
                    gr.Textbox(str(app.models_dir), label="Models folder (a LLaVA folder or GGUF put here is listed)",
                               interactive=False, buttons=["copy"], elem_id="models-folder", max_lines=1)
                    get_model_block(app, model_dd, backend, models_with)  # download from the hub, then load
                with gr.Accordion("System prompt and sampling", open=False):
                    system = gr.Textbox(s.system_prompt, label="System prompt", lines=2,
                                        placeholder="Instructions the model reads before the chat",
                                        elem_id="system-prompt")
                    # Not ticked for API callers (their temperature is taken as given); a page ticks it at load.
                    use_model = gr.Checkbox(False, label="Use the model's sampling settings",
                                            elem_id="model-sampling")
                    in_use = gr.Markdown(elem_id="sampling-in-use")
                    temperature = gr.Slider(0, 2, value=0.7, step=0.05, label="Temperature", elem_id="temperature")
                    top_p = gr.Slider(0.05, 1, value=0.95, step=0.05, label="Top-p", elem_id="top-p")
                    max_tokens = gr.Slider(16, 4096, value=s.max_tokens, step=16, label="Max new tokens",
                                           elem_id="max-tokens")
                    repeat_penalty = gr.Slider(1.0, 2.0, value=GenParams.repetition_penalty, step=0.05,
                                               label="Repetition penalty (1 = off)", elem_id="repeat-penalty")
                with gr.Accordion("Boxes", open=True):
                    image_dd = gr.Dropdown(label="Image", choices=[])
                    # PNG, not Gradio's default WebP: lossy WebP smears the thin coloured lines.
                    box_image = gr.Image(label="Answer's boxes", type="pil", interactive=False, format="png",
                                         elem_id="boxes", buttons=["download", "fullscreen"])
                    gr.Markdown("Point at or click `[k]` in the answer to pick out its box.")
                    picker = ref_picker()
                with gr.Accordion("Give a region", open=False):
                    gr.Markdown("Type `[x1, y1, x2, y2]` in a message (0..1, or pixels of the last "
                                "image), or draw over the image picked above and add it.")
                    region_editor = gr.ImageEditor(
                        type="pil", label="Draw over the part you mean", elem_id="region-editor",
                        sources=(), transforms=(), layers=False, interactive=True,
                        brush=gr.Brush(colors=["#E69F00"], default_size=6))
                    with gr.Row():
                        region_pick_btn = gr.Button("Draw on it", size="sm")
                        region_add_btn = gr.Button("Add region to message", size="sm")
        timer = gr.Timer(1.0)

        out = [chatbot, textbox, chat_id, chat_list, branch_dd, image_dd, box_image, continue_btn, busy_note]
        sampling = [temperature, top_p, max_tokens]
        sliders = [temperature, top_p, repeat_penalty]
        # after the older inputs, so API callers that omit them still work
        later = [repeat_penalty, system, use_model]
        answer_kw = dict(outputs=out, concurrency_limit=4, concurrency_id="answer",
                         show_progress="hidden")
        streams = [
            textbox.submit(send, [textbox, chat_id, *sampling, as_document, *later], api_name="send",
                           **answer_kw),
            regen_btn.click(regenerate, [chat_id, *sampling, *later], api_name="regenerate", **answer_kw),
            continue_btn.click(go_on, [chat_id, *sampling, *later], api_name="continue", **answer_kw),
            example_set.click(ask_example, [example_set, chat_id, top_p, max_tokens, *later[:2]],
                              api_name="ask_example", **answer_kw),
            chatbot.retry(regenerate, [chat_id, *sampling, *later], api_name="retry", api_visibility="private",
                          **answer_kw),
            chatbot.edit(on_edit, [chat_id, *sampling, *later], api_visibility="private", **answer_kw),
            edit_btn.click(edit, [chat_id, edit_index, edit_text, *sampling, *later], api_name="edit",
                           **answer_kw),
        ]
        # Leaving a chat stops following its answer on the page; the answer itself goes on into
        # the store (only Stop stops it).
        leave = dict(outputs=out, cancels=streams)
        chatbot.undo(on_undo, [chat_id], out, api_visibility="private")
        stop_btn.click(stop, [chat_id], None, api_name="stop", concurrency_limit=None, queue=False)
        textbox.stop(stop, [chat_id], None, api_visibility="private", concurrency_limit=None, queue=False)
        # Leaving a streaming answer's chat: the send arrow comes back (the leave events' own
        # textbox output is a plain value, for API clients).
        idle = lambda: gr.update(submit_btn=True, stop_btn=False)  # noqa: E731
        for trigger in (new_btn.click, chatbot.clear, chat_list.input, open_btn.click, found.input,
                        branch_dd.input, delete_btn.click):
            trigger(idle, None, textbox, api_visibility="private", queue=False, show_progress="hidden")
        new_btn.click(new_chat, None, api_name="new_chat", **leave)
        new_btn.click(fresh, None, [as_document, use_model, *sliders, in_use], api_visibility="private",
                      queue=False, show_progress="hidden")
        chatbot.clear(new_chat, None, api_name="clear", api_visibility="private", **leave)
        chat_list.input(open_chat, [chat_list], api_name="pick_chat", api_visibility="private", **leave)
        open_btn.click(open_chat, [open_id], api_name="open_chat", **leave)
        delete_btn.click(delete_chat, [chat_id], [*out, deleted_id, undo_btn, undo_timer],
                         api_name="delete_chat", cancels=streams)
        undo_btn.click(undelete, [deleted_id], [*out, deleted_id, undo_btn, undo_timer], api_name="undo_delete")
        undo_timer.tick(lambda: (gr.update(visible=False), gr.Timer(active=False)), None, [undo_btn, undo_timer],
                        api_visibility="private", queue=False, show_progress="hidden")
        # Not an output of everything(): the answer events keep their outputs, and State.change
        # fires on the page whichever event moved it to another chat.
        chat_id.change(opened, chat_id, [title_box, export_file, system, as_document, use_model, *sliders,
                                         in_use, remembered], api_visibility="private",
                       queue=False, show_progress="hidden")
        for slider in sliders:
            slider.input(own_sampling, sliders, [use_model, in_use], api_visibility="private", queue=False,
                         show_progress="hidden")
        use_model.input(model_sampling_ticked, [use_model, *sliders], [*sliders, in_use],
                        api_visibility="private", queue=False, show_progress="hidden")
        search_box.change(find, search_box, found, api_name="search_chats", queue=False,
                          show_progress="hidden")
        found.input(open_chat, [found], api_visibility="private", **leave)
        rename_btn.click(rename, [chat_id, title_box], [chat_list, title_box], api_name="rename_chat")
        title_box.submit(rename, [chat_id, title_box], [chat_list, title_box], api_visibility="private")
        export_btn.click(export, [chat_id], export_file, api_name="export_chat").success(
            lambda: gr.update(visible=True), None, export_file, api_visibility="private", queue=False)
        branch_dd.input(pick_branch, [chat_id, branch_dd], api_name="pick_branch", **leave)
        image_dd.input(app.boxed_image, [chat_id, image_dd], box_image, api_name="show_boxes")
        picker.pick(app.focus, [chat_id, picker, image_dd], [image_dd, box_image], api_name="focus_box",
                    trigger_mode="always_last", show_progress="hidden", concurrency_limit=None)
        region_pick_btn.click(app.plain_image, [chat_id, image_dd], region_editor, api_name="region_image")
        region_add_btn.click(add_region, [region_editor, textbox], textbox, api_name="add_region")
        # bitsandbytes quantization exists only in the torch backend
        backend.change(lambda b: gr.update(interactive=b in ("auto", "torch")), backend, quant,
                       api_visibility="private", queue=False)
        model_outputs = [status, model_dd, backend, attention, quant, box_format, tiles, load_seen, *sliders, in_use]
        load_btn.click(load_model, [model_dd, backend, attention, quant, box_format, tiles], [status, model_dd],
                       api_name="load_model").then(
            load_ended, [use_model, *sliders], model_outputs, api_visibility="private",
            show_progress="hidden", concurrency_limit=None)
        timer.tick(tick, [load_seen, use_model, *sliders], model_outputs, api_visibility="private",
                   show_progress="hidden", concurrency_limit=None, queue=False)
        gr.api(status_now, api_name="status")  # the status as API clients read it
        demo.load(page_loaded, [use_model, *sliders], [*model_outputs, use_model], api_visibility="private",
                  queue=False, show_progress="hidden")
        demo.load(lambda: gr.update(choices=app.chat_choices()), None, chat_list,
                  api_visibility="private")
        demo.load(reopen, [remembered], out, api_visibility="private", show_progress="hidden")
        demo.load(None, js=PAGE_JS)
    return demo
