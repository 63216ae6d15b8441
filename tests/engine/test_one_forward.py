"""One forward serves the app and training: a batch without a cache, with autograd on (as training
runs it), gives the logits the app's reusing prefill gives, in both attention modes."""
from __future__ import annotations

import gc
import weakref

import pytest
import torch

import engine
from engine import Message
from engine.llava.forward import forward

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("float32_default")]  # training is float32


@pytest.mark.parametrize("attention, visual_mlp", [("full", True), ("composite", True), ("composite", False)])
def test_training_batch_equals_the_apps_prefill(tiny_llava, images, attention, visual_mlp, load_engine):
    e = load_engine(tiny_llava, backend="torch", attention=attention, visual_mlp=visual_mlp, kv_cache_dir=False)
    turns = [[Message.user("What colour is it?", [images[0]])], [Message.user("Where is the box?", [images[1]])]]
    prompts = [e.inner.build(t) for t in turns]
    assert len(prompts[0].ids) == len(prompts[1].ids)  # same layout: the batch shares its visual rows
    ids = torch.stack([p.ids for p in prompts])
    pixels = torch.cat([p.pixels for p in prompts])
    m = e.inner.model
    m.requires_grad_(True)
    x, is_visual = m.embed(ids, m.image_features(pixels))
    h = forward(m.decoder, x, torch.arange(ids.shape[1]), is_visual, None, e.inner.run)  # autograd on
    logits = m.head(h[:, -1])
    logits.logsumexp(-1).sum().backward()   # differentiable down to the vision tower
    assert m.vision.embeddings.patch_embedding.weight.grad.abs().sum() > 0
    assert m.decoder.layers[0].self_attn.v_proj.weight.grad.abs().sum() > 0
    for row, t in enumerate(turns):
        app, _ = e.inner.first_logits(t)   # the app's path: Prefiller with its KV cache
        assert (logits[row].detach() - app).abs().max().item() <= 1e-4


def test_a_closed_compiled_engine_frees_its_weights(tiny_llava, images, load_engine):
    e = load_engine(tiny_llava, backend="torch", attention="composite", compile=True, kv_cache_dir=False)
    engine.collect(e.stream([Message.user("Hi", [images[0]])], engine.GenParams(max_new_tokens=3, temperature=0)))
    assert "compiled_steps" in e.inner.model.decoder.__dict__   # the compiled decode step ran
    ref = weakref.ref(e.inner.model)
    e.close()
    gc.collect()
    assert ref() is None
