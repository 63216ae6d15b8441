"""--quant int8 | int4 on the CPU (PyTorch's weight-only kernels): what is swapped, what the memory
estimate says, the refusals, and the compiled decode step."""
from __future__ import annotations

import pytest
import torch
from torch import nn

import engine
from engine import EngineError, GenParams, Message
from engine.llava.config import read_config
from engine.llava.cpuquant import Int4Linear, Int8Linear
from engine.llava.memory import estimate
from engine.llava.quant import check_mode


def _load(*args, **kw):
    """The torch backend itself (these tests reach its model and run config)."""
    return engine.load(*args, **kw).inner

LOAD = dict(backend="torch", device="cpu")


def held_bytes(model) -> int:
    """Parameters and buffers as loaded, but RoPE's inv_freq (computed, not a weight)."""
    return sum(t.numel() * t.element_size() for name, t in list(model.named_parameters())
               + list(model.named_buffers()) if not name.endswith("inv_freq"))


@pytest.mark.parametrize("quant", ["int8", "int4", "bf16"])
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
@pytest.mark.parametrize("tie", [False, True])
def test_memory_estimate_knows_int8_int4_and_bf16(make_tiny_ckpt, quant, dtype, tie, monkeypatch):
    from engine.llava import cpu
    monkeypatch.setattr(cpu, "FORCE_NATIVE_BF16", True)
    folder = make_tiny_ckpt(tie=tie)
    e = _load(folder, dtype=dtype, quant=quant, **LOAD)
    size = 4 if dtype == "float32" else 2
    est = estimate(read_config(folder), size, quant, context=1024)
    assert est.weights == held_bytes(e.model)
    # A tied head gets its own copy; bf16 weights in a bf16 model hold what it held
    assert est.weights < estimate(read_config(folder), size, None, context=1024).weights or tie or \
        (quant, dtype) == ("bf16", "bfloat16")


def test_int8_swaps_decoder_linears_and_head_only(tiny_llava):
    e = _load(tiny_llava, quant="int8", **LOAD)
    layer = e.model.decoder.layers[0]
    assert isinstance(layer.self_attn.q_proj, Int8Linear) and isinstance(layer.mlp.down_proj, Int8Linear)
    assert isinstance(layer.mlp.gate_up, Int8Linear) and not hasattr(layer.mlp, "up_proj")  # fused
    assert isinstance(e.model.lm_head, Int8Linear) and layer.self_attn.q_proj.weight.dtype == torch.int8
    assert type(e.model.projector.linear_1) is nn.Linear and type(e.model.vision.encoder.layers[0].mlp.fc1) is nn.Linear
    assert e.info.quantization == "int8" and any("14 int8" in n for n in e.info.notes), e.info.notes


def test_int4_keeps_the_head_int8(tiny_llava):
    e = _load(tiny_llava, quant="int4", dtype="bfloat16", **LOAD)
    assert isinstance(e.model.decoder.layers[1].mlp.gate_up, Int4Linear)
    assert isinstance(e.model.lm_head, Int8Linear)
    text, rest = engine.collect(e.stream([Message.user("Hi")], GenParams(max_new_tokens=4, temperature=0)))
    assert rest[-1].reason in ("length", "stop")


def test_a_shape_the_kernel_cannot_take_stays_full_precision(make_tiny_ckpt, images):
    """hidden 72: the int8 kernel's vector path needs K % 16 == 0 (it crashes otherwise), so the
    layers reading 72 inputs stay float; down_proj (144 inputs) is int8. Said in the notes."""
    folder = make_tiny_ckpt(hidden=72)
    ref, e = _load(folder, dtype="float32", **LOAD), _load(folder, quant="int8", dtype="float32", **LOAD)
    mlp = e.model.decoder.layers[0].mlp
    assert type(mlp.up_proj) is nn.Linear and isinstance(mlp.down_proj, Int8Linear)
    assert any("kept unquantized" in n for n in e.info.notes), e.info.notes
    assert estimate(read_config(folder), 4, "int8", 1024).weights == held_bytes(e.model)
    ids, pixels = ref.prepare([Message.user("Describe.", [images[0]])])
    a, b = ref.logits(ids[None], pixels)[0, -1], e.logits(ids[None], pixels)[0, -1]
    assert torch.cosine_similarity(a, b, dim=0) > 0.999


@pytest.mark.parametrize("mode,device,says", [
    ("int8", "cuda", "--quant 8bit"), ("int4", "cuda:1", "--quant 4bit"), ("bf16", "cuda", "--dtype bfloat16"),
    ("int3", "cpu", "must be one of")])
def test_combinations_that_do_not_exist_are_clear_errors(mode, device, says):
    with pytest.raises(EngineError, match=says):
        check_mode(mode, device)
    check_mode("8bit", "cuda")  # bitsandbytes names stay valid
    check_mode("int8", "cpu")


def test_quantized_weights_have_their_own_visual_kv(make_tiny_ckpt, images, tmp_path):
    """Visual K/V computed with int8 weights are not reused by the float32 model, nor back."""
    folder = make_tiny_ckpt(ee_mllm={"attention": "composite", "visual_mlp": True})
    msgs = [Message.user("Describe.", [images[0]])]
    q = _load(folder, quant="int8", kv_cache_dir=tmp_path, **LOAD)
    engine.collect(q.stream(msgs, GenParams(max_new_tokens=2, temperature=0)))
    f = _load(folder, kv_cache_dir=tmp_path, **LOAD)
    _, extra = f.inner.first_logits(msgs) if hasattr(f, "inner") else f.first_logits(msgs)
    assert extra["visual_cache_hits"] == 0 and extra["images_encoded"] == 1


def test_chat_stats_show_the_vision_towers_time(tiny_llava, images, capsys):
    from engine.commands.chat import main
    assert main(["--model", str(tiny_llava), "--backend", "torch", "--device", "cpu", "--quant", "int8",
                 "--image", images[0], "--temperature", "0", "--max-tokens", "3", "--stats", "Hi"]) == 0
    err = capsys.readouterr().err
    assert "vision tower" in err and "int8" in err, err


def logits_along(eng, ids, pixels, answer):
    """Logits at each answer position, the answer fed back through the engine's own cache and
    decode step (compiled or not): prefill, then one decode step per token."""
    from engine.llava.forward import new_cache
    from engine.llava.generate import Timings, decode_one, prefill
    m = eng.model
    cache = new_cache(m.cfg.decoder, len(ids) + len(answer) + 1, m.decoder.embed_tokens.weight.dtype, "cpu", eng.run)
    out = [m.head(prefill(m, ids, pixels, cache, eng.run, Timings())[0, -1])]
    out += [decode_one(m, tok, len(ids) + i, cache, eng.run) for i, tok in enumerate(answer[:-1])]
    return torch.stack(out).float()


@pytest.mark.slow
@pytest.mark.parametrize("quant,dtype", [("int8", "bfloat16"), ("int4", "bfloat16"), ("bf16", "float32")])
def test_compiled_quantized_decode_matches_eager(tiny_llava, images, quant, dtype, monkeypatch):
    """Inductor compiles the CPU decode step (attending over the used length, a symbolic size)
    and the vision tower's layers around the int8/int4 kernels. In bf16 its fused kernels keep
    intermediates in float32 where eager rounds them, so the two agree to bf16's tolerance
    (test_cpu_precision.py), not bit for bit: logits along eager's greedy answer within 2% of each
    row's largest, and a second turn runs through the same compiled step."""
    from engine.llava.generate import Timings, generate
    from engine.llava import cpu
    monkeypatch.setattr(cpu, "FORCE_NATIVE_BF16", True)
    kw = dict(quant=quant, dtype=dtype, **LOAD)
    msgs = [Message.user("Describe.", images[:1])]
    eager, compiled = _load(tiny_llava, **kw), _load(tiny_llava, compile=True, **kw)
    ids, pixels = eager.prepare(msgs)
    want = list(generate(eager.model, ids, pixels, eager.run, 10, dict(temperature=0, repetition_penalty=1.0),
                         set(), Timings()))
    a, b = logits_along(eager, ids, pixels, want), logits_along(compiled, ids, pixels, want)
    assert ((a - b).abs().amax(-1) / a.abs().amax(-1)).max().item() <= 0.02
    p = GenParams(max_new_tokens=10, temperature=0)
    first = engine.collect(compiled.stream(msgs, p))[0]
    msgs2 = msgs + [Message.assistant(first), Message.user("And then?")]
    assert engine.collect(compiled.stream(msgs2, p))[1][-1].reason == "length"


def test_int8_prefill_rows_take_the_dense_bf16_gemm_with_the_same_numbers(monkeypatch):
    """From DENSE_ROWS rows on (a prefill), where bf16 is native, an int8 layer de-quantizes to bf16
    for the dense GEMM (the int8 kernel is built for few rows); both paths compute the same layer."""
    from engine.llava import cpu, cpuquant
    monkeypatch.setattr(cpu, "FORCE_NATIVE_BF16", True)
    torch.manual_seed(0)
    w, b = torch.randn(96, 64), torch.randn(96)
    dense = Int8Linear(w, b, torch.float32)
    kernel = Int8Linear(w, b, torch.float32)
    kernel.dense_rows = None
    assert dense.dense_rows == cpuquant.DENSE_ROWS
    x = torch.randn(2, cpuquant.DENSE_ROWS, 64)
    want = x @ w.T + b
    for layer in (dense, kernel):
        got = layer(x)
        assert got.dtype == torch.float32 and ((got - want).abs().max() / want.abs().max()).item() < 0.02
    assert ((dense(x) - kernel(x)).abs().max() / want.abs().max()).item() < 0.01  # bf16 outputs: a few ulps
    monkeypatch.setattr(cpu, "FORCE_NATIVE_BF16", False)
    assert Int8Linear(w, b, torch.float32).dense_rows is None  # emulated bf16: the int8 kernel always
