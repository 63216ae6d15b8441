"""`python run.py`: flags, then the page on 127.0.0.1 (no share link) with the model loading
in the background."""
from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from engine import catalog
from engine.api import MAX_TILES, EngineError
from engine.grounding.formats import CHOICES as BOX_FORMATS

from .attachments import Limits
from .examples import EXAMPLES_DIR
from .chat_app import ChatApp, Settings
from .ui import ATTENTION, BACKENDS, CSS, QUANT, THEME, build


def parse(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="run.py", description="Local multimodal chat.")
    p.add_argument("--model", help="model folder, .gguf file, hf:OWNER/REPO[:QUANT or FILE] (pulled from "
                                   "the Hugging Face hub into the models folder first, once), or http(s) URL "
                                   "of an OpenAI-compatible server (default: the project's own EE-MLLM, which sees; own:ee-mllm names it; "
                                   "else the shipped text-only SmolLM2 GGUF)")
    p.add_argument("--backend", choices=BACKENDS, default="auto")
    p.add_argument("--base-url", help="an OpenAI-compatible server (vLLM, SGLang, llama.cpp), e.g. "
                   "http://127.0.0.1:8000/v1; --model then names the model it serves")
    p.add_argument("--api-key", help="the server's key (or env VLCHAT_API_KEY); never stored")
    p.add_argument("--timeout", type=float, help="seconds to wait for a remote server to answer or "
                   "to send the next token (default: 120)")
    p.add_argument("--attention", choices=ATTENTION, default="full")
    p.add_argument("--quant", choices=QUANT, default="none", help="torch backend on CUDA only")
    p.add_argument("--max-tiles", choices=list(MAX_TILES), default="all", help="LLaVA-NeXT: the most "
                   "high-resolution tiles per image, 4 (2x2), 2 (2x1) or base (the base view only): less "
                   "detail, a faster first token on a CPU (a choice in the Model panel too)")
    p.add_argument("--box-format", choices=BOX_FORMATS, help="how the model writes boxes (default: "
                   "from its config or name; auto: read any known box text)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: this machine only)")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--no-browser", action="store_true", help="do not open a browser tab")
    p.add_argument("--data-dir", help="where chats, attachments and models live "
                                      "(default: the platform's user data folder)")
    p.add_argument("--max-tokens", type=int, default=512, help="default for new answers (a slider too)")
    p.add_argument("--system", default="", help="default system prompt (a text box on the page too)")
    p.add_argument("--max-image-mb", type=float, default=Limits.max_image_mb)
    p.add_argument("--max-image-megapixels", type=float, default=Limits.max_image_megapixels)
    p.add_argument("--max-doc-mb", type=float, default=Limits.max_doc_mb, help="largest PDF accepted")
    p.add_argument("--max-pages", type=int, default=Limits.max_pages, help="most pages a document may have")
    return p.parse_args(argv)


def make_app(args: argparse.Namespace) -> ChatApp:
    model = args.model or catalog.default_choice()
    if model and model.lower().startswith("hf:") and not args.base_url:
        model = str(hub_model(model, catalog.data_dir(args.data_dir) / "models"))
    served, backend = "", args.backend
    if args.base_url:
        model, served, backend = args.base_url, args.model or "", "openai"
    if args.api_key:  # handed to the engine through the environment only: never in the database
        os.environ["VLCHAT_API_KEY"] = args.api_key
    return ChatApp(Settings(data_dir=catalog.data_dir(args.data_dir), model=model, served_model=served,
                            backend=backend, attention=args.attention, quant=args.quant,
                            box_format=args.box_format or "", max_tiles=args.max_tiles, system_prompt=args.system,
                            max_tokens=args.max_tokens, remote_timeout=args.timeout,
                            limits=Limits(args.max_image_mb, args.max_image_megapixels,
                                          args.max_doc_mb, args.max_pages)))


FAVICON = Path(__file__).resolve().parents[1] / "assets" / "favicon.png"


def launch(app: ChatApp, args: argparse.Namespace, block: bool = True):
    """Serve the page; with block=False return the running gr.Blocks (demo.local_url, .close())."""
    demo = build(app)
    demo.queue(default_concurrency_limit=1)
    upload_mb = max(max(args.max_image_mb, 1) * 4, args.max_doc_mb)  # several images, or one PDF
    demo.launch(server_name=args.host, server_port=args.port, share=False,
                       inbrowser=not args.no_browser, prevent_thread_lock=not block,
                       max_file_size=f"{upload_mb:g}mb", allowed_paths=[str(app.blobs.root), str(EXAMPLES_DIR)],
                       theme=THEME, css=CSS, footer_links=[], show_error=True,
                       favicon_path=str(FAVICON) if FAVICON.is_file() else None)
    return demo


def hub_model(spec: str, models_dir: Path) -> Path:
    """An hf: model, pulled in the terminal before the page starts (found offline once pulled)."""
    from engine.hub.terminal import model_for
    return model_for(spec, models_dir)


def main(argv=None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    args = parse(argv)
    try:
        app = make_app(args)
    except EngineError as e:  # a pull that failed: its one line, not a traceback
        print(f"run.py: {e}", file=sys.stderr)
        return 1
    print(f"Chats and attachments: {app.settings.data_dir}", flush=True)
    launch(app, args)
    return 0
