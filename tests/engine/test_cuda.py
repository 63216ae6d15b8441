"""CUDA paths: run only where an NVIDIA GPU is visible; skipped (and saying why) everywhere else."""
from __future__ import annotations

import pytest
import torch

import engine
from engine import GenParams, Message
from engine.llava.forward import available_kernels

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(),
                                reason="needs an NVIDIA GPU; none is visible on this machine")


@pytest.fixture(scope="module")
def mid_ckpt(make_tiny_ckpt):
    """Big enough that bf16 rounding and kernel tiling matter, small enough to write quickly."""
    return make_tiny_ckpt(hidden=256, layers=4, seed=5)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["full", "composite"])
def test_bf16_kernels_match_the_fp32_reference(mid_ckpt, images, mode, load_engine):
    ref = load_engine(mid_ckpt, backend="torch", device="cpu", attention=mode)
    ids, pixels = ref.inner.prepare([Message.user("Compare them.", images)])
    want = ref.inner.logits(ids[None], pixels)[0]
    for kernel in available_kernels("cuda"):
        e = load_engine(mid_ckpt, backend="torch", device="cuda", dtype="bfloat16", attention=mode, kernel=kernel)
        got = e.inner.logits(ids[None].cuda(), pixels.cuda())[0].float().cpu()
        # bf16 keeps 8 bits of mantissa: allow 3% of the logit range, and the same greedy choice
        # on nearly every position.
        assert (got - want).abs().max().item() <= 0.03 * want.abs().max().item(), kernel
        assert (got.argmax(-1) == want.argmax(-1)).float().mean().item() >= 0.95, kernel


@pytest.mark.slow
@pytest.mark.parametrize("quant", ["8bit", "4bit"])
def test_quantized_load_on_gpu_stays_within_the_estimate(mid_ckpt, quant, load_engine):
    pytest.importorskip("bitsandbytes")
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    e = load_engine(mid_ckpt, backend="torch", device="cuda", quant=quant, max_context=1024)
    text, rest = engine.collect(e.stream([Message.user("Hello")], GenParams(max_new_tokens=8, temperature=0)))
    assert rest[-1].reason in ("stop", "length")
    peak = torch.cuda.max_memory_allocated() - base
    assert peak <= e.inner.estimate.total * 1.25 + 32 * 2 ** 20, (peak, e.inner.estimate.describe())


def test_realistic_size_random_checkpoint_in_4bit(tmp_path, load_engine):
    """A ~1B-parameter decoder written at random and loaded in 4-bit: the full-precision decoder
    never reaches the GPU, so the peak stays near the 4-bit estimate."""
    pytest.importorskip("bitsandbytes")
    from engine.llava.tiny import make_tiny
    folder = make_tiny(tmp_path / "big", hidden=2048, layers=16, heads=16, kv_heads=4)
    torch.cuda.reset_peak_memory_stats()
    e = load_engine(folder, backend="torch", device="cuda", quant="4bit", max_context=2048)
    assert torch.cuda.max_memory_allocated() <= e.inner.estimate.total * 1.25
    assert engine.collect(e.stream([Message.user("Hi")], GenParams(max_new_tokens=4)))[1][-1].reason != "error"


@pytest.mark.slow
def test_compiled_decode_matches_eager(mid_ckpt, load_engine):
    """float32: fused bf16 kernels round differently, and a random model's near-tied logits would
    then flip greedy choices without anything being wrong."""
    msgs = [Message.user("Count.")]
    p = GenParams(max_new_tokens=12, temperature=0)
    load = dict(backend="torch", device="cuda", dtype="float32")
    eager = engine.collect(load_engine(mid_ckpt, **load).stream(msgs, p))[0]
    compiled = engine.collect(load_engine(mid_ckpt, compile=True, **load).stream(msgs, p))[0]
    assert compiled == eager
