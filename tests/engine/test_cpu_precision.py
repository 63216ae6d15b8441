"""bf16 and int8/int4 weights on the CPU against float32, on the tiny checkpoints.

Tolerances (measured on the tiny models, llama/qwen2, full/composite, tied or not; the bound is
about 1.5x the worst seen): the largest logit difference of any position, as a fraction of that
row's largest |logit|: bf16 <= 2% (seen 1.3%), bf16 weights in a float32 model <= 1% (0.6%), int8
<= 3% (1.9%), int4 <= 25% (17%: random Gaussian weights are the worst case for 4 bits); cosine per
row: >= 0.9998 / 0.99995 / 0.9997 / 0.98."""
from __future__ import annotations

import pytest
import torch

import engine
from engine import Message
from engine.llava import cpu
from engine.llava import model as model_module
from engine.llava.decoder import KVCache
from engine.llava.generate import Timings, decode_one, generate, prefill

SMALL_TOWER = model_module.SMALL_TOWER


def _load(*args, **kw):
    """The torch backend itself (these tests reach its model and run config)."""
    return engine.load(*args, **kw).inner

LOAD = dict(backend="torch", device="cpu")
F32 = dict(LOAD, dtype="float32")  # the reference, whatever the CPU default is
TOL = {"bf16": (dict(dtype="bfloat16"), 0.02, 0.9998),
       "bf16 weights": (dict(quant="bf16", dtype="float32"), 0.01, 0.99995),
       "int8": (dict(quant="int8", dtype="float32"), 0.03, 0.9997),
       "int8+bf16": (dict(quant="int8", dtype="bfloat16"), 0.03, 0.9997),
       "int4+bf16": (dict(quant="int4", dtype="bfloat16"), 0.25, 0.98)}
PROMPTS = [("Describe the picture in detail.", True), ("What colour is the box?", True),
           ("Tell me a story about a cat.", False)]


@pytest.fixture(autouse=True)
def native_bf16(monkeypatch):
    monkeypatch.setattr(cpu, "FORCE_NATIVE_BF16", True)  # the same path on any CPU that runs the tests
    # The tiny towers are small enough to run in float32 (model.small_tower); held to the bounds
    # here in bf16 throughout, as a large tower runs.
    monkeypatch.setattr(model_module, "SMALL_TOWER", 0)


def _inputs(eng, images, text, with_image):
    return eng.prepare([Message.user(text, [images[0]] if with_image else [])])


@pytest.mark.parametrize("setting", list(TOL))
@pytest.mark.parametrize("ckpt", [{}, {"family": "qwen2", "vision": "siglip"}, {"tie": True}],
                         ids=["llama", "qwen2", "tied"])
def test_logits_close_to_float32(make_tiny_ckpt, images, setting, ckpt):
    kw, rel, cos = TOL[setting]
    folder = make_tiny_ckpt(**ckpt)
    ref, low = _load(folder, **F32), _load(folder, **LOAD, **kw)
    assert low.info.dtype == kw.get("dtype", "float32") and low.info.quantization == kw.get("quant")
    ids, pixels = _inputs(ref, images, *PROMPTS[0])
    a, b = ref.logits(ids[None], pixels)[0].float(), low.logits(ids[None], pixels)[0].float()
    worst = ((a - b).abs().amax(-1) / a.abs().amax(-1)).max().item()
    assert worst <= rel, worst
    assert torch.cosine_similarity(a, b, dim=-1).min().item() >= cos


def _greedy(eng, ids, pixels, n=12):
    return list(generate(eng.model, ids, pixels, eng.run, n, dict(temperature=0, repetition_penalty=1.0), set(),
                         Timings()))


def _choices_along(eng, ids, pixels, answer):
    """The low-precision model's greedy choice at each answer position, the answer fed back through
    its KV cache (prefill, then one decode step per token): teacher forcing on the decode path."""
    m = eng.model
    cache = KVCache(m.cfg.decoder, len(ids) + len(answer) + 1, m.decoder.embed_tokens.weight.dtype, "cpu")
    out = [int(m.head(prefill(m, ids, pixels, cache, eng.run, Timings())[0, -1]).argmax())]
    for i, tok in enumerate(answer[:-1]):
        out.append(int(decode_one(m, tok, len(ids) + i, cache, eng.run).argmax()))
    return out


@pytest.mark.parametrize("attention", ["full", "composite"])
@pytest.mark.parametrize("setting", ["bf16", "bf16 weights", "int8+bf16"])
def test_greedy_answers_equal_where_the_tolerance_allows(tiny_llava, images, setting, attention):
    """A small batch of prompts: float32's greedy answer, and at every step of it where float32's
    top-2 margin is outside the stated tolerance (there a flip is not allowed), the low-precision
    model, decoding through its own cache, picks the same token."""
    kw, rel, _ = TOL[setting]
    ref, low = _load(tiny_llava, attention=attention, **F32), _load(tiny_llava, attention=attention, **LOAD, **kw)
    compared = 0
    for text, with_image in PROMPTS:
        ids, pixels = _inputs(ref, images, text, with_image)
        want = _greedy(ref, ids, pixels)
        logits = ref.logits(torch.cat([ids, torch.tensor(want)])[None], pixels)[0, len(ids) - 1:-1].float()
        top2 = logits.topk(2, -1).values
        sure = ((top2[:, 0] - top2[:, 1]) > 2 * rel * logits.abs().amax(-1)).tolist()
        got = _choices_along(low, ids, pixels, want)
        assert [g for g, s in zip(got, sure) if s] == [w for w, s in zip(want, sure) if s], text
        compared += sum(sure)
    assert compared >= 6  # the check has teeth: enough steps were outside the tolerance band


@pytest.mark.parametrize("setting,ckpt", [("bf16", {"tie": True}), ("bf16", {}), ("int8+bf16", {"tie": True})],
                         ids=["bf16-tied", "bf16-untied", "int8-tied"])
def test_top_logits_are_exact_at_inference(make_tiny_ckpt, setting, ckpt):
    """bf16 rounds each logit (a step of 1/16 at 8-16), and a small model's greedy answers turn on
    smaller margins: at inference the top candidates are float32 dot products of the hidden state
    with the float table; training keeps the rounded logits."""
    m = _load(make_tiny_ckpt(**ckpt), **LOAD, **TOL[setting][0]).model
    table = m.decoder.embed_tokens.weight if m.cfg.decoder.tie_embeddings else m.lm_head.weight
    assert table.dtype == torch.bfloat16
    h = torch.randn(6, m.cfg.decoder.hidden, generator=torch.Generator().manual_seed(0)).bfloat16() * 4
    exact = torch.nn.functional.linear(m.decoder.norm(h).float(), table.float())
    with torch.inference_mode():
        got = m.head(h)
    assert got.dtype == torch.float32
    top = got.topk(4, -1).indices  # well inside the 16 recomputed
    assert torch.allclose(got.gather(-1, top), exact.gather(-1, top), rtol=0, atol=1e-4)
    assert torch.equal(got.argmax(-1), exact.argmax(-1))
    with torch.no_grad():
        plain = (m.lm_head(m.decoder.norm(h)) if hasattr(m, "lm_head") else
                 torch.nn.functional.linear(m.decoder.norm(h), table)).float()
    assert (plain.gather(-1, top) - exact.gather(-1, top)).abs().max() > 1e-3  # the rounding it removes
    with torch.enable_grad():
        assert m.head(h).dtype == torch.bfloat16  # training: the plain logits


@pytest.mark.parametrize("setting,ckpt", [("bf16 weights", {"tie": True}), ("bf16 weights", {}),
                                          ("int8", {"tie": True})], ids=["bf16w-tied", "bf16w-untied", "int8-tied"])
def test_weight_only_heads_give_exact_top_logits_in_a_float32_model(make_tiny_ckpt, setting, ckpt):
    """A quantized head hands back float32 logits that are still rounded (bf16 / int8 weights): the top
    candidates are recomputed from the float table all the same, the tied embeddings (float32 here)
    or an untied bf16 head's own weight (its dot products then exact in float32)."""
    m = _load(make_tiny_ckpt(**ckpt), **LOAD, **TOL[setting][0]).model
    table = m.decoder.embed_tokens.weight if m.cfg.decoder.tie_embeddings else m.lm_head.weight
    assert m.decoder.embed_tokens.weight.dtype == torch.float32 and not isinstance(m.lm_head, torch.nn.Linear)
    h = torch.randn(6, m.cfg.decoder.hidden, generator=torch.Generator().manual_seed(0)) * 4
    exact = torch.nn.functional.linear(m.decoder.norm(h), table.float())
    with torch.inference_mode():
        got, plain = m.head(h), m.lm_head(m.decoder.norm(h))
    assert got.dtype == plain.dtype == torch.float32
    top = got.topk(4, -1).indices
    assert torch.allclose(got.gather(-1, top), exact.gather(-1, top), rtol=0, atol=1e-4)
    assert torch.equal(got.argmax(-1), exact.argmax(-1))
    assert (plain.gather(-1, top) - exact.gather(-1, top)).abs().max() > 1e-3  # the rounding it removes


def test_bf16_weights_keep_float32_between_the_matmuls(make_tiny_ckpt, images):
    """`--quant bf16`: the decoder's linears (and head) hold bf16 weights, everything else float32 (the
    residual stream, norms, KV cache, tower), and its logits are nearer float32's than `--dtype
    bfloat16`'s, which also rounds the hidden states between layers."""
    folder = make_tiny_ckpt()
    ref, w, low = _load(folder, **F32), _load(folder, **LOAD, **TOL["bf16 weights"][0]), _load(folder, **LOAD, **TOL["bf16"][0])
    layer = w.model.decoder.layers[0]
    assert layer.self_attn.q_proj.weight.dtype == layer.mlp.gate_up.weight.dtype == torch.bfloat16
    assert layer.input_layernorm.weight.dtype == w.model.decoder.embed_tokens.weight.dtype == torch.float32
    assert w.model.vision.embeddings.patch_embedding.weight.dtype == torch.float32
    assert any("14 bf16" in n and "LM head bf16" in n for n in w.info.notes), w.info.notes
    ids, pixels = _inputs(ref, images, *PROMPTS[0])
    a = ref.logits(ids[None], pixels)[0].float()
    err = {name: ((a - e.logits(ids[None], pixels)[0].float()).abs().amax(-1) / a.abs().amax(-1)).max().item()
           for name, e in (("weights", w), ("dtype", low))}
    assert err["weights"] < err["dtype"], err


def test_cpu_without_bf16_falls_back_to_float32_with_a_note(tiny_llava, monkeypatch):
    monkeypatch.setattr(cpu, "FORCE_NATIVE_BF16", False)
    e = _load(tiny_llava, dtype="bfloat16", **LOAD)
    assert e.info.dtype == "float32" and e.model.decoder.embed_tokens.weight.dtype == torch.float32
    assert any("no native bf16" in n for n in e.info.notes), e.info.notes
    monkeypatch.setattr(cpu, "BF16_DEFAULT_ON_CPU", True)  # the default, if switched on, falls back too
    d = _load(tiny_llava, **LOAD)
    assert d.info.dtype == "float32" and any("no native bf16" in n for n in d.info.notes)
    q = _load(tiny_llava, quant="bf16", **LOAD)  # bf16 weights: float32 ones, said
    assert q.info.quantization is None and type(q.model.decoder.layers[0].mlp.down_proj) is torch.nn.Linear
    assert any("float32 weights instead of the bf16" in n for n in q.info.notes), q.info.notes


def test_bf16_default_is_one_switch(tiny_llava, monkeypatch):
    monkeypatch.setattr(cpu, "BF16_DEFAULT_ON_CPU", False)
    assert _load(tiny_llava, **LOAD).info.dtype == "float32"  # the switch off: float32 by default
    monkeypatch.setattr(cpu, "BF16_DEFAULT_ON_CPU", True)
    assert _load(tiny_llava, **F32).info.dtype == "float32"  # the switch on: float32 when asked
    monkeypatch.setattr(model_module, "SMALL_TOWER", SMALL_TOWER)
    e = _load(tiny_llava, **LOAD)
    assert e.info.dtype == "bfloat16" and e.model.decoder.embed_tokens.weight.dtype == torch.bfloat16
    assert e.model.decoder.inv_freq.dtype == torch.float32  # RoPE frequencies stay exact
    # The tiny tower is small (model.SMALL_TOWER): it runs in float32, said in the notes
    assert e.model.vision.embeddings.patch_embedding.weight.dtype == torch.float32
    assert e.model.projector.linear_1.weight.dtype == torch.float32
    assert any("vision tower and projector in float32" in n for n in e.info.notes)
    monkeypatch.setattr(model_module, "SMALL_TOWER", 0)  # a large tower runs in the compute dtype
    e = _load(tiny_llava, **LOAD)
    assert e.model.vision.embeddings.patch_embedding.weight.dtype == torch.bfloat16
    assert e.model.projector.linear_1.weight.dtype == torch.bfloat16
    assert not any("vision tower" in n for n in e.info.notes)


def test_detection_reads_the_cpu_flags(monkeypatch):
    monkeypatch.setattr(cpu, "FORCE_NATIVE_BF16", None)
    cpu._detected.cache_clear()
    monkeypatch.setattr(cpu, "cpu_flags", lambda: frozenset({"avx512f", "avx512_bf16"}))
    assert cpu.native_bf16() == "avx512_bf16"
    cpu._detected.cache_clear()
    monkeypatch.setattr(cpu, "cpu_flags", lambda: frozenset({"avx2", "fma"}))
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX2")
    assert cpu.native_bf16() is None
    cpu._detected.cache_clear()
