"""LLaVA-NeXT (any-resolution tiling) in our torch engine against transformers'
LlavaNextForConditionalGeneration and LlavaNextProcessor (PIL image processor, pinned) on the same
random weights. The tiny checkpoints keep llava-v1.6's real geometry (336 px tiles, patch 14, its
grid pinpoints) with tiny widths, so the token counts are the real ones."""
from __future__ import annotations

import pytest
import torch
from PIL import Image as PILImage, ImageDraw

from engine import Image, Message, Text
from engine.llava import anyres
from engine.llava.tiny import v16_pinpoints
from test_parity import composite_mask

pytestmark = pytest.mark.usefixtures("float32_default")  # parity is measured in float32

TOL = 1e-4
SIZES = [(672, 672), (336, 1008), (1008, 336), (750, 1000), (1000, 750), (200, 300), (336, 336)]  # (H, W)
V16_TOKENS = {(672, 672): 2928, (336, 1008): 2328, (1008, 336): 2376, (750, 1000): 2340, (1000, 750): 2352}
DECODERS = {"mistral": dict(family="mistral", template="mistral"), "vicuna": dict(family="llama", template="llava")}


def tiny_next(make_tiny_ckpt, decoder: str):
    return make_tiny_ckpt(**DECODERS[decoder], image_size=336, vision_layers=2, pinpoints=v16_pinpoints(336))


@pytest.fixture(scope="module")
def sized(tmp_path_factory):
    """One PNG per size: a gradient with a box near each corner, so every tile differs."""
    d, out = tmp_path_factory.mktemp("sized"), {}
    for h, w in SIZES:
        im = PILImage.linear_gradient("L").resize((w, h)).convert("RGB")
        draw = ImageDraw.Draw(im)
        for i, (x, y) in enumerate([(0.1, 0.1), (0.7, 0.15), (0.2, 0.75), (0.8, 0.8)]):
            draw.rectangle([x * w, y * h, x * w + w // 8, y * h + h // 8], fill=(60 * i, 200 - 40 * i, 90))
        im.save(d / f"{h}x{w}.png")
        out[h, w] = str(d / f"{h}x{w}.png")
    return out


def ask(*images, text="What is in the picture?"):
    parts = [Text("Look: ")]
    for i, path in enumerate(images):
        parts += [Image(path), Text(" and " if i < len(images) - 1 else " ")]
    return [Message("user", parts + [Text(text)])]


def hf_logits(folder, prompt, mask=None, pinpoints=None):
    from transformers import LlavaNextForConditionalGeneration
    hf = LlavaNextForConditionalGeneration.from_pretrained(folder, dtype=torch.float32).eval()
    if pinpoints is not None:
        hf.config.image_grid_pinpoints = pinpoints
    with torch.no_grad():
        return hf(input_ids=prompt.ids[None], pixel_values=prompt.pixels.values,
                  image_sizes=prompt.pixels.image_sizes(), attention_mask=mask).logits


# ---- the geometry alone -----------------------------------------------------------------------
@pytest.mark.parametrize("size", list(V16_TOKENS))
def test_v16_token_counts(size):
    assert anyres.grid(size, v16_pinpoints(), 336, 14, 576).tokens == V16_TOKENS[size]


def test_best_resolution_ties():
    # Every pinpoint keeps all of a small image: the least waste wins, then the first listed.
    assert anyres.select_best_resolution((100, 100), v16_pinpoints()) == (336, 672)
    assert anyres.select_best_resolution((100, 100), [[672, 336], [336, 672]]) == (672, 336)
    assert anyres.select_best_resolution((750, 1000), v16_pinpoints()) == (672, 672)


def test_max_tiles_caps_the_grid():
    pins = v16_pinpoints()
    two = anyres.grid((672, 672), anyres.cap_pinpoints(pins, 336, 2), 336, 14, 576)
    assert (two.rows * two.cols, two.tokens) == (2, 576 + 24 * 25)  # 1x2 tiles, half of them padding
    base = anyres.grid((672, 672), anyres.cap_pinpoints(pins, 336, 0), 336, 14, 576)
    assert (base.views, base.tokens) == (1, 577)


# ---- against transformers -------------------------------------------------------------------
@pytest.mark.slow
def test_prompt_equals_the_processor(make_tiny_ckpt, sized, load_engine):
    """Ids (each image's token count), pixels and sizes as LlavaNextProcessor gives them, every size at once."""
    from transformers import AutoProcessor, LlavaNextImageProcessorPil
    folder = tiny_next(make_tiny_ckpt, "vicuna")
    eng = load_engine(folder, backend="torch")
    msgs = ask(*sized.values())
    prompt = eng.inner.prompter.build(msgs)  # 15,000 tokens: past the tiny model's 4,096 positions
    proc = AutoProcessor.from_pretrained(folder)
    proc.image_processor = LlavaNextImageProcessorPil.from_pretrained(folder)
    text = eng.inner.prompter.render(eng.inner.prompter.conversation(msgs)[0])
    out = proc(text=text, images=[PILImage.open(p).convert("RGB") for p in sized.values()], return_tensors="pt")
    assert torch.equal(out["input_ids"][0], prompt.ids)
    assert torch.equal(out["pixel_values"], prompt.pixels.values)
    assert out["image_sizes"].tolist() == prompt.pixels.image_sizes().tolist()
    counts = dict(zip(SIZES, prompt.image_tokens))
    assert {s: counts[s] for s in V16_TOKENS} == V16_TOKENS


@pytest.mark.slow
@pytest.mark.parametrize("size", SIZES, ids=[f"{h}x{w}" for h, w in SIZES])
@pytest.mark.parametrize("decoder", list(DECODERS))
def test_full_logits_match_transformers(make_tiny_ckpt, sized, load_engine, decoder, size):
    folder = tiny_next(make_tiny_ckpt, decoder)
    eng = load_engine(folder, backend="torch", attention="full")
    prompt = eng.inner.build(ask(sized[size]))
    ours = eng.inner.logits(prompt.ids[None], prompt.pixels)
    assert (ours - hf_logits(folder, prompt)).abs().max().item() <= TOL


@pytest.mark.slow
@pytest.mark.parametrize("decoder", list(DECODERS))
def test_two_images_full_and_composite(make_tiny_ckpt, sized, load_engine, decoder):
    """Two tiled images in one prompt: full attention, and composite (visual MLP on) against
    transformers run with the composite 4D mask (text causal over all, a visual row only itself)."""
    folder = tiny_next(make_tiny_ckpt, decoder)
    full = load_engine(folder, backend="torch", attention="full")
    prompt = full.inner.build(ask(sized[750, 1000], sized[200, 300]))
    assert prompt.image_tokens == [2340, full.inner.prompter.grid((300, 200)).tokens]
    ours_full = full.inner.logits(prompt.ids[None], prompt.pixels)
    assert (ours_full - hf_logits(folder, prompt)).abs().max().item() <= TOL
    comp = load_engine(folder, backend="torch", attention="composite", visual_mlp=True)
    ours = comp.inner.logits(prompt.ids[None], prompt.pixels)
    mask, _ = composite_mask(prompt.ids, comp.inner.model.cfg.image_token_id)
    assert (ours - ours_full).abs().max().item() > 1e-3, "composite should differ from full attention"
    assert (ours - hf_logits(folder, prompt, mask)).abs().max().item() <= TOL


@pytest.mark.slow
def test_a_tiled_image_in_bf16_with_the_small_tower_in_float32(make_tiny_ckpt, sized, load_engine, monkeypatch):
    """The tiny tower is small (model.small_tower): under bf16 it, the projector and the row-end
    vector stay float32 and the packed features reach the bf16 decoder; the logits stay within
    bf16's bound of float32's (test_cpu_precision: 2% of the row's largest logit)."""
    from engine.llava import cpu
    monkeypatch.setattr(cpu, "FORCE_NATIVE_BF16", True)
    folder = tiny_next(make_tiny_ckpt, "vicuna")
    # composite: the visual rows go through their own layers, not through the embedding's cast
    f32 = load_engine(folder, backend="torch", dtype="float32", attention="composite")
    bf16 = load_engine(folder, backend="torch", dtype="bfloat16", attention="composite")
    m = bf16.inner.model
    assert m.image_newline.dtype == m.projector.linear_1.weight.dtype == torch.float32
    assert m.decoder.embed_tokens.weight.dtype == torch.bfloat16
    prompt = f32.inner.build(ask(sized[750, 1000]))
    want = f32.inner.logits(prompt.ids[None], prompt.pixels)
    got = bf16.inner.logits(prompt.ids[None], prompt.pixels).float()
    assert ((got - want).abs().amax(-1) / want.abs().amax(-1)).max().item() <= 0.02
    # and the app's path (the prefiller runs the image's visual rows from its cached features)
    from engine import Done, GenParams, collect
    _, rest = collect(bf16.stream(ask(sized[750, 1000]), GenParams(max_new_tokens=3, temperature=0)))
    done = [e for e in rest if isinstance(e, Done)]
    assert done and done[0].reason != "error", done


@pytest.mark.slow
def test_streamed_greedy_answer_matches_transformers_generate(make_tiny_ckpt, sized, load_engine):
    """What a user gets (prefill, decode loop, text streaming) after a tiled image, composite-free."""
    from transformers import LlavaNextForConditionalGeneration
    from engine import GenParams, collect
    folder = tiny_next(make_tiny_ckpt, "mistral")
    eng = load_engine(folder, backend="torch", attention="full")
    msgs = ask(sized[1000, 750])
    prompt = eng.inner.build(msgs)
    hf = LlavaNextForConditionalGeneration.from_pretrained(folder, dtype=torch.float32).eval()
    with torch.no_grad():
        out = hf.generate(input_ids=prompt.ids[None], pixel_values=prompt.pixels.values, max_new_tokens=16,
                          image_sizes=prompt.pixels.image_sizes(), do_sample=False, repetition_penalty=1.0,
                          eos_token_id=sorted(eng.inner.eos))
    want = eng.inner.prompter.tokenizer.decode([t for t in out[0, len(prompt.ids):].tolist() if t not in eng.inner.eos],
                                               skip_special_tokens=True)
    got = collect(eng.stream(msgs, GenParams(max_new_tokens=16, temperature=0, repetition_penalty=1.0)))[0]
    assert len(want.split()) >= 3 and got.strip() == want.strip()


@pytest.mark.slow
def test_capped_tiles_match_transformers(make_tiny_ckpt, sized, load_engine):
    """--max-tiles 2: transformers with the same capped pinpoints gives the same logits; the base
    view only: packed as transformers packs a one-view image (the base and one newline)."""
    from transformers import LlavaNextForConditionalGeneration
    folder = tiny_next(make_tiny_ckpt, "mistral")
    eng = load_engine(folder, backend="torch", attention="full", max_tiles=2)
    prompt = eng.inner.build(ask(sized[672, 672]))
    assert prompt.image_tokens == [576 + 24 * 25]
    ours = eng.inner.logits(prompt.ids[None], prompt.pixels)
    pins = anyres.cap_pinpoints(v16_pinpoints(), 336, 2)
    assert (ours - hf_logits(folder, prompt, pinpoints=pins)).abs().max().item() <= TOL
    base = load_engine(folder, backend="torch", max_tiles="base")
    prompt = base.inner.build(ask(sized[1000, 750]))
    assert prompt.image_tokens == [577] and prompt.pixels.values.shape[1] == 1
    hf = LlavaNextForConditionalGeneration.from_pretrained(folder, dtype=torch.float32).eval()
    m = base.inner.model
    with torch.no_grad():
        feats = m.projector(m.vision(prompt.pixels.values[0])[:, 1:])
        want, _ = hf.model.pack_image_features([feats], prompt.pixels.image_sizes(), "default", hf.model.image_newline)
        assert (m.image_features(prompt.pixels)[0] - want[0]).abs().max().item() <= TOL


# ---- reuse ----------------------------------------------------------------------------------
def test_follow_up_reuses_the_tiled_image(make_tiny_ckpt, sized, load_engine, tmp_path):
    """Composite: a follow-up question about a tiled image prefills its text only; the image's
    visual K/V, placed elsewhere, come from the store; another tiling of it is another entry."""
    from engine import GenParams, collect
    folder = tiny_next(make_tiny_ckpt, "vicuna")
    eng = load_engine(folder, backend="torch", attention="composite", kv_cache_dir=tmp_path)
    turn1 = ask(sized[750, 1000])
    answer = collect(eng.stream(turn1, GenParams(max_new_tokens=4, temperature=0)))[0]
    turn2 = turn1 + [Message.assistant(answer), Message.user("And the colours?")]
    got, extra = eng.inner.first_logits(turn2)
    prompt = eng.inner.build(turn2)
    assert extra["images_encoded"] == 0 and extra["visual_tokens"] == 2340
    assert extra["prefilled_tokens"] < 40 and extra["reused_prefix_tokens"] > 2340
    assert (got - eng.inner.logits(prompt.ids[None], prompt.pixels)[0, -1]).abs().max().item() <= TOL
    _, moved = eng.inner.first_logits([Message("user", [Text("Other words first: "), Image(sized[750, 1000]),
                                                        Text(" now?")])])
    assert moved["visual_cache_hits"] == 1 and moved["images_encoded"] == 0
    capped = load_engine(folder, backend="torch", attention="composite", kv_cache_dir=tmp_path, max_tiles=2)
    _, other = capped.inner.first_logits(turn1)
    assert other["visual_cache_misses"] == 1 and other["visual_tokens"] < 2340


# ---- boxes and regions ------------------------------------------------------------------------
@pytest.mark.parametrize("size", SIZES + [(75, 100), (1000, 40)], ids=str)
def test_the_unpadded_grid_is_the_whole_image(size):
    """Tiles cover the image resized into the best pinpoint plus padding; unpadding leaves a grid
    of the image's own shape (to a cell), so what the model sees is the original image."""
    g = anyres.grid(size, v16_pinpoints(), 336, 14, 576)
    (fh, fw), (h, w) = g.feat_hw, size
    assert fh <= g.rows * g.side and fw <= g.cols * g.side
    assert abs(fw - fh * w / h) <= 1 or abs(fh - fw * h / w) <= 1


BOX_TEXT = "[0.100,0.200,0.500,0.750]"  # a pad-geometry format's box (shikra, LLaVA-1.5's habit)


def test_regions_and_boxes_are_on_the_original_image(make_tiny_ckpt, sized, load_engine):
    """A region the user draws is written unpadded, and a box the model writes comes back as is:
    a tiled model sees the whole image, not LLaVA-1.5's padded square."""
    from engine import GenParams, Region
    folder = make_tiny_ckpt(image_size=28, pinpoints=v16_pinpoints(28), words=(BOX_TEXT,))
    e = load_engine(folder, backend="torch", box_format="shikra")
    msgs = [Message("user", [Image(sized[200, 300]), Text("What is in "), Region(0, (0.1, 0.2, 0.5, 0.75)),
                             Text("?")])]
    token = e.inner.prompter.tokenizer.convert_tokens_to_ids(BOX_TEXT)
    assert token in e.inner.build(msgs).ids.tolist()  # a padded square would move y: 0.2 -> 0.3
    events = list(e.stream(msgs, GenParams(max_new_tokens=1, temperature=0, logit_bias={token: 1e4})))
    box = next(ev for ev in events if type(ev).__name__ == "Box")
    assert (box.x1, box.y1, box.x2, box.y2) == pytest.approx((0.1, 0.2, 0.5, 0.75))


def test_gguf_export_refuses_clearly(make_tiny_ckpt, tmp_path, capsys):
    from engine.gguf.export import main
    folder = make_tiny_ckpt(image_size=28, pinpoints=v16_pinpoints(28))
    assert main([str(folder), str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "LLaVA-NeXT" in err and "--backend torch" in err
    assert not (tmp_path / "out").exists()  # nothing half-written


LAYOUTS = {  # prefixes of the key names LLaVA-NeXT checkpoints are found with -> ours as saved
    "hub (llava-hf v1.6)": [("vision_tower.", "vision_tower.vision_model."), ("image_newline", "image_newline")],
    "transformers 5": [("language_model.model.", "model.language_model."), ("language_model.lm_head.", "lm_head."),
                       ("vision_tower.", "model.vision_tower."), ("multi_modal_projector.", "model.multi_modal_projector."),
                       ("image_newline", "model.image_newline")],
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_key_layouts_load_alike(make_tiny_ckpt, sized, load_engine, tmp_path, layout):
    import shutil
    from safetensors.torch import load_file, save_file
    folder = make_tiny_ckpt(image_size=28, pinpoints=v16_pinpoints(28))
    other = shutil.copytree(folder, tmp_path / "renamed")
    weights = load_file(str(other / "model.safetensors"))
    renamed = {}
    for k, v in weights.items():
        old, new = next(((o, n) for o, n in LAYOUTS[layout] if k.startswith(o)), ("", ""))
        renamed[new + k[len(old):]] = v
    assert renamed.keys() != weights.keys()
    save_file(renamed, str(other / "model.safetensors"))
    msgs = ask(sized[750, 1000])
    a, b = load_engine(folder, backend="torch"), load_engine(other, backend="torch")
    pa, pb = a.inner.build(msgs), b.inner.build(msgs)
    assert torch.equal(a.inner.logits(pa.ids[None], pa.pixels), b.inner.logits(pb.ids[None], pb.pixels))


# llava-hf/llava-v1.6-mistral-7b-hf's config.json as published: its sub-configs leave out what
# equals transformers' defaults (the decoder's hidden size, layers and heads).
V16_MISTRAL_CONFIG = {
    "architectures": ["LlavaNextForConditionalGeneration"], "ignore_index": -100,
    "image_grid_pinpoints": [[336, 672], [672, 336], [672, 672], [1008, 336], [336, 1008]],
    "image_token_index": 32000, "model_type": "llava_next", "projector_hidden_act": "gelu",
    "text_config": {"_name_or_path": "mistralai/Mistral-7B-Instruct-v0.2", "architectures": ["MistralForCausalLM"],
                    "intermediate_size": 14336, "max_position_embeddings": 32768, "model_type": "mistral",
                    "num_key_value_heads": 8, "rms_norm_eps": 1e-05, "rope_theta": 1000000.0,
                    "sliding_window": None, "torch_dtype": "bfloat16", "vocab_size": 32064},
    "torch_dtype": "float16", "use_image_newline_parameter": True,
    "vision_config": {"hidden_size": 1024, "image_size": 336, "intermediate_size": 4096,
                      "model_type": "clip_vision_model", "num_attention_heads": 16, "num_hidden_layers": 24,
                      "patch_size": 14, "projection_dim": 768, "vocab_size": 32000},
    "vision_feature_layer": -2, "vision_feature_select_strategy": "default", "vocab_size": 32064}


def test_the_published_v16_config_and_its_memory_estimate(tmp_path):
    import json
    from engine.llava.config import read_config
    from engine.llava.memory import estimate, param_count
    (tmp_path / "config.json").write_text(json.dumps(V16_MISTRAL_CONFIG))
    cfg = read_config(tmp_path)
    d = cfg.decoder
    assert (d.hidden, d.n_layers, d.n_heads, d.n_kv_heads, d.rope["rope_theta"]) == (4096, 32, 32, 8, 1e6)
    assert cfg.vision.n_layers == 24 and cfg.grid_pinpoints == V16_MISTRAL_CONFIG["image_grid_pinpoints"]
    assert 7.5e9 < sum(param_count(cfg)) < 7.6e9  # llava-v1.6-mistral-7b: 7.57B
    most = anyres.most_image_tokens(cfg)
    est = estimate(cfg, 2, None, context=2 * most + 1024, visual_tokens=most, views=anyres.most_views(cfg))
    assert most == 2928 and "up to 2,928 visual tokens per image" in est.describe()
    assert anyres.most_views(cfg) == 5 and anyres.most_views(cfg, 2) == 3 and anyres.most_views(cfg, 0) == 1
    plain = estimate(cfg, 2, None, context=2 * most + 1024).activations
    capped = estimate(cfg, 2, None, context=2 * most + 1024, views=anyres.most_views(cfg, 2)).activations
    assert est.activations > capped > plain  # the tower's five views, three under a 2-tile cap


def test_max_tiles_on_the_command_line(make_tiny_ckpt, tiny_llava, sized, capsys):
    from engine.commands.chat import main
    folder = make_tiny_ckpt(image_size=28, pinpoints=v16_pinpoints(28))
    assert main(["--model", str(folder), "--backend", "torch", "--image", sized[672, 672], "--max-tiles", "base",
                 "--max-tokens", "2", "--temperature", "0", "What?"]) == 0
    assert "the base view only, up to 5 visual tokens per image" in capsys.readouterr().err
    assert main(["--model", str(tiny_llava), "--backend", "torch", "--max-tiles", "2", "Hi"]) == 1
    assert "--max-tiles applies to LLaVA-NeXT" in capsys.readouterr().err
