"""Generated scenes with a question each (assets/examples, written by the own model's data
generator): one click asks the loaded model about one, so a newcomer sees it answer and box."""
from __future__ import annotations

import json
from pathlib import Path

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "assets" / "examples"


def examples(folder: Path = EXAMPLES_DIR) -> list[tuple[str, str]]:
    """(image path, question) pairs; none when the folder is missing (an installed copy)."""
    index = folder / "examples.json"
    if not index.is_file():
        return []
    return [(str(folder / e["image"]), e["question"]) for e in json.loads(index.read_text())
            if (folder / e["image"]).is_file()]
