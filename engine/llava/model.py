"""LLaVA: vision tower -> projector (linear-act-linear) -> decoder LLM. Also a text-only decoder
when the checkpoint has no vision tower."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..api import EngineError
from .checkpoint import read_weights
from .config import ModelConfig, read_config
from . import rope
from .decoder import Decoder
from .vision import ACTS, VisionTower


class Projector(nn.Module):
    def __init__(self, in_dim: int, out_dim: int, act: str, bias: bool):
        super().__init__()
        self.linear_1 = nn.Linear(in_dim, out_dim, bias=bias)
        self.linear_2 = nn.Linear(out_dim, out_dim, bias=bias)
        self.act = ACTS.get(act, F.gelu)

    def forward(self, x):
        return self.linear_2(self.act(self.linear_1(x)))


class LlavaModel(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        d = cfg.decoder
        if cfg.vision is not None:
            self.vision = VisionTower(cfg.vision, cfg.feature_layers)
            self.projector = Projector(cfg.vision.hidden * len(cfg.feature_layers), d.hidden,
                                       cfg.projector_act, cfg.projector_bias)
        self.decoder = Decoder(d)
        if not d.tie_embeddings:
            self.lm_head = nn.Linear(d.hidden, d.vocab_size, bias=False)

    @property
    def sees_images(self) -> bool:
        return self.cfg.vision is not None

    def image_features(self, pixels: torch.Tensor) -> torch.Tensor:
        """(n_images, 3, H, W) -> (n_images, image_seq_length, hidden)."""
        feats = self.vision(pixels)
        if self.cfg.select_strategy == "default":
            feats = feats[:, 1:]
        return self.projector(feats)

    def embed(self, input_ids: torch.Tensor, features: torch.Tensor | None):
        """input_ids (T,) -> embeddings (1,T,D) with image features placed at the image tokens in
        order, and the visual-row mask (T,)."""
        is_visual = input_ids == self.cfg.image_token_id if self.sees_images else torch.zeros_like(input_ids, dtype=torch.bool)
        n_slots = int(is_visual.sum())
        n_feats = 0 if features is None else features.shape[0] * features.shape[1]
        if n_slots != n_feats:
            raise EngineError(f"The prompt has {n_slots} image-token slots but the images give {n_feats} "
                              f"features ({self.cfg.image_seq_length} per image): the image count and the "
                              "prompt's image placeholders disagree.")
        ids = input_ids.masked_fill(is_visual, 0)
        x = self.decoder.embed_tokens(ids)
        if n_slots:
            x = x.clone()
            x[is_visual] = features.reshape(-1, x.shape[-1]).to(x.dtype)
        return x[None], is_visual

    def head(self, h: torch.Tensor) -> torch.Tensor:
        h = self.decoder.norm(h)
        w = self.decoder.embed_tokens.weight if self.cfg.decoder.tie_embeddings else self.lm_head.weight
        return F.linear(h, w)


def _unused(key: str) -> bool:
    # Weights LLaVA never reads: the vision tower's final norm and pooling head, RoPE buffers.
    return key.startswith(("vision.post_layernorm.", "vision.head.")) or key.endswith("rotary_emb.inv_freq")


def load_model(folder, dtype=torch.float32, device="cpu") -> LlavaModel:
    cfg = read_config(folder)
    weights = read_weights(folder, dtype)
    with torch.device("meta"):
        model = LlavaModel(cfg)
    wanted = set(model.state_dict())
    missing = sorted(wanted - set(weights))
    if missing:
        raise EngineError(f"{folder}: the checkpoint lacks {len(missing)} weights this model needs, "
                          f"e.g. {', '.join(missing[:4])}.")
    extra = [k for k in weights if k not in wanted and not _unused(k)
             and not (k.startswith("vision.encoder.layers.") and cfg.vision is not None)]
    if extra:
        raise EngineError(f"{folder}: the checkpoint has weights this engine does not know "
                          f"({', '.join(extra[:4])}): an unsupported architecture variant.")
    model.load_state_dict({k: weights[k] for k in wanted}, assign=True)
    # Non-persistent buffers were made on the meta device: compute them for real.
    model.decoder.register_buffer("inv_freq", rope.inv_freq(cfg.decoder.rope, cfg.decoder.head_dim),
                                  persistent=False)
    return model.to(device).eval()
