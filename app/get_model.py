"""The Model panel's "Get a model": the catalog's models (engine/model_catalog.json) with what fits
this machine's memory marked and why the rest does not, or any OWNER/REPO[:QUANT] typed; Download
pulls it into the models folder with a progress bar (bytes, speed, time left) and Cancel, then
loads it."""
from __future__ import annotations

import html
import time

import gradio as gr

from engine.hub import PullError, parse_spec
from engine.hub.catalog import UNVERIFIED, fit, find, offers, this_machine

from .downloads import Download
from .model_slot import ModelSpec


_DOWNLOADS: dict[str, Download] = {}
BUSY = "<div class='vl-status'>Another download is running; this one can start after it.</div>"


def download_for(models_dir) -> Download:
    """One per models folder, for the app's life: a page opened later follows the running one."""
    return _DOWNLOADS.setdefault(str(models_dir), Download(models_dir))


def choices(machine) -> list[tuple[str, str]]:
    out = []
    for o in offers():
        fits, why = fit(o, machine)
        mark = "✓ fits" if fits else "✗ " + why.removeprefix("does not fit: ")
        trust = "" if o.verified else " · not verified here"
        out.append((f"{o.name} · {o.size_gb:g} GB · {mark}{trust}", o.spec))
    return out


def about(value: str | None, machine) -> str:
    if not (value or "").strip():
        return ""
    o = find(value)
    if o is None:
        return (f"<div class='vl-status'><b>{html.escape(value.strip())}</b>: any hub repo, not in the "
                "catalog: a transformers (LLaVA) folder or a GGUF (the quant after `:`, and its mmproj).</div>")
    fits, why = fit(o, machine)
    does = ["sees images" if o.sees else "text only"]
    if o.grounds:
        does.append(f"draws boxes ({o.box_format} box text)")
    rows = [("repo", o.repo), ("download", f"{o.size_gb:g} GB"), ("memory", why), ("backend", o.backend),
            ("licence", o.licence), ("can", ", ".join(does)),
            ("tested", "yes, in this project's tests" if o.verified else UNVERIFIED)]
    body = "".join(f"<tr><td>{k}</td><td>{html.escape(v)}</td></tr>" for k, v in rows)
    head = "" if fits else f"<div class='vl-error'>✗ {html.escape(why)}</div>"
    return f"<div class='vl-status'>{head}<table>{body}</table></div>"


def progress_html(dl: Download) -> str:
    if dl.state == "running":
        p = dl.progress
        text = p.text() if p else f"asking the hub for {dl.spec} …"
        value = f" max='1' value='{p.fraction:.3f}'" if p else ""
        return (f"<div class='vl-status'>⬇ {html.escape(text)}"
                f"<progress class='vl-bar'{value}></progress></div>")
    if dl.state == "done":
        where = html.escape(str(dl.path))
        return f"<div class='vl-status vl-ok'>✓ {html.escape(dl.spec)} is in {where}; loading it</div>"
    if dl.state in ("error", "cancelled"):
        return f"<div class='vl-status vl-error'>⚠ {html.escape(dl.error)}</div>"
    return ""


def get_model_block(app, model_dd, backend, models_with) -> None:
    """The block and its events, inside the Model panel (the page's gr.Blocks context)."""
    machine = this_machine()
    dl = download_for(app.settings.data_dir / "models")
    with gr.Accordion("Get a model", open=False, elem_id="get-model-panel"):
        gr.Markdown(f"Downloads from Hugging Face into `{dl.models_dir}` (resumable; hashes checked). "
                    "✓ tested here: LLaVA-1.5 layout (torch) and LLaVA GGUF + mmproj (llama.cpp); the "
                    f"others {UNVERIFIED}.")
        pick = gr.Dropdown(choices(machine), value=None, allow_custom_value=True, elem_id="get-model",
                           label="Model (from the catalog, or type OWNER/REPO[:QUANT])")
        info = gr.HTML(elem_id="get-model-about")
        with gr.Row():
            get_btn = gr.Button("Download", size="sm", variant="primary", elem_id="get-model-download")
            cancel_btn = gr.Button("Cancel", size="sm", elem_id="get-model-cancel")
        shown = gr.HTML(lambda: progress_html(dl), elem_id="get-model-progress")  # as it is when the page opens

    def download(value):
        value = (value or "").strip()
        o = find(value) if value else None
        spec = o.spec if o else value.removeprefix("hf:")
        try:
            if not spec:
                raise PullError("pick a model in the list, or type OWNER/REPO")
            parse_spec(spec)
        except PullError as e:
            yield f"<div class='vl-status vl-error'>⚠ {html.escape(str(e))}</div>", gr.skip(), gr.skip()
            return
        mine = dl.start(spec, o.files if o else None,
                        then=lambda path: app.load_model(ModelSpec(str(path), "auto")))
        other = "" if mine else BUSY
        while dl.running:   # this download, or the one another page started
            yield other + progress_html(dl), gr.skip(), gr.skip()
            time.sleep(0.4)
        if mine and dl.state == "done":
            path = str(dl.path)
            yield progress_html(dl), gr.update(value=path, choices=models_with(path)), "auto"
        else:
            yield other + progress_html(dl), gr.skip(), gr.skip()

    pick.change(lambda v: about(v, machine), pick, info, api_visibility="private", queue=False,
                show_progress="hidden")
    get_btn.click(download, pick, [shown, model_dd, backend], api_name="get_model", show_progress="hidden")
    cancel_btn.click(dl.cancel, None, None, api_name="cancel_get_model", queue=False)
