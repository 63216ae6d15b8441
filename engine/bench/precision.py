"""`python -m engine bench precision [--n 200] [--settings float32 bfloat16 int8 int4]`: the own
model's held-out eval (python -m engine eval) in each CPU setting, side by side: accuracy per skill,
its difference from float32 (the issue's bar: within 1 point on every skill), and how many greedy
answers are word for word float32's. What decides engine/llava/cpu.py's BF16_DEFAULT_ON_CPU."""
from __future__ import annotations

import argparse
import io
import json
import time
from pathlib import Path

from .decode import SETTINGS, setting_load_args


def run_setting(folder, setting: str, n: int, skills, offset: int) -> tuple[dict, dict, float]:
    """(eval rows, {(skill, item): answer}, seconds) for one setting."""
    import engine

    from ..train.evaluate import evaluate
    dtype, quant = setting_load_args(setting)
    eng = engine.load(folder, backend="torch", device="cpu", dtype=dtype, quant=quant, kv_cache_dir=False)
    log, t0 = io.StringIO(), time.time()
    rows = evaluate(eng, n, skills, offset, log)
    eng.close()
    answers = {}
    for line in log.getvalue().splitlines():
        item = json.loads(line)
        answers[item["skill"], item["i"]] = (item["answer"], item["boxes"])
    return rows, answers, time.time() - t0


def compare(results: dict) -> tuple[list[dict], list[str]]:
    """Table rows (one per skill) and the verdict lines, against the first setting (float32)."""
    base_name, (base, base_ans, _) = next(iter(results.items()))
    table, verdict = [], []
    for skill, r in base.items():
        row = {"skill": skill, "n": r["n"], base_name: r["accuracy"]}
        for name, (rows, _, _) in list(results.items())[1:]:
            row[name] = rows[skill]["accuracy"]
            row[f"{name} diff"] = rows[skill]["accuracy"] - r["accuracy"]
        table.append(row)
    for name, (rows, ans, secs) in list(results.items())[1:]:
        worst = max(abs(rows[s]["accuracy"] - base[s]["accuracy"]) for s in base)
        same = sum(ans.get(k) == v for k, v in base_ans.items())
        verdict.append(f"{name} vs {base_name}: largest difference {worst:.1f} points "
                       f"({'within' if worst <= 1 else 'NOT within'} 1 point on every skill); greedy answers "
                       f"identical {same}/{len(base_ans)}; {secs / 60:.1f} min")
    return table, verdict


def main(argv: list[str]) -> int:
    from ..train.evaluate import EVAL_SKILLS
    ap = argparse.ArgumentParser(prog="python -m engine bench precision", description=__doc__)
    ap.add_argument("--model", help="a LLaVA folder (default: the own model, assembled from its parts)")
    ap.add_argument("--n", type=int, default=200, help="held-out items per skill")
    ap.add_argument("--offset", type=int, default=0)
    ap.add_argument("--skills", nargs="*", default=list(EVAL_SKILLS))
    ap.add_argument("--settings", nargs="+", choices=list(SETTINGS), default=["float32", "bfloat16", "int8"],
                    help="the first is the reference (float32)")
    ap.add_argument("--json", help="write every setting's rows here too")
    a = ap.parse_args(argv)
    from ..own.build import own_model_folder
    folder = Path(a.model) if a.model else own_model_folder()
    results = {}
    for setting in a.settings:
        results[setting] = run_setting(folder, setting, a.n, tuple(a.skills), a.offset)
        print(f"{setting}: done in {results[setting][2] / 60:.1f} min", flush=True)
    table, verdict = compare(results)
    if a.json:
        Path(a.json).write_text(json.dumps({k: v[0] for k, v in results.items()}, indent=1))
    from .common import print_table
    cols = [("skill", "skill", "s"), ("n", "n", "d"), (a.settings[0], a.settings[0], ".1f")]
    for name in a.settings[1:]:
        cols += [(name, name, ".1f"), (f"{name} diff", "diff", "+.1f")]
    print_table(table, cols)
    print("\n".join(verdict))
    return 0
