"""Reused work (prefix cache, per-image visual KV store) gives the same logits as none."""
from __future__ import annotations

import json
import shutil

import pytest
import torch

import engine
from engine import GenParams, Image, Message, Text

pytestmark = pytest.mark.usefixtures("float32_default")  # reuse is exact in float32: a bug shows
TOL = 1e-4


def fresh(eng, msgs):
    ids, pixels = eng.inner.prepare(msgs)
    return eng.inner.logits(ids[None], pixels)[0, -1]


def check(eng, msgs):
    got, extra = eng.inner.first_logits(msgs)
    assert (got - fresh(eng, msgs)).abs().max().item() <= TOL
    return extra


@pytest.fixture(params=["gqa", "rope-scaled"])
def ckpt(request, make_tiny_ckpt):
    if request.param == "gqa":
        return make_tiny_ckpt()
    return make_tiny_ckpt(rope_scaling={"rope_type": "linear", "factor": 4.0}, kv_heads=1)


@pytest.fixture(params=[True, False], ids=["visual_mlp", "no_visual_mlp"])
def comp(request, ckpt, load_engine):
    return load_engine(ckpt, backend="torch", attention="composite", visual_mlp=request.param,
                       kv_cache_dir=False)


def test_image_at_another_position_after_other_text(comp, images):
    a = check(comp, [Message.user("Describe.", [images[0]])])
    assert a["visual_cache_misses"] == 1
    b = check(comp, [Message("user", [Text("Some quite different words first, then "), Image(images[0]),
                                      Text(" what colour?")])])
    assert b["visual_cache_hits"] == 1 and b["images_encoded"] == 0
    assert b["reused_prefix_tokens"] <= 3  # only the template's "USER:" is shared; the image moved


@pytest.mark.slow
def test_same_image_twice_in_one_message(comp, images):
    extra = check(comp, [Message("user", [Image(images[1]), Text(" and again "), Image(images[1]), Text("?")])])
    assert extra["visual_cache_misses"] == 1 and extra["visual_cache_hits"] == 1


@pytest.mark.slow
def test_across_two_turns_and_regenerate(comp, images):
    turn1 = [Message.user("What is it?", [images[0]])]
    answer = engine.collect(comp.stream(turn1, GenParams(max_new_tokens=6, temperature=0)))[0]
    turn2 = turn1 + [Message.assistant(answer), Message.user("And this one?", [images[1]])]
    extra = check(comp, turn2)
    assert extra["reused_prefix_tokens"] > 16  # the first prompt, image included
    again = check(comp, turn2)                 # regenerate: everything but the last token reused
    assert again["prefilled_tokens"] == 1


@pytest.mark.slow
def test_full_attention_prefix_cache(ckpt, images, load_engine):
    full = load_engine(ckpt, backend="torch", attention="full")
    turn1 = [Message.user("What is it?", [images[0]])]
    answer = engine.collect(full.stream(turn1, GenParams(max_new_tokens=6, temperature=0)))[0]
    extra = check(full, turn1 + [Message.assistant(answer), Message.user("More?")])
    assert extra["reused_prefix_tokens"] >= len(full.inner.prepare(turn1)[0]) - 1
    assert extra["images_encoded"] == 0


@pytest.mark.slow
def test_different_image_misses(comp, images):
    comp.inner.first_logits([Message.user("Describe.", [images[0]])])
    assert check(comp, [Message.user("Other words.", [images[1]])])["visual_cache_misses"] == 1


def copy_ckpt(src, dst, **processor_changes):
    shutil.copytree(src, dst)
    if processor_changes:
        p = dst / "processor_config.json"
        cfg = json.loads(p.read_text())
        cfg["image_processor"].update(processor_changes)
        p.write_text(json.dumps(cfg))
    return dst


@pytest.mark.slow
def test_disk_tier_survives_restart_and_never_serves_stale(make_tiny_ckpt, images, tmp_path, load_engine):
    base = make_tiny_ckpt()
    disk = tmp_path / "kv"
    load = lambda folder: load_engine(folder, backend="torch", attention="composite", kv_cache_dir=disk)
    msgs = [Message.user("Describe.", [images[0]])]
    assert check(load(base), msgs)["visual_cache_misses"] == 1
    assert len(list(disk.glob("*.safetensors"))) == 1
    restarted = check(load(base), [Message.user("Other text entirely.", [images[0]])])
    assert restarted["visual_cache_hits"] == 1 and restarted["images_encoded"] == 0
    other_model = make_tiny_ckpt(seed=1)
    assert check(load(other_model), msgs)["visual_cache_misses"] == 1
    other_prep = copy_ckpt(base, tmp_path / "prep", image_mean=[0.5, 0.5, 0.5])
    assert check(load(other_prep), msgs)["visual_cache_misses"] == 1
    assert len(list(disk.glob("*.safetensors"))) == 3


@pytest.mark.slow
def test_disk_tier_respects_its_size_limit(tiny_llava, images, tmp_path, load_engine):
    probe = load_engine(tiny_llava, backend="torch", attention="composite", kv_cache_dir=tmp_path / "a")
    probe.inner.first_logits([Message.user("x", [images[0]])])
    entry = probe.inner.prefiller.store.disk_bytes()
    eng = load_engine(tiny_llava, backend="torch", attention="composite", kv_cache_dir=tmp_path / "b",
                      kv_disk_bytes=int(entry * 1.5))
    for img in images:
        eng.inner.first_logits([Message.user("x", [img])])
    assert 0 < eng.inner.prefiller.store.disk_bytes() <= entry * 1.5
    assert len(list((tmp_path / "b").glob("*.safetensors"))) == 1


@pytest.mark.slow
def test_corrupt_disk_entry_is_a_miss(tiny_llava, images, tmp_path, load_engine):
    load = lambda: load_engine(tiny_llava, backend="torch", attention="composite", kv_cache_dir=tmp_path)
    msgs = [Message.user("Describe.", [images[0]])]
    load().inner.first_logits(msgs)
    (f,) = tmp_path.glob("*.safetensors")
    f.write_bytes(f.read_bytes()[:100])
    assert check(load(), msgs)["visual_cache_misses"] == 1


@pytest.mark.slow
def test_memory_lru_is_bounded(tiny_llava, images, load_engine):
    probe = load_engine(tiny_llava, backend="torch", attention="composite", kv_cache_dir=False)
    probe.inner.first_logits([Message.user("x", [images[0]])])
    one = probe.inner.prefiller.store.used
    eng = load_engine(tiny_llava, backend="torch", attention="composite", kv_cache_dir=False,
                      kv_cache_bytes=int(one * 1.5))
    for img in images + images[:1]:
        eng.inner.first_logits([Message.user("x", [img])])
    assert eng.inner.prefiller.store.used <= one * 1.5 and len(eng.inner.prefiller.store.mem) == 1


@pytest.mark.slow
def test_fp16_storage_halves_memory_and_stays_close(tiny_llava, images, tmp_path, load_engine):
    """kv_cache_dtype="float16" (opt-in; the README gives the measured error) keeps half the
    bytes, stays within 2e-3 of a fresh prefill, and never shares entries with a float32 store."""
    stores = {}
    for kv_dtype in (None, "float16"):
        eng = load_engine(tiny_llava, backend="torch", attention="composite", kv_cache_dir=tmp_path / "kv",
                          kv_cache_dtype=kv_dtype)
        eng.inner.first_logits([Message.user("Describe.", [images[0]])])
        msgs = [Message("user", [Text("Other words first "), Image(images[0])])]
        got, extra = eng.inner.first_logits(msgs)
        assert extra["visual_cache_hits"] == 1 and extra["visual_cache_misses"] == 0
        stores[kv_dtype] = (eng.inner.prefiller.store.used, (got - fresh(eng, msgs)).abs().max().item())
    assert stores["float16"][0] * 2 == stores[None][0]
    assert stores[None][1] <= 1e-4 and stores["float16"][1] <= 2e-3
    assert len(list((tmp_path / "kv").glob("*.safetensors"))) == 2  # one entry per storage dtype
