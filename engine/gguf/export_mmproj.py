"""The vision tower and projector of a LLaVA checkpoint as an mmproj GGUF for llama.cpp's mtmd:
arch "clip", projector type "mlp" (LLaVA's linear-GELU-linear), the clip.* metadata mtmd reads,
and only the tower layers LLaVA uses (features from `vision_feature_layer`, before the final
LayerNorm)."""
from __future__ import annotations

import json
from pathlib import Path

from ..api import EngineError
from . import export_tensors as T

CLIP_MEAN, CLIP_STD = [0.48145466, 0.4578275, 0.40821073], [0.26862954, 0.26130258, 0.27577711]
BLOCK_NAMES = {
    "layer_norm1": "ln1", "layer_norm2": "ln2",
    "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
    "self_attn.out_proj": "attn_out", "mlp.fc1": "ffn_up", "mlp.fc2": "ffn_down",
}
EMBED_NAMES = {
    "embeddings.class_embedding": "v.class_embd",
    "embeddings.patch_embedding.weight": "v.patch_embd.weight",
    "embeddings.patch_embedding.bias": "v.patch_embd.bias",
    "embeddings.position_embedding.weight": "v.position_embd.weight",
    "pre_layrnorm.weight": "v.pre_ln.weight", "pre_layrnorm.bias": "v.pre_ln.bias",
}


def feature_depth(cfg) -> int:
    """How many tower blocks run: hidden_states[k] is the output of block k-1 (0 = embeddings)."""
    n = cfg.vision.n_layers
    layers = [l if l >= 0 else n + l + 1 for l in cfg.feature_layers]
    if len(layers) != 1:
        raise EngineError("Several vision feature layers (concatenated) cannot be exported yet.")
    return layers[0]


def mmproj_tensors(cfg, weights: dict):
    depth = feature_depth(cfg)
    for ours, theirs in EMBED_NAMES.items():
        if f"vision.{ours}" in weights:
            yield theirs, weights[f"vision.{ours}"]
    for i in range(depth):
        for ours, theirs in BLOCK_NAMES.items():
            for kind in ("weight", "bias"):
                t = weights.get(f"vision.encoder.layers.{i}.{ours}.{kind}")
                if t is not None:
                    yield f"v.blk.{i}.{theirs}.{kind}", t
    for i, ours in ((0, "linear_1"), (2, "linear_2")):
        for kind in ("weight", "bias"):
            t = weights.get(f"projector.{ours}.{kind}")
            if t is not None:
                yield f"mm.{i}.{kind}", t


def _processor(folder: Path) -> dict:
    for name in ("preprocessor_config.json", "processor_config.json"):
        p = folder / name
        if p.is_file():
            d = json.loads(p.read_text())
            return d.get("image_processor", d)
    return {}


def write_mmproj(cfg, weights: dict, folder: Path, out: Path, name: str) -> Path:
    import gguf

    vc = cfg.vision
    if cfg.projector_act not in ("gelu", "gelu_pytorch_tanh"):
        raise EngineError(f"Projector activation {cfg.projector_act!r} cannot be expressed in an "
                          f"mmproj of type mlp (GELU).")
    if cfg.select_strategy == "default" and vc.family != "clip":
        raise EngineError("select strategy 'default' drops a CLS token this tower does not have.")
    proc = _processor(folder)
    depth = feature_depth(cfg)
    w = gguf.GGUFWriter(str(out), "clip")
    w.add_name(name)
    w.add_description("image encoder for LLaVA (exported by vlchat)")
    w.add_file_type(1)
    w.add_bool("clip.has_text_encoder", False)
    w.add_clip_has_vision_encoder(True)
    w.add_bool("clip.has_llava_projector", True)
    w.add_clip_projector_type("mlp")
    w.add_vision_image_size(vc.image_size)
    w.add_vision_patch_size(vc.patch_size)
    w.add_vision_embedding_length(vc.hidden)
    w.add_vision_feed_forward_length(vc.intermediate)
    w.add_vision_projection_dim(cfg.decoder.hidden)
    w.add_vision_head_count(vc.n_heads)
    w.add_vision_attention_layernorm_eps(vc.norm_eps)
    w.add_vision_block_count(depth)
    w.add_array("clip.vision.feature_layer", [depth])
    w.add_vision_image_mean(list(proc.get("image_mean", CLIP_MEAN)))
    w.add_vision_image_std(list(proc.get("image_std", CLIP_STD)))
    w.add_vision_use_gelu(vc.act != "quick_gelu")  # CLIP's quick_gelu is mtmd's default
    for gname, arr in mmproj_tensors(cfg, weights):
        # convolution kernels must be f16 in ggml; the rest of a small tower stays f32
        T.add(w, gname, arr, "f16", matrix_ok=gname.startswith(("v.patch_embd", "v.blk", "mm.")))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return out
