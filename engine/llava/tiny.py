"""`python -m engine make-tiny OUT_DIR`: a small random LLaVA checkpoint written by transformers'
own save_pretrained, with a real tokenizer (the SentencePiece LLaMA tokenizer that the PyPI
package mistral_common ships) and a real image processor. Tests and benchmarks use it; nothing
is downloaded."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

IMAGE_TOKEN = "<image>"
CHATML_TOKENS = ["<|im_start|>", "<|im_end|>"]
GROUNDING_TOKENS = ["<at>", "<boxes>"]   # NExT-Chat's pix2emb trigger and region placeholder

# LLaVA-1.5 ("USER: <image>\n... ASSISTANT:") and ChatML, both over content-part lists. One line
# each, no whitespace control next to literals, so the spacing is exactly what is written.
_PARTS = ("{% if message['content'] is string %}{{ message['content'] }}{% else %}"
          "{% for part in message['content'] %}{% if part['type'] == 'image' %}<image>\n"
          "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}{% endfor %}{% endif %}")
TEMPLATES = {
    "llava": ("{% for message in messages %}{% if message['role'] == 'system' %}" + _PARTS + "\n"
              "{% elif message['role'] == 'user' %}USER: " + _PARTS + " "
              "{% else %}ASSISTANT: " + _PARTS + "</s>{% endif %}{% endfor %}"
              "{% if add_generation_prompt %}ASSISTANT:{% endif %}"),
    "mistral": ("{% for message in messages %}{% if message['role'] == 'user' %}[INST] " + _PARTS +
                " [/INST]{% elif message['role'] == 'assistant' %} " + _PARTS + "</s>{% else %}" + _PARTS +
                "\n\n{% endif %}{% endfor %}"),
    "chatml": ("{% for message in messages %}<|im_start|>{{ message['role'] }}\n" + _PARTS +
               "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"),
}


def sentencepiece_path() -> Path:
    from ..catalog import package_file
    p = package_file("mistral_common", "data/tokenizer.model.v1")
    if p is None:
        raise SystemExit("make-tiny needs the `mistral_common` package (pip install mistral_common): "
                         "it ships the LLaMA SentencePiece tokenizer used for tiny checkpoints.")
    return p


def make_tiny(out: str | Path, family="llama", vision="clip", layers=2, hidden=64, heads=4,
              kv_heads=2, vision_layers=3, image_size=56, patch_size=14, seed=0, rope_scaling=None,
              ee_mllm=None, tie=False, grounding=False, vision_hidden=32, sliding_window=None,
              words=(), shard_size=None, pinpoints=None, template=None) -> Path:
    """words: extra ordinary tokens for the tokenizer, each one token: a test that biases one of
    them makes the model write exactly that text (a model's box markup, say). shard_size (e.g.
    "4MB"): write the weights as several shards with an index, as large checkpoints are.
    pinpoints: a LLaVA-NeXT checkpoint (any-resolution tiling) with these grid pinpoints, (h, w)
    each in pixels, multiples of image_size. template: a key of TEMPLATES (default by family)."""
    import torch
    from transformers import (CLIPImageProcessor, CLIPVisionConfig, LlavaConfig,
                              LlavaForConditionalGeneration, LlavaProcessor, MistralConfig, Qwen2Config,
                              SiglipImageProcessor, SiglipVisionConfig, LlamaConfig)

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    import shutil
    import tempfile
    from transformers import AutoTokenizer
    with tempfile.TemporaryDirectory() as d:   # AutoTokenizer converts a folder's tokenizer.model
        shutil.copy(sentencepiece_path(), Path(d) / "tokenizer.model")
        tok = AutoTokenizer.from_pretrained(d)
    chatml = family == "qwen2"
    tok.add_special_tokens({"additional_special_tokens": [IMAGE_TOKEN] + (CHATML_TOKENS if chatml else [])
                            + (GROUNDING_TOKENS if grounding else [])})
    if words:
        tok.add_tokens(list(words))
    if chatml:
        tok.eos_token = "<|im_end|>"
    tok.pad_token = tok.unk_token
    template = TEMPLATES[template or ("chatml" if chatml else "llava")]
    tok.chat_template = template
    vocab = (len(tok) + 63) // 64 * 64          # padded, as real LLaVA checkpoints are

    text_kw = dict(vocab_size=vocab, hidden_size=hidden, intermediate_size=hidden * 2,
                   num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=kv_heads,
                   max_position_embeddings=4096, tie_word_embeddings=tie,
                   bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
    rope = {"rope_type": "default", "rope_theta": 10000.0}
    if rope_scaling:
        rope = {**rope, **rope_scaling}
    text_kw["rope_parameters"] = rope
    if family == "mistral":
        text_kw["sliding_window"] = sliding_window
    text = {"llama": LlamaConfig, "qwen2": Qwen2Config, "mistral": MistralConfig}[family](**text_kw)
    vis_kw = dict(hidden_size=vision_hidden, intermediate_size=2 * vision_hidden, num_hidden_layers=vision_layers,
                  num_attention_heads=4, image_size=image_size, patch_size=patch_size)
    vis = (SiglipVisionConfig if vision == "siglip" else CLIPVisionConfig)(**vis_kw)
    n_patches = (image_size // patch_size) ** 2
    # SigLIP has no CLS token, so LLaVA keeps every patch ("full"); CLIP drops CLS ("default").
    strategy = "full" if vision == "siglip" else "default"
    common = dict(vision_config=vis, text_config=text, image_token_index=tok.convert_tokens_to_ids(IMAGE_TOKEN),
                  vision_feature_select_strategy=strategy, vision_feature_layer=-2, tie_word_embeddings=tie)
    if pinpoints:
        from transformers import LlavaNextConfig, LlavaNextForConditionalGeneration
        cfg = LlavaNextConfig(**common, image_grid_pinpoints=[list(p) for p in pinpoints])
        torch.manual_seed(seed)
        model = LlavaNextForConditionalGeneration(cfg)
    else:
        cfg = LlavaConfig(**common, image_seq_length=n_patches)
        torch.manual_seed(seed)
        model = LlavaForConditionalGeneration(cfg)
    with torch.no_grad():  # spread the logits a little so greedy decoding is not all ties
        model.lm_head.weight.normal_(0, 0.5) if not tie else None
    model.save_pretrained(out, **({"max_shard_size": shard_size} if shard_size else {}))
    c = json.loads((out / "config.json").read_text())
    if ee_mllm is not None:
        c["ee_mllm"] = ee_mllm
    if grounding:
        ids = tok.convert_tokens_to_ids(GROUNDING_TOKENS)
        c["grounding"] = {"at_token": "<at>", "at_token_id": ids[0], "boxes_token": "<boxes>",
                          "boxes_token_id": ids[1], "box_space": "pad"}
        write_box_head(out / "grounding.safetensors", hidden)
    (out / "config.json").write_text(json.dumps(c, indent=2))

    proc_cls = SiglipImageProcessor if vision == "siglip" else CLIPImageProcessor
    size = {"height": image_size, "width": image_size} if vision == "siglip" else {"shortest_edge": image_size}
    kw = {} if vision == "siglip" else {"crop_size": {"height": image_size, "width": image_size}}
    proc_kw = dict(tokenizer=tok, patch_size=patch_size, vision_feature_select_strategy=strategy,
                   num_additional_image_tokens=0 if vision == "siglip" else 1, image_token=IMAGE_TOKEN,
                   chat_template=template)
    if pinpoints:  # the PIL class: the one the engine pins (torchvision's gives other pixels)
        from transformers import LlavaNextImageProcessorPil, LlavaNextProcessor
        image_proc = LlavaNextImageProcessorPil(size=size, image_grid_pinpoints=[list(p) for p in pinpoints], **kw)
        processor = LlavaNextProcessor(image_processor=image_proc, **proc_kw)
    else:
        processor = LlavaProcessor(image_processor=proc_cls(size=size, **kw), **proc_kw)
    processor.save_pretrained(out)
    tok.save_pretrained(out)
    return out


def v16_pinpoints(tile: int = 336) -> list[list[int]]:
    """llava-v1.6's grid pinpoints (h, w): 1x2, 2x1, 2x2, 3x1 and 1x3 tiles of `tile` pixels."""
    return [[tile * r, tile * c] for r, c in ((1, 2), (2, 1), (2, 2), (3, 1), (1, 3))]


def write_box_head(path: Path, hidden: int) -> None:
    """Random pix2emb weights in NExT-Chat's layout: loc_encoder Linear(4,H/2)-ReLU-Linear(H/2,H),
    loc_decoder Linear(H,H/2)-ReLU-Linear(H/2,4)."""
    import torch
    from safetensors.torch import save_file
    shapes = {"loc_encoder.0": (hidden // 2, 4), "loc_encoder.2": (hidden, hidden // 2),
              "loc_decoder.0": (hidden // 2, hidden), "loc_decoder.2": (4, hidden // 2)}
    t = {}
    for name, (o, i) in shapes.items():
        t[f"{name}.weight"] = torch.randn(o, i) / i ** 0.5
        t[f"{name}.bias"] = torch.zeros(o)
    save_file(t, str(path))


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m engine make-tiny", description=__doc__)
    ap.add_argument("out_dir")
    ap.add_argument("--family", choices=["llama", "qwen2", "mistral"], default="llama")
    ap.add_argument("--vision", choices=["clip", "siglip"], default="clip")
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--image-size", type=int, default=56)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ee-mllm", action="store_true", help="mark it an EE-MLLM checkpoint (composite by default)")
    ap.add_argument("--visual-mlp", choices=["true", "false"], default="true")
    ap.add_argument("--grounding", action="store_true", help="add a pix2emb box head and <at>/<boxes> tokens")
    ap.add_argument("--anyres", action="store_true", help="LLaVA-NeXT: llava-v1.6's grid pinpoints (scaled "
                    "to --image-size) and a newline row embedding")
    a = ap.parse_args(argv)
    ee = {"attention": "composite", "visual_mlp": a.visual_mlp == "true"} if a.ee_mllm else None
    out = make_tiny(a.out_dir, family=a.family, vision=a.vision, layers=a.layers, hidden=a.hidden,
                    image_size=a.image_size, seed=a.seed, ee_mllm=ee, grounding=a.grounding,
                    pinpoints=v16_pinpoints(a.image_size) if a.anyres else None)
    print(f"wrote {out}")
    return 0
