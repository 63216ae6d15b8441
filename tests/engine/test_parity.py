"""Our torch engine against transformers' own LlavaForConditionalGeneration on the same weights."""
from __future__ import annotations

import pytest
import torch

import engine
from engine import GenParams, Image, Message, Text
from engine.llava.generate import Timings, generate

pytestmark = pytest.mark.usefixtures("float32_default")  # parity is measured in float32

TOL = 1e-4
CASES = {"llama-clip": dict(family="llama", vision="clip"),
         "qwen2-siglip": dict(family="qwen2", vision="siglip"),
         "llama3-rope-tied": dict(family="llama", vision="clip", tie=True, kv_heads=1, rope_scaling={
             "rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
             "original_max_position_embeddings": 32}),
         "linear-rope": dict(family="qwen2", vision="clip", rope_scaling={"rope_type": "linear", "factor": 4.0}),
         "mistral-window": dict(family="mistral", vision="clip", sliding_window=1024)}


def two_image_prompt(images):
    """Text before, between and after two images: the layout that catches off-by-one placement."""
    return [Message("user", [Text("Compare "), Image(images[0]), Text(" with "), Image(images[1]),
                             Text(" and tell me which is bluer.")])]


def hf_model(folder):
    from transformers import LlavaForConditionalGeneration
    return LlavaForConditionalGeneration.from_pretrained(folder, dtype=torch.float32).eval()


@pytest.fixture(scope="module", params=list(CASES))
def case(request, make_tiny_ckpt, images):
    folder = make_tiny_ckpt(**CASES[request.param])
    eng = engine.load(folder, backend="torch", attention="full", dtype="float32")  # module scope
    ids, pixels = eng.inner.prepare(two_image_prompt(images))
    yield folder, eng, ids, pixels
    eng.close()


@pytest.mark.slow
@pytest.mark.parametrize("kernel", ["sdpa", "flex"])
def test_full_logits_match_transformers(case, kernel, load_engine):
    folder, eng, ids, pixels = case
    eng = load_engine(folder, backend="torch", attention="full", kernel=kernel)
    assert int((ids == eng.inner.model.cfg.image_token_id).sum()) == 2 * eng.inner.model.cfg.image_seq_length
    ours = eng.inner.logits(ids[None], pixels)
    with torch.no_grad():
        ref = hf_model(folder)(input_ids=ids[None], pixel_values=pixels).logits
    assert ours.shape == ref.shape
    assert (ours - ref).abs().max().item() <= TOL


@pytest.mark.slow
def test_greedy_32_tokens_match_transformers_generate(case):
    folder, eng, ids, pixels = case
    ours = list(generate(eng.inner.model, ids, pixels, eng.inner.run, 32, dict(temperature=0), eng.inner.eos, Timings()))
    with torch.no_grad():
        out = hf_model(folder).generate(input_ids=ids[None], pixel_values=pixels, max_new_tokens=32,
                                        do_sample=False, eos_token_id=sorted(eng.inner.eos))
    theirs = [t for t in out[0, len(ids):].tolist() if t not in eng.inner.eos]
    assert len(ours) >= 8, "tiny model stopped too early to compare anything"
    assert ours == theirs


@pytest.mark.slow
@pytest.mark.parametrize("penalty", [1.0, 1.1])
def test_streamed_answer_matches_transformers_generate(case, images, penalty):
    """What a user gets: engine.stream (prefill with reuse, the decode loop, text streaming) with
    greedy decoding and a repetition penalty, twice (the second reuses the cached prefix)."""
    folder, eng, ids, pixels = case
    with torch.no_grad():
        out = hf_model(folder).generate(input_ids=ids[None], pixel_values=pixels, max_new_tokens=24,
                                        do_sample=False, repetition_penalty=penalty, eos_token_id=sorted(eng.inner.eos))
    want = eng.inner.prompter.tokenizer.decode([t for t in out[0, len(ids):].tolist() if t not in eng.inner.eos],
                                         skip_special_tokens=True)
    params = GenParams(max_new_tokens=24, temperature=0, repetition_penalty=penalty)
    for _ in range(2):
        events = list(eng.stream(two_image_prompt(images), params))
        assert sum(isinstance(e, engine.Token) for e in events) >= 8 and events[-1].reason == "length"
        assert engine.collect(events)[0].strip() == want.strip()


def test_sliding_window_caps_the_context(make_tiny_ckpt, load_engine):
    """Inside its window sliding attention is full attention (the parity cases above); past it
    it is not, so the engine never lets the context grow past the window."""
    eng = load_engine(make_tiny_ckpt(**CASES["mistral-window"]), backend="torch")
    assert eng.inner.context == 1024 and eng.inner.model.cfg.decoder.family == "mistral"


def composite_mask(ids, image_token_id):
    """4D additive mask: text rows causal over everything, each visual row only itself."""
    t = len(ids)
    vis = ids == image_token_id
    allowed = torch.ones(t, t).tril().bool()
    allowed[vis] = torch.eye(t).bool()[vis]
    return torch.zeros(1, 1, t, t).masked_fill(~allowed, torch.finfo(torch.float32).min), vis


@pytest.mark.slow
@pytest.mark.parametrize("kernel", ["sdpa", "flex"])
def test_composite_matches_masked_transformers(case, kernel, load_engine):
    folder, _, ids, pixels = case
    eng = load_engine(folder, backend="torch", attention="composite", visual_mlp=True, kernel=kernel)
    mask, _ = composite_mask(ids, eng.inner.model.cfg.image_token_id)
    ours = eng.inner.logits(ids[None], pixels)
    with torch.no_grad():
        ref = hf_model(folder)(input_ids=ids[None], pixel_values=pixels, attention_mask=mask).logits
    full = load_engine(folder, backend="torch", attention="full").inner.logits(ids[None], pixels)
    assert (ours - full).abs().max().item() > 1e-3, "composite should differ from full attention"
    assert (ours - ref).abs().max().item() <= TOL


def reference_no_visual_mlp(hf, ids, pixels, image_token_id):
    """Masked reference written here from the weights alone: every row gets q/k/v and the masked
    softmax; the MLP's contribution is zeroed on visual rows."""
    lm, cfg = hf.model.language_model, hf.config.text_config
    mask, vis = composite_mask(ids, image_token_id)
    feats = hf.model.get_image_features(pixel_values=pixels).pooler_output
    x = lm.embed_tokens(ids.masked_fill(vis, 0)).clone()
    x[vis] = torch.cat(list(feats))
    t, nh, nkv = len(ids), cfg.num_attention_heads, cfg.num_key_value_heads
    hd = getattr(cfg, "head_dim", None) or cfg.hidden_size // nh
    cos, sin = (c[0] for c in lm.rotary_emb(x[None], torch.arange(t)[None]))  # the checkpoint's RoPE
    def rot(z):
        a, b = z.chunk(2, -1)
        return z * cos + torch.cat([-b, a], -1) * sin

    def rms(z, w, eps=cfg.rms_norm_eps):
        return w * z * torch.rsqrt(z.pow(2).mean(-1, keepdim=True) + eps)

    for layer in lm.layers:
        at = layer.self_attn
        h = rms(x, layer.input_layernorm.weight)
        q = rot(at.q_proj(h).view(t, nh, hd).transpose(0, 1))
        k = rot(at.k_proj(h).view(t, nkv, hd).transpose(0, 1)).repeat_interleave(nh // nkv, 0)
        v = at.v_proj(h).view(t, nkv, hd).transpose(0, 1).repeat_interleave(nh // nkv, 0)
        att = (q @ k.transpose(1, 2) / hd ** 0.5 + mask[0]).softmax(-1) @ v
        x = x + at.o_proj(att.transpose(0, 1).reshape(t, -1))
        m = layer.mlp(rms(x, layer.post_attention_layernorm.weight))
        x = x + m * (~vis)[:, None]
    return hf.lm_head(rms(x, lm.norm.weight))


@pytest.mark.slow
def test_composite_without_visual_mlp_matches_reference(case, load_engine):
    folder, _, ids, pixels = case
    eng = load_engine(folder, backend="torch", attention="composite", visual_mlp=False)
    with torch.no_grad():
        ref = reference_no_visual_mlp(hf_model(folder), ids, pixels, eng.inner.model.cfg.image_token_id)
    ours = eng.inner.logits(ids[None], pixels)[0]
    text = ids != eng.inner.model.cfg.image_token_id
    assert (ours[text] - ref[text]).abs().max().item() <= TOL
    assert (ours - ref).abs().max().item() <= TOL
