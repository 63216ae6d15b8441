"""`python -m engine bench own [--model PATH] [--repeats N] [--settings float32 bf16-f32 ...] [--json]`:
the own EE-MLLM as the app runs it (engine.load + stream), composite attention against the same
weights under full attention, side by side: time to first token of an image question (vision
tower + prefill), decode tokens/s, a follow-up question in the same chat (turn 2), and the same
image in a new chat. Each repeat uses a fresh held-out image, so turn 1 never hits a cache.
--settings adds CPU precisions (bench decode's names), each in both attention modes."""
from __future__ import annotations

import argparse
import json
import time

from ..api import GenParams, Image, Message, Stats, Token
from .common import print_table

PARAMS = GenParams(max_new_tokens=24, temperature=0, repetition_penalty=1.0)


def timed(eng, messages) -> dict:
    t0, first, text, stats = time.perf_counter(), None, [], None
    for ev in eng.stream(messages, PARAMS):
        if isinstance(ev, Token) and first is None:
            first = time.perf_counter() - t0
        if isinstance(ev, Token):
            text.append(ev.text)
        if isinstance(ev, Stats):
            stats = ev
    return {"ttft_ms": 1e3 * (first if first is not None else time.perf_counter() - t0), "text": "".join(text),
            "tok_s": stats.decode_tokens_per_s, "vision_ms": stats.extra.get("vision_ms", 0.0),
            "ocr_ms": stats.extra.get("ocr_ms", 0.0)}


def chat(eng, image: bytes) -> dict:
    from ..llava import words
    words.forget()  # each engine's turn 1 reads the image's words itself (a model that reads them)
    q1 = [Message("user", [Image(image), *Message.user("What shapes do you see?").parts])]
    r1 = timed(eng, q1)
    q2 = q1 + [Message.assistant(r1["text"]), Message.user("How many of them are red?")]
    r2 = timed(eng, q2)
    r3 = timed(eng, [Message("user", [Image(image), *Message.user("What colour is the largest shape?").parts])])
    return {"turn1": r1, "turn2": r2, "new_chat": r3}


def run(model, repeats: int, settings=("float32",)) -> dict:
    import engine
    from ..catalog import OWN_MODEL
    from ..train.data import make_sample
    from ..train.data.records import png_bytes
    from .decode import setting_load_args
    engines = {}
    for setting in settings:
        dtype, quant = setting_load_args(setting)
        for mode in ("composite", "full"):
            engines[mode, setting] = engine.load(model or OWN_MODEL, backend="torch", attention=mode, dtype=dtype,
                                                 quant=quant, kv_cache_dir=False)
    out = {mode: [] for mode in engines}
    for r in range(repeats + 1):               # the first round warms up and is not counted
        image = png_bytes(make_sample(90_000 + r, "heldout", "describe").scenes[0].image)
        for mode, eng in engines.items():      # round-robin: load spikes hit both alike
            res = chat(eng, image)
            if r:
                out[mode].append(res)
    for eng in engines.values():
        eng.close()
    med = lambda xs: sorted(xs)[len(xs) // 2]
    rows = []
    for (mode, setting), runs in out.items():
        rows.append({"attention": mode, "setting": setting, "turn 1 TTFT ms": med([x["turn1"]["ttft_ms"] for x in runs]),
                     "of which vision ms": med([x["turn1"]["vision_ms"] for x in runs]),
                     "of which OCR ms": med([x["turn1"]["ocr_ms"] for x in runs]),
                     "decode tok/s": med([x["turn1"]["tok_s"] for x in runs]),
                     "turn 2 TTFT ms": med([x["turn2"]["ttft_ms"] for x in runs]),
                     "same image, new chat ms": med([x["new_chat"]["ttft_ms"] for x in runs])})
    return {"rows": rows, "repeats": repeats}


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m engine bench own", description=__doc__)
    ap.add_argument("--model", help="the own model's folder (default: the shipped one)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    from .decode import SETTINGS
    ap.add_argument("--settings", nargs="+", choices=list(SETTINGS), default=["float32"],
                    help="CPU precisions, the first the reference (default: float32)")
    a = ap.parse_args(argv)
    res = run(a.model, a.repeats, a.settings)
    if a.json:
        print(json.dumps(res, indent=1))
        return 0
    cols = [(k, k, f) for k, f in (("attention", "s"), ("setting", "s"), ("turn 1 TTFT ms", ".0f"), ("of which vision ms", ".0f"),
                                    ("of which OCR ms", ".0f"), ("decode tok/s", ".1f"), ("turn 2 TTFT ms", ".0f"), ("same image, new chat ms", ".0f"))]
    print_table(res["rows"], cols)
    rows = {(r["attention"], r["setting"]): r for r in res["rows"]}
    for setting in a.settings:
        c, f = rows["composite", setting], rows["full", setting]
        print(f"{setting}: " + ", ".join(f"{key.replace(' ms', '')} full / composite = {f[key] / c[key]:.2f}x"
                                         for key in ("turn 1 TTFT ms", "turn 2 TTFT ms", "same image, new chat ms")))
    base = rows["composite", a.settings[0]]
    for setting in a.settings[1:]:
        r = rows["composite", setting]
        print(f"composite, {setting} vs {a.settings[0]}: turn 1 TTFT {base['turn 1 TTFT ms'] / r['turn 1 TTFT ms']:.2f}x "
              f"faster, decode {r['decode tok/s'] / base['decode tok/s']:.2f}x")
    return 0
