"""`python -m engine COMMAND ...`: a table of subcommands, each `main(argv) -> int` in its own module,
imported only when run (so `info` does not pay for gradio or llama_cpp)."""
from __future__ import annotations

import importlib
import sys

COMMANDS = {
    "chat": ("engine.commands.chat", "stream an answer to stdout, like `ollama run`"),
    "info": ("engine.commands.info", "print what a model path holds"),
    "make-tiny": ("engine.llava.tiny", "write a small random LLaVA checkpoint"),
    "pull": ("engine.commands.pull", "download a model from the Hugging Face hub into the models folder"),
    "export-gguf": ("engine.gguf.export", "convert a LLaVA checkpoint to GGUF + mmproj"),
    "bench": ("engine.bench", "benchmarks: prefill | decode | turns | documents"),
    "train": ("engine.train.run", "train the own EE-MLLM from a recipe (engine/train/configs/own.json)"),
    "eval": ("engine.train.evaluate", "the own model on the held-out split: accuracy per skill"),
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        print("usage: python -m engine COMMAND [args]\n")
        for name, (_, about) in COMMANDS.items():
            print(f"  {name:12s} {about}")
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    module = importlib.import_module(COMMANDS[argv[0]][0])
    return module.main(argv[1:]) or 0
