"""GPU-oriented paths that can be checked on a CPU: the memory estimate, the refusal, and the
bitsandbytes layer swap (bitsandbytes runs NF4 and LLM.int8 on the CPU too)."""
from __future__ import annotations

import dataclasses
import logging

import pytest
import torch
from torch import nn

import engine
from engine import EngineError, Message
from engine.llava.config import read_config
from engine.llava.memory import GiB, check_fits, estimate, param_count
from engine.llava.model import meta_model, vision_params

pytestmark = pytest.mark.usefixtures("float32_default")  # parity is measured in float32


def test_estimate_matches_hand_computed_numbers(tiny_llava, load_engine, monkeypatch):
    cfg = read_config(tiny_llava)
    # Tiny: hidden 64, intermediate 128, 2 layers, 4 heads, 2 KV heads, head_dim 16.
    # Per layer: q 64*64 + k 32*64 + v 32*64 + o 64*64 + gate/up/down 3 * 128*64 = 36,864.
    linear, other = param_count(cfg)
    assert linear == 2 * 36_864
    loaded = load_engine(tiny_llava, backend="torch", device="cpu")
    assert linear + other == sum(p.numel() for p in loaded.inner.model.parameters())
    est = estimate(cfg, 4, None, context=1024)
    assert est.weights == (linear + other) * 4
    assert est.kv_cache == 2 * 2 * 2 * 16 * 1024 * 4          # K and V, layers, KV heads, head_dim, tokens, fp32
    assert est.activations == 1024 * (4 * 64 + 2 * 128) * 4 + 4 * 1024 * 1024 * 4 + 4 * cfg.decoder.vocab_size
    # At 2 bytes the tiny tower and projector still count 4 (small: they run in float32)
    vision = vision_params(meta_model(cfg))
    assert 0 < vision < other
    from engine.llava import cpu
    monkeypatch.setattr(cpu, "FORCE_NATIVE_BF16", True)  # bf16 on any CPU that runs the tests
    bf16 = load_engine(tiny_llava, backend="torch", device="cpu", dtype="bfloat16").inner.model
    assert estimate(cfg, 2, None, context=1024).weights == sum(p.nbytes for p in bf16.parameters())
    q4 = estimate(cfg, 2, "4bit", context=1024)
    assert q4.weights == int(linear * (0.5 + 1 / 64 + 4 / 16384)) + other * 2 + vision * 2
    q8 = estimate(cfg, 2, "8bit", context=1024)
    assert q8.weights == linear + 4 * 2 * (64 + 32 + 32 + 64 + 128 + 128 + 64) + other * 2 + vision * 2


def test_refusal_names_the_numbers_and_the_options(tiny_llava):
    cfg = read_config(tiny_llava)
    huge = dataclasses.replace(cfg, decoder=dataclasses.replace(
        cfg.decoder, hidden=16384, intermediate=65536, n_layers=160, n_heads=128, n_kv_heads=8, head_dim=128))
    with pytest.raises(EngineError) as e:
        check_fits(huge, "cpu", 2, None, 8192)
    msg = str(e.value)
    assert "will not fit" in msg and "GiB" in msg and "--quant int4" in msg and "GGUF" in msg
    if torch.cuda.is_available():  # on a GPU the smaller option is bitsandbytes' 4bit
        with pytest.raises(EngineError, match="--quant 4bit"):
            check_fits(huge, "cuda", 2, None, 8192)
    assert check_fits(cfg, "cpu", 4, None, 1024).total < GiB


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["8bit", "4bit"])
def test_quantized_decoder_layers_are_swapped_and_still_agree(tiny_llava, images, mode, load_engine):
    bnb = pytest.importorskip("bitsandbytes", reason="bitsandbytes is not installed")
    ref = load_engine(tiny_llava, backend="torch", device="cpu")
    q = load_engine(tiny_llava, backend="torch", device="cpu", quant=mode)
    cls = bnb.nn.Linear4bit if mode == "4bit" else bnb.nn.Linear8bitLt
    layer = q.inner.model.decoder.layers[0]
    assert isinstance(layer.self_attn.q_proj, cls) and isinstance(layer.mlp.down_proj, cls)
    assert type(q.inner.model.projector.linear_1) is nn.Linear and q.inner.model.projector.linear_1.weight.dtype == torch.float32
    assert type(q.inner.model.vision.encoder.layers[0].mlp.fc1) is nn.Linear
    assert q.info.quantization == mode
    ids, pixels = ref.inner.prepare([Message.user("Describe.", [images[0]])])
    a, b = ref.inner.logits(ids[None], pixels)[0, -1], q.inner.logits(ids[None], pixels)[0, -1]
    assert torch.cosine_similarity(a, b, dim=0) > (0.99 if mode == "8bit" else 0.95)
    assert engine.collect(q.stream([Message.user("Hi")], engine.GenParams(max_new_tokens=4, temperature=0)))[1][-1].reason in ("length", "stop")


@pytest.mark.slow
def test_int8_cast_notice_is_logged_once_not_per_matmul(tiny_llava, caplog, load_engine):
    """bitsandbytes logs its float32 -> float16 cast at every LLM.int8 matmul (40 lines for a
    3-token answer); once is enough."""
    pytest.importorskip("bitsandbytes", reason="bitsandbytes is not installed")
    q = load_engine(tiny_llava, backend="torch", device="cpu", quant="8bit")
    with caplog.at_level(logging.WARNING, logger="bitsandbytes"):
        engine.collect(q.stream([Message.user("Hi")], engine.GenParams(max_new_tokens=4, temperature=0)))
    casts = [r for r in caplog.records if "will be cast" in r.getMessage()]
    assert len(casts) <= 1, len(casts)


def test_unknown_kernel_is_a_clear_error(tiny_llava, load_engine):
    with pytest.raises(EngineError, match="not available"):
        load_engine(tiny_llava, backend="torch", device="cpu", kernel="flash")


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["4bit", "8bit"])
def test_prequantized_bitsandbytes_checkpoint_loads_as_saved(make_tiny_ckpt, images, tmp_path, mode, load_engine):
    """A checkpoint quantized and saved by transformers + bitsandbytes loads without re-quantizing
    and gives transformers' own logits for it."""
    pytest.importorskip("bitsandbytes", reason="bitsandbytes is not installed")
    import shutil
    from transformers import BitsAndBytesConfig, LlavaForConditionalGeneration
    src = make_tiny_ckpt(vision_hidden=64, hidden=128)  # bitsandbytes' CPU path wants rows >= 64
    qc = (BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                             bnb_4bit_compute_dtype=torch.float32) if mode == "4bit"
          else BitsAndBytesConfig(load_in_8bit=True))
    hf = LlavaForConditionalGeneration.from_pretrained(src, quantization_config=qc, device_map="cpu")
    out = tmp_path / mode
    hf.save_pretrained(out)
    for f in src.iterdir():
        if not (out / f.name).exists():
            shutil.copy(f, out / f.name)
    e = load_engine(out, backend="torch", device="cpu")
    assert e.inner.model.cfg.quantization == mode
    bnb = pytest.importorskip("bitsandbytes")
    cls = bnb.nn.Linear4bit if mode == "4bit" else bnb.nn.Linear8bitLt
    assert isinstance(e.inner.model.decoder.layers[0].mlp.up_proj, cls)
    ids, pixels = e.inner.prepare([Message.user("Describe.", [images[0]])])
    with torch.no_grad():
        want = LlavaForConditionalGeneration.from_pretrained(out, device_map="cpu")(
            input_ids=ids[None], pixel_values=pixels).logits
    assert (e.inner.logits(ids[None], pixels) - want).abs().max().item() <= 1e-3
