"""CLIP and SigLIP vision transformers, with Hugging Face parameter names so weights load as saved.
Only the layers up to the deepest one LLaVA reads are built: later layers would be wasted work."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import VisionConfig

ACTS = {
    "quick_gelu": lambda x: x * torch.sigmoid(1.702 * x),
    "gelu": F.gelu,
    "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
}


class VisionAttention(nn.Module):
    def __init__(self, c: VisionConfig):
        super().__init__()
        self.n_heads = c.n_heads
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(c.hidden, c.hidden) for _ in range(4))

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = (p(x).view(b, t, self.n_heads, -1).transpose(1, 2) for p in (self.q_proj, self.k_proj, self.v_proj))
        y = F.scaled_dot_product_attention(q, k, v)
        return self.out_proj(y.transpose(1, 2).reshape(b, t, d))


class VisionMLP(nn.Module):
    def __init__(self, c: VisionConfig):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(c.hidden, c.intermediate), nn.Linear(c.intermediate, c.hidden)
        self.act = ACTS[c.act]

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class VisionLayer(nn.Module):
    def __init__(self, c: VisionConfig):
        super().__init__()
        self.layer_norm1 = nn.LayerNorm(c.hidden, eps=c.norm_eps)
        self.self_attn = VisionAttention(c)
        self.layer_norm2 = nn.LayerNorm(c.hidden, eps=c.norm_eps)
        self.mlp = VisionMLP(c)

    def forward(self, x):
        x = x + self.self_attn(self.layer_norm1(x))
        return x + self.mlp(self.layer_norm2(x))


class Embeddings(nn.Module):
    def __init__(self, c: VisionConfig):
        super().__init__()
        clip = c.family == "clip"
        self.patch_embedding = nn.Conv2d(3, c.hidden, c.patch_size, c.patch_size, bias=not clip)
        if clip:
            self.class_embedding = nn.Parameter(torch.zeros(c.hidden))
        self.position_embedding = nn.Embedding(c.n_patches + int(clip), c.hidden)

    def forward(self, pixels):
        x = self.patch_embedding(pixels).flatten(2).transpose(1, 2)
        if hasattr(self, "class_embedding"):
            x = torch.cat([self.class_embedding.expand(x.shape[0], 1, -1), x], dim=1)
        return x + self.position_embedding.weight


class Encoder(nn.Module):
    def __init__(self, c: VisionConfig, n_layers: int):
        super().__init__()
        self.layers = nn.ModuleList(VisionLayer(c) for _ in range(n_layers))


class VisionTower(nn.Module):
    """forward(pixels) -> hidden states [embeddings, after layer 1, ...] up to the deepest needed."""

    def __init__(self, c: VisionConfig, feature_layers: list[int]):
        super().__init__()
        self.config = c
        # hidden_states[i] is the output of layer i (0 = embeddings), as in transformers.
        self.wanted = [i % (c.n_layers + 1) for i in feature_layers]
        self.embeddings = Embeddings(c)
        if c.family == "clip":
            self.pre_layrnorm = nn.LayerNorm(c.hidden, eps=c.norm_eps)  # sic: HF's spelling
        self.encoder = Encoder(c, max(self.wanted))

    def compile_layers(self) -> None:
        """Regional torch.compile: one encoder layer compiled, reused by every layer (norms, GELU
        and residual adds fused around the matmuls). The per-image cache makes it once per image."""
        for layer in self.encoder.layers:
            layer.compile(dynamic=True)  # the batch of images varies; one graph for all

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """Selected hidden states concatenated on the feature axis: (n_images, tokens, hidden*k)."""
        x = self.embeddings(pixels.to(self.embeddings.patch_embedding.weight.dtype))
        if hasattr(self, "pre_layrnorm"):
            x = self.pre_layrnorm(x)
        states = [x]
        for layer in self.encoder.layers:
            x = layer(x)
            states.append(x)
        return torch.cat([states[i] for i in self.wanted], dim=-1)
