"""`python -m engine eval [--model PATH]`: the own model on the held-out split, through the app's
own path (engine.load + stream, greedy): accuracy per skill, box IoU, a blank-image control and
text-only questions, printed as a table.

`--split reworded` asks the same held-out items in wordings training never uses, `restyled` shows
their images blurred, compressed, noisy or at a lower resolution, `unseen` does both
(data/unseen.py): item for item, how much of a skill is the templates and the clean pixels.
`--split other_hand` asks the same kinds of questions about scenes of its own, every shape drawn in
another hand (data/other_hand.py: other proportions, upright, hard edges, pure colours, big
canvases): how much of a skill is this generator's pen.

The blank-image control asks the held-out "is there a ...?" questions with the image replaced by
an empty one and grades against the real scene's answers: a model that looks scores chance (50%);
one that answers from the wording alone does not.

`--by-size` adds, per skill that asks about one object, the accuracy by that object's size (its
long side as a share of the image's): where small objects fail, a finer visual grid is the lever.

The text-only row is asked with the app's sampling for a small model (greedy, the usual repetition
penalty). Given a folder or parts file it asks the trained decoder itself (with its LoRA); the app,
loading `own:ee-mllm`, sends a chat without an image to the base decoder (engine/own/engine.py)."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from ..api import GenParams, Image, Message, Region, Text, collect, Box
from .data import grade, iou, make_sample
from .data.unseen import SPLITS
from .data.records import png_bytes

EVAL_SKILLS = ("colour", "shape", "count", "relation", "size", "exists", "refer", "region", "read", "chart",
               "two_images", "followup", "describe", "blank")
FLOORS = {"colour": 90, "shape": 90, "count": 80, "relation": 80, "refer": 70, "region": 80, "read": 60,
          "chart": 80}
TEXT_CHECKS = [("What is the capital of France?", "Paris")]
# The asked object's long side as a share of the image's: the 192 px tower's 24 px patch is 1/8.
SIZED_SKILLS = ("colour", "shape", "refer", "region")
SIZE_BUCKETS = ((1 / 8, "< 1/8"), (3 / 16, "1/8-3/16"), (5 / 16, "3/16-5/16"), (float("inf"), ">= 5/16"))


def asked_object_side(s) -> float | None:
    """The long side, as a share of the image's, of the one object a colour, shape, refer or region
    item asks about (the target box or asked region, else the object its reply boxes first); None
    for other skills."""
    if s.skill not in SIZED_SKILLS or len(s.scenes) != 1:
        return None
    replied = [p.box for p in s.messages[-1].parts if isinstance(p, Region)]
    box = s.box or (replied[0] if replied else None)
    if box is None:
        return None
    w, h = s.scenes[0].image.size
    return max((box[2] - box[0]) * w, (box[3] - box[1]) * h) / max(w, h)


def size_bucket(side: float) -> str:
    return next(name for top, name in SIZE_BUCKETS if side < top)


def _answer(eng, messages, max_tokens=48, repetition_penalty=1.0):
    text, rest = collect(eng.stream(messages, GenParams(max_new_tokens=max_tokens, temperature=0,
                                                        repetition_penalty=repetition_penalty)))
    boxes = [(e.x1, e.y1, e.x2, e.y2) for e in rest if isinstance(e, Box)]
    return text, boxes


def _blank(messages, size):
    from PIL import Image as PILImage
    blank = png_bytes(PILImage.new("RGB", size, (235, 235, 235)))
    return [Message(m.role, [Image(blank) if isinstance(p, Image) else p for p in m.parts]) for m in messages]


def evaluate(eng, n: int, skills=EVAL_SKILLS, offset: int = 0, log=None, split: str = "heldout") -> dict:
    rows = {}
    for skill in skills:
        right, ious, sizes, t0 = 0, [], {}, time.time()
        for i in range(offset, offset + n):
            s = make_sample(i, split, skill)
            text, boxes = _answer(eng, s.messages[:-1])
            ok = grade(s, text, boxes)
            right += ok
            if skill == "refer" and s.box:
                ious.append(iou(boxes[0], s.box) if boxes else 0.0)
            side = asked_object_side(s)
            if side is not None:
                sizes.setdefault(size_bucket(side), []).append(bool(ok))
            if log:
                log.write(json.dumps({"skill": skill, "i": i, "ok": bool(ok), "answer": text, "want": s.answer,
                                      "boxes": boxes, "object_side": side}) + "\n")
        rows[skill] = {"n": n, "accuracy": 100 * right / n, "s_per_item": (time.time() - t0) / n,
                       **({"mean_iou": sum(ious) / len(ious)} if ious else {}),
                       **({"by_size": {b: [sum(sizes[b]), len(sizes[b])] for _, b in SIZE_BUCKETS if b in sizes}}
                          if sizes else {})}
    # blank-image control: "is there a ...?" with the image emptied, graded against the real scene
    right = 0
    for i in range(offset, offset + n):
        s = make_sample(i, split, "exists")
        text, boxes = _answer(eng, _blank(s.messages[:-1], s.scenes[0].image.size))
        right += grade(s, text, boxes)
    rows["blank_control"] = {"n": n, "accuracy": 100 * right / n, "chance": 50.0}
    for q, want in TEXT_CHECKS:
        # as the app asks a small model: greedy, with its usual repetition penalty (without it the
        # base SmolLM2 GGUF answers this one "L'Étoile, la Marseillaise, la femme, ...")
        text, _ = _answer(eng, [Message("user", [Text(q)])], 40, GenParams().repetition_penalty)
        rows[f"text: {q}"] = {"n": 1, "accuracy": 100.0 * (want.lower() in text.lower()), "answer": text.strip()}
    return rows


def table(rows: dict) -> str:
    out = ["| skill | n | accuracy | floor | note |", "|---|---|---|---|---|"]
    for k, r in rows.items():
        floor = FLOORS.get(k)
        note = (f"mean IoU {r['mean_iou']:.2f}" if "mean_iou" in r else
                f"chance {r['chance']:.0f}%" if "chance" in r else r.get("answer", "")[:60])
        out.append(f"| {k} | {r['n']} | {r['accuracy']:.1f}% | {f'>= {floor}%' if floor else ''} | {note} |")
    return "\n".join(out)


def size_table(rows: dict) -> str:
    """Right / asked per size of the asked object (its long side as a share of the image's)."""
    out = ["| skill | " + " | ".join(b for _, b in SIZE_BUCKETS) + " |", "|---|" + "---|" * len(SIZE_BUCKETS)]
    for k, r in rows.items():
        if "by_size" in r:
            cells = [("%d/%d" % tuple(r["by_size"][b])) if b in r["by_size"] else "-" for _, b in SIZE_BUCKETS]
            out.append(f"| {k} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m engine eval", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="a LLaVA folder, or a parts .safetensors (default: the shipped own model)")
    ap.add_argument("--n", type=int, default=200, help="items per skill")
    ap.add_argument("--skills", nargs="*", default=list(EVAL_SKILLS))
    ap.add_argument("--offset", type=int, default=0)
    ap.add_argument("--split", choices=("heldout", *SPLITS, "other_hand"), default="heldout",
                    help="the held-out items as they are, in other words (reworded), in worse pixels "
                         "(restyled) or both (unseen); or scenes drawn in another hand (other_hand)")
    ap.add_argument("--json", help="write the rows here too")
    ap.add_argument("--log", help="every item's answer, as JSON lines")
    ap.add_argument("--dtype", default=None)
    ap.add_argument("--quant", default=None, help="as `chat --quant`, e.g. int8 or bf16 on the CPU")
    ap.add_argument("--by-size", action="store_true",
                    help="also the accuracy by the size of the asked object (its long side / the image's)")
    a = ap.parse_args(argv)
    import engine
    from ..own.build import own_model_folder
    path = Path(a.model) if a.model else None
    folder = own_model_folder(parts=path) if path is None or path.suffix == ".safetensors" else path
    eng = engine.load(folder, backend="torch", kv_cache_dir=False, quant=a.quant,
                      **({"dtype": a.dtype} if a.dtype else {}))
    log = open(a.log, "w") if a.log else None
    rows = evaluate(eng, a.n, a.skills, a.offset, log, a.split)
    print(table(rows))
    if a.by_size:
        print("\nBy the asked object's long side, as a share of the image's (right/asked):\n" + size_table(rows))
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
