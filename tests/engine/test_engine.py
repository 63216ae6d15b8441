"""The torch engine's contract: caching, composite really skipping work, streaming, cancel, errors."""
from __future__ import annotations

import json
import shutil
import threading

import pytest
import torch

import engine
from engine import Done, EngineError, GenParams, Message, Stats, Token
from engine.llava.generate import Timings, decode_one, prefill
from engine.llava.decoder import KVCache

pytestmark = pytest.mark.usefixtures("float32_default")  # parity is measured in float32


@pytest.fixture(scope="module")
def eng(tiny_llava):
    e = engine.load(tiny_llava, backend="torch", dtype="float32")  # module scope: float32_default is not yet on
    yield e
    e.close()


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["full", "composite"])
def test_cached_decode_equals_uncached_recomputation(tiny_llava, images, mode, load_engine):
    e = load_engine(tiny_llava, backend="torch", attention=mode, visual_mlp=False)
    ids, pixels = e.inner.prepare([Message.user("Describe it.", [images[0]])])
    cache = KVCache(e.inner.model.cfg.decoder, len(ids) + 6, torch.float32, "cpu")
    with torch.inference_mode():
        logits = e.inner.model.head(prefill(e.inner.model, ids, pixels, cache, e.inner.run, Timings())[0, -1])
    seq = ids.clone()
    for step in range(6):
        tok = int(logits.argmax())
        logits = decode_one(e.inner.model, tok, len(seq), cache, e.inner.run)
        seq = torch.cat([seq, torch.tensor([tok])])
        full = e.inner.logits(seq[None], pixels)[0, -1]
        assert (logits - full).abs().max().item() <= 1e-4, f"step {step}"


def count_rows(module, counter, key):
    def hook(_, inputs, __):
        counter[key] = counter.get(key, 0) + inputs[0].shape[:-1].numel()
    return module.register_forward_hook(hook)


@pytest.mark.parametrize("visual_mlp", [True, False])
def test_composite_skips_queries_and_visual_mlp(tiny_llava, images, visual_mlp, load_engine):
    """Counted at the projections themselves: visual rows never reach q_proj (nor the MLP when off)."""
    e = load_engine(tiny_llava, backend="torch", attention="composite", visual_mlp=visual_mlp)
    ids, pixels = e.inner.prepare([Message.user("Describe it.", images)])
    n_vis = int((ids == e.inner.model.cfg.image_token_id).sum())
    n_text = len(ids) - n_vis
    counts = {}
    layer = e.inner.model.decoder.layers[0]
    hooks = [count_rows(layer.self_attn.q_proj, counts, "q"), count_rows(layer.self_attn.k_proj, counts, "k"),
             count_rows(layer.mlp.gate_proj, counts, "mlp")]
    e.inner.logits(ids[None], pixels)
    for h in hooks:
        h.remove()
    assert counts["q"] == n_text
    assert counts["k"] == len(ids)  # text attends to visual keys, so they are still computed
    assert counts["mlp"] == (len(ids) if visual_mlp else n_text)


def test_stream_events_and_stats(eng, images):
    evs = list(eng.stream([Message.user("What is in the pictures?", images)],
                          GenParams(max_new_tokens=12, temperature=0)))
    tokens = [e for e in evs if isinstance(e, Token)]
    stats = [e for e in evs if isinstance(e, Stats)]
    assert len(tokens) >= 3 and isinstance(evs[-1], Done) and isinstance(evs[-2], Stats)
    assert stats[0].prefill_ms > 0 and stats[0].decode_tokens_per_s > 0
    assert stats[0].generated_tokens <= 12 and stats[0].extra["visual_tokens"] == 32


def test_multi_turn_with_images_across_turns(eng, images):
    msgs = [Message.user("Look at this.", [images[0]]), Message.assistant("I see a red picture."),
            Message.user("And this one?", [images[1]])]
    ids, pixels = eng.inner.prepare(msgs)
    assert pixels.shape[0] == 2
    assert int((ids == eng.inner.model.cfg.image_token_id).sum()) == 2 * eng.inner.model.cfg.image_seq_length
    text = eng.inner.prompter.tokenizer.decode(ids[ids != eng.inner.model.cfg.image_token_id])
    assert "I see a red picture." in text and text.index("Look at this.") < text.index("And this one?")


def test_seeded_sampling_is_reproducible_and_seed_matters(eng):
    msgs = [Message.user("Tell me a story.")]
    p = dict(max_new_tokens=10, temperature=1.0, top_p=0.9, top_k=50, repetition_penalty=1.1)
    a = engine.collect(eng.stream(msgs, GenParams(seed=1, **p)))[0]
    b = engine.collect(eng.stream(msgs, GenParams(seed=1, **p)))[0]
    c = engine.collect(eng.stream(msgs, GenParams(seed=2, **p)))[0]
    assert a == b and a != c


def test_stop_string_ends_the_answer(eng):
    msgs = [Message.user("Go on.")]
    free = engine.collect(eng.stream(msgs, GenParams(max_new_tokens=20, temperature=0)))[0]
    stop = free[len(free) // 2: len(free) // 2 + 3]
    assert stop.strip()
    text, rest = engine.collect(eng.stream(msgs, GenParams(max_new_tokens=20, temperature=0, stop=(stop,))))
    assert text == free[:free.index(stop)] and rest[-1].reason == "stop"


def test_cancel_stops_within_one_token(eng):
    cancel = threading.Event()
    tokens = 0
    for ev in eng.stream([Message.user("Count to a hundred.")], GenParams(max_new_tokens=200, temperature=0), cancel):
        if isinstance(ev, Token):
            tokens += 1
            cancel.set()
        last = ev
    assert tokens <= 2 and last.reason == "cancelled"


@pytest.mark.slow
def test_ee_mllm_checkpoint_loads_composite_with_its_visual_mlp(make_tiny_ckpt, load_engine):
    folder = make_tiny_ckpt(ee_mllm={"attention": "composite", "visual_mlp": False})
    e = load_engine(folder, backend="torch")
    assert e.info.attention == "composite" and e.inner.run.visual_mlp is False
    assert load_engine(folder, backend="torch", attention="full").info.attention == "full"


def test_missing_folder_is_a_clear_error(tmp_path, load_engine):
    with pytest.raises(EngineError, match="not found"):
        load_engine(tmp_path / "nope", backend="torch")


def test_pickle_checkpoint_is_refused(tiny_llava, tmp_path, load_engine):
    shutil.copy(tiny_llava / "config.json", tmp_path / "config.json")
    (tmp_path / "pytorch_model.bin").write_bytes(b"\x80\x04not really a pickle")
    with pytest.raises(EngineError, match="never read"):
        load_engine(tmp_path, backend="torch")


def test_corrupt_safetensors_is_a_clear_error(tiny_llava, tmp_path, load_engine):
    for f in tiny_llava.iterdir():
        shutil.copy(f, tmp_path / f.name)
    data = (tmp_path / "model.safetensors").read_bytes()
    (tmp_path / "model.safetensors").write_bytes(data[: len(data) // 3])
    with pytest.raises(EngineError, match="safetensors"):
        load_engine(tmp_path, backend="torch")


def test_unsupported_architecture_is_a_clear_error(tmp_path, load_engine):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "mamba"}))
    with pytest.raises(EngineError, match="not supported"):
        load_engine(tmp_path, backend="torch")


def test_unreadable_image_is_a_clear_error(eng, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    with pytest.raises(EngineError, match="bad.png"):
        list(eng.stream([Message.user("What?", [str(bad)])], GenParams(max_new_tokens=2)))


def test_wrong_image_count_is_a_clear_error(eng, images):
    ids, pixels = eng.inner.prepare([Message.user("Two?", images)])
    with pytest.raises(EngineError, match="image"):
        eng.inner.logits(ids[None], pixels[:1])
    with pytest.raises(EngineError, match="no image was attached"):
        eng.inner.prepare([Message.user("What is <image> this?")])


def test_fixed_shape_decode_step_equals_the_sliced_one(tiny_llava, images, load_engine):
    """The step that torch.compile / CUDA graphs capture attends over the whole cache through a
    mask; it must give what the sliced step gives."""
    from engine.llava.forward import RunConfig, text_layers
    e = load_engine(tiny_llava, backend="torch", attention="composite")
    ids, pixels = e.inner.prepare([Message.user("Describe it.", [images[0]])])
    cache = KVCache(e.inner.model.cfg.decoder, len(ids) + 40, torch.float32, "cpu", bucket=64)
    assert cache.capacity == 64 * ((len(ids) + 40 + 63) // 64)
    with torch.inference_mode():
        prefill(e.inner.model, ids, pixels, cache, e.inner.run, Timings())
        x = e.inner.model.decoder.embed_tokens(torch.tensor([[5]]))
        pos = torch.tensor([len(ids)])
        a = text_layers(e.inner.model.decoder, x, pos, cache, run=RunConfig())
        b = text_layers(e.inner.model.decoder, x, pos, cache, run=RunConfig(), static=True)
    assert (a - b).abs().max().item() <= 1e-5


@pytest.mark.slow
def test_info_command_describes_the_checkpoint(tiny_llava):
    import json
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-m", "engine", "info", "--model", str(tiny_llava), "--json"],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    d = json.loads(out)
    assert d["backend"] == "torch" and d["vision"] is True
    assert "decoder llama: 2 layers, hidden 64, heads 4 (kv 2)" in d["architecture"]
    assert "16 visual tokens per image" in d["architecture"]  # 56 px / patch 14, CLS dropped
    assert d["boxes"] == "any known box text (auto)"  # the tiny config names no format
    out = subprocess.run([sys.executable, "-m", "engine", "info", "--model", str(tiny_llava), "--json",
                          "--box-format", "qwen2_vl"], capture_output=True, text=True, timeout=120,
                         check=True).stdout
    assert json.loads(out)["boxes"] == "qwen2_vl box text"


@pytest.mark.parametrize("drop, says", [(("tokenizer.json", "tokenizer_config.json"), "tokenizer"),
                                        (("processor_config.json", "preprocessor_config.json"), "processor files")])
def test_missing_tokenizer_or_processor_files_are_clear_errors(tiny_llava, tmp_path, drop, says, load_engine):
    folder = tmp_path / "ckpt"
    shutil.copytree(tiny_llava, folder)
    for name in drop:
        (folder / name).unlink(missing_ok=True)
    with pytest.raises(EngineError, match=says):
        load_engine(folder, backend="torch")
