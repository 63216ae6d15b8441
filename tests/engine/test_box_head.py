"""pix2emb box head (NExT-Chat layout) on a tiny checkpoint whose box decoder is set by the test."""
from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file, save_file

from engine import Box, GenParams, Image, Message, Region, Text, Token
from engine.llava.decoder import KVCache
from engine.llava.generate import Timings, decode_box, prefill

PADDED_BOX = (0.25, 0.3, 0.75, 0.6)   # what loc_decoder will always say, on the padded square


@pytest.fixture(scope="module")
def ckpt(make_tiny_ckpt):
    folder = make_tiny_ckpt(grounding=True, seed=3)
    w = load_file(str(folder / "grounding.safetensors"))
    w["loc_decoder.2.weight"] = torch.zeros_like(w["loc_decoder.2.weight"])
    w["loc_decoder.2.bias"] = torch.tensor(PADDED_BOX)
    save_file(w, str(folder / "grounding.safetensors"))
    return folder, w


def loc_encoder(w, box):
    """Reference written from the weights: Linear -> ReLU -> Linear."""
    h = torch.relu(torch.tensor(box) @ w["loc_encoder.0.weight"].T + w["loc_encoder.0.bias"])
    return h @ w["loc_encoder.2.weight"].T + w["loc_encoder.2.bias"]


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])  # bf16: the box head stays float32 (BOX_HEAD)
@pytest.mark.parametrize("mode", ["full", "composite"])
def test_trigger_yields_the_box_on_the_original_image(ckpt, images, mode, dtype, load_engine, monkeypatch):
    from engine.llava import cpu
    monkeypatch.setattr(cpu, "FORCE_NATIVE_BF16", True)  # bf16 on any CPU that runs the tests
    folder, _ = ckpt
    e = load_engine(folder, backend="torch", attention=mode, dtype=dtype)
    at = e.inner.model.cfg.grounding["at_token_id"]
    evs = list(e.stream([Message.user("Where is the white square?", [images[0]])],
                        GenParams(max_new_tokens=3, temperature=0, logit_bias={at: 1e4})))
    boxes = [ev for ev in evs if isinstance(ev, Box)]
    text = "".join(ev.text for ev in evs if isinstance(ev, Token))
    assert text.startswith("[0][1]")
    assert [b.ref for b in boxes] == [0, 1, 2]
    # images[0] is 80x50: centred on an 80x80 square, 15 px of padding above it.
    want = (0.25, (0.3 * 80 - 15) / 50, 0.75, (0.6 * 80 - 15) / 50)
    assert boxes[0].image_index == 0
    assert (boxes[0].x1, boxes[0].y1, boxes[0].x2, boxes[0].y2) == pytest.approx(want, abs=1e-5)


def hf_logits(folder, embeds, mask=None):
    from transformers import LlavaForConditionalGeneration
    hf = LlavaForConditionalGeneration.from_pretrained(folder, dtype=torch.float32).eval()
    with torch.no_grad():
        return hf, hf(inputs_embeds=embeds[None], attention_mask=mask).logits[0]


def prompt_embeds(folder, ids, pixels, image_token_id):
    from transformers import LlavaForConditionalGeneration
    hf = LlavaForConditionalGeneration.from_pretrained(folder, dtype=torch.float32).eval()
    with torch.no_grad():
        x = hf.get_input_embeddings()(ids.masked_fill(ids == image_token_id, 0)).clone()
        feats = torch.cat(list(hf.model.get_image_features(pixel_values=pixels).pooler_output))
        x[ids == image_token_id] = feats
    return hf, x


def composite_mask(is_visual):
    t = len(is_visual)
    allowed = torch.ones(t, t).tril().bool()
    allowed[is_visual] = torch.eye(t).bool()[is_visual]
    return torch.zeros(1, 1, t, t).masked_fill(~allowed, torch.finfo(torch.float32).min)


@pytest.mark.parametrize("mode", ["full", "composite"])
def test_box_embedding_is_the_next_input_and_regions_enter_as_embeddings(ckpt, images, mode, load_engine):
    folder, w = ckpt
    e = load_engine(folder, backend="torch", attention=mode, dtype="float32")  # against transformers' float32
    cfg = e.inner.model.cfg
    region = (0.1, 0.2, 0.5, 0.9)  # on images[1], 40x90: padded horizontally by 25 px each side
    msgs = [Message("user", [Image(images[1]), Text("What is in "), Region(0, region), Text("?")])]
    prompt = e.inner.build(msgs)
    ids = prompt.ids
    cache = KVCache(cfg.decoder, len(ids) + 4, torch.float32, "cpu")
    with torch.inference_mode():
        prefill(e.inner.model, ids, prompt.pixels, cache, e.inner.run, Timings(), prompt.boxes)
        box, logits = decode_box(e.inner.model, cfg.grounding["at_token_id"], len(ids), cache, e.inner.run)
    assert box == pytest.approx(PADDED_BOX, abs=1e-6)

    # Reference: transformers' LLaVA fed embeddings built here from the weights.
    hf, x = prompt_embeds(folder, ids, prompt.pixels, cfg.image_token_id)
    padded_region = ((0.1 * 40 + 25) / 90, 0.2, (0.5 * 40 + 25) / 90, 0.9)
    with torch.no_grad():
        x[ids == cfg.grounding["boxes_token_id"]] = loc_encoder(w, padded_region)
        at_embed = hf.get_input_embeddings()(torch.tensor([cfg.grounding["at_token_id"]]))
        seq = torch.cat([x, at_embed, loc_encoder(w, PADDED_BOX)[None]])
        is_vis = torch.cat([ids == cfg.image_token_id, torch.zeros(2, dtype=torch.bool)])
        mask = composite_mask(is_vis) if mode == "composite" else None
        ref = hf(inputs_embeds=seq[None], attention_mask=mask).logits[0, -1]
    assert (logits - ref).abs().max().item() <= 1e-4

