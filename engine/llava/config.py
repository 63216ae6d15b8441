"""Flat dataclasses read from a Hugging Face `config.json` (LLaVA, or a text-only decoder)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..api import EngineError

DECODERS = {"llama", "mistral", "qwen2"}
VISION = {"clip_vision_model": "clip", "siglip_vision_model": "siglip"}


@dataclass
class DecoderConfig:
    family: str
    vocab_size: int
    hidden: int
    intermediate: int
    n_layers: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    norm_eps: float
    rope: dict                      # {"rope_type", "rope_theta", ...scaling params}
    max_positions: int
    qkv_bias: bool
    o_bias: bool
    mlp_bias: bool
    tie_embeddings: bool
    act: str = "silu"


@dataclass
class VisionConfig:
    family: str                     # "clip" | "siglip"
    hidden: int
    intermediate: int
    n_layers: int
    n_heads: int
    image_size: int
    patch_size: int
    norm_eps: float
    act: str

    @property
    def n_patches(self) -> int:
        return (self.image_size // self.patch_size) ** 2


@dataclass
class ModelConfig:
    decoder: DecoderConfig
    vision: VisionConfig | None = None
    image_token_id: int | None = None
    feature_layers: list[int] = field(default_factory=lambda: [-2])
    select_strategy: str = "default"    # "default" drops the first (CLS) token, "full" keeps all
    projector_act: str = "gelu"
    projector_bias: bool = True
    eos_token_ids: list[int] = field(default_factory=list)
    ee_mllm: dict | None = None         # an EE-MLLM checkpoint: composite attention by default
    grounding: dict | None = None
    quantization: str | None = None      # "4bit" | "8bit": saved by bitsandbytes, loads as saved
    grid_pinpoints: list | None = None   # LLaVA-NeXT: any-resolution tiling (anyres.py), (h, w) each

    @property
    def image_seq_length(self) -> int:
        n = self.vision.n_patches + (1 if self.vision.family == "clip" else 0)
        return n - 1 if self.select_strategy == "default" else n


def _rope(tc: dict) -> dict:
    # transformers >= 5 writes rope_parameters; older configs have rope_theta + rope_scaling.
    if tc.get("rope_parameters"):
        rope = dict(tc["rope_parameters"])
    else:
        rope = dict(tc.get("rope_scaling") or {})
        rope["rope_theta"] = tc.get("rope_theta", 10000.0)
    rope["rope_type"] = rope.get("rope_type") or rope.get("type") or "default"
    return rope


def decoder_config(tc: dict) -> DecoderConfig:
    family = tc.get("model_type", "llama")
    if family not in DECODERS:
        raise EngineError(f"Decoder family {family!r} is not supported; supported: {', '.join(sorted(DECODERS))}.")
    n_heads = tc["num_attention_heads"]
    hidden = tc["hidden_size"]
    qwen = family == "qwen2"
    # Sliding-window attention equals full attention while the context fits in the window, so
    # the context is capped there rather than implementing the window.
    window = tc.get("sliding_window") if family == "mistral" or tc.get("use_sliding_window") else None
    max_positions = min(tc.get("max_position_embeddings", 4096), window or 1 << 30)
    return DecoderConfig(
        family=family, vocab_size=tc["vocab_size"], hidden=hidden,
        intermediate=tc["intermediate_size"], n_layers=tc["num_hidden_layers"], n_heads=n_heads,
        n_kv_heads=tc.get("num_key_value_heads") or n_heads,
        head_dim=tc.get("head_dim") or hidden // n_heads, norm_eps=tc.get("rms_norm_eps", 1e-6),
        rope=_rope(tc), max_positions=max_positions,
        qkv_bias=True if qwen else tc.get("attention_bias", False),
        o_bias=False if qwen else tc.get("attention_bias", False),
        mlp_bias=tc.get("mlp_bias", False), tie_embeddings=tc.get("tie_word_embeddings", False),
        act=tc.get("hidden_act", "silu"))


def vision_config(vc: dict) -> VisionConfig:
    family = VISION.get(vc.get("model_type", "clip_vision_model"))
    if family is None:
        raise EngineError(f"Vision tower {vc.get('model_type')!r} is not supported; supported: CLIP, SigLIP.")
    return VisionConfig(
        family=family, hidden=vc["hidden_size"], intermediate=vc["intermediate_size"],
        n_layers=vc["num_hidden_layers"], n_heads=vc["num_attention_heads"],
        image_size=vc["image_size"], patch_size=vc["patch_size"],
        norm_eps=vc.get("layer_norm_eps", 1e-5 if family == "clip" else 1e-6),
        act=vc.get("hidden_act", "quick_gelu" if family == "clip" else "gelu_pytorch_tanh"))


def _bnb_mode(cfg: dict) -> str | None:
    q = cfg.get("quantization_config") or {}
    if q.get("quant_method") != "bitsandbytes":
        if q:
            raise EngineError(f"Quantization {q.get('quant_method')!r} is not supported; bitsandbytes "
                              "checkpoints are, or load the full-precision weights with --quant.")
        return None
    return "4bit" if q.get("load_in_4bit") or q.get("_load_in_4bit") else "8bit"


def _eos(cfg: dict, tc: dict, folder: Path) -> list[int]:
    ids = []
    for src in (tc, cfg, _read(folder / "generation_config.json")):
        e = src.get("eos_token_id")
        ids += e if isinstance(e, list) else ([e] if e is not None else [])
    return sorted(set(ids))


def _complete(sub: dict, default_type: str) -> dict:
    """A sub-config as saved may leave out what equals its class's default (llava-hf's configs
    omit the Mistral decoder's hidden_size): filled in from transformers' own defaults."""
    if all(k in sub for k in ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads")):
        return sub
    from transformers import CONFIG_MAPPING
    kind = sub.get("model_type", default_type)
    if kind not in CONFIG_MAPPING:
        raise EngineError(f"Sub-model type {kind!r} is not supported.")
    defaults = CONFIG_MAPPING[kind]().to_dict()
    if "rope_theta" in sub or "rope_scaling" in sub:  # an old-style RoPE: not the default's theta
        defaults.pop("rope_parameters", None)
    return {**defaults, **sub}


def _pinpoints(cfg: dict) -> list:
    pins = cfg.get("image_grid_pinpoints")
    if not pins or not all(isinstance(p, (list, tuple)) and len(p) == 2 for p in pins):
        raise EngineError("This LLaVA-NeXT config.json has no usable image_grid_pinpoints.")
    return [list(map(int, p)) for p in pins]


def _read(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def read_config(folder: str | Path) -> ModelConfig:
    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise EngineError(f"{folder} has no config.json: not a Hugging Face checkpoint folder.")
    cfg = _read(folder / "config.json")
    if cfg.get("model_type") in ("llava", "llava_next"):
        tc, vc = _complete(cfg["text_config"], "llama"), _complete(cfg["vision_config"], "clip_vision_model")
        if "tie_word_embeddings" in cfg:
            tc = {**tc, "tie_word_embeddings": cfg["tie_word_embeddings"]}
        layers = cfg.get("vision_feature_layer", -2)
        return ModelConfig(
            decoder=decoder_config(tc), vision=vision_config(vc),
            image_token_id=cfg.get("image_token_index", cfg.get("image_token_id")),
            feature_layers=layers if isinstance(layers, list) else [layers],
            select_strategy=cfg.get("vision_feature_select_strategy", "default"),
            projector_act=cfg.get("projector_hidden_act", "gelu"),
            projector_bias=cfg.get("multimodal_projector_bias", True),
            eos_token_ids=_eos(cfg, tc, folder), ee_mllm=cfg.get("ee_mllm"),
            grounding=cfg.get("grounding"), quantization=_bnb_mode(cfg),
            grid_pinpoints=_pinpoints(cfg) if cfg["model_type"] == "llava_next" else None)
    if cfg.get("model_type") in DECODERS:
        return ModelConfig(decoder=decoder_config(cfg), eos_token_ids=_eos(cfg, cfg, folder))
    raise EngineError(f"{folder}: model_type {cfg.get('model_type')!r} is not supported; this engine "
                      f"reads LLaVA and LLaVA-NeXT checkpoints and Llama/Mistral/Qwen2 decoders.")
