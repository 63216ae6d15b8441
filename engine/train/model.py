"""The model being trained is the engine's own LlavaModel (one implementation), loaded from a
folder that engine.own assembles, with peft's LoRA layers injected into the decoder. Trained
parts go in and out in the shipped parts format (engine/own/build.py)."""
from __future__ import annotations

import json
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from ..atomic import replacing
from ..llava.config import read_config
from ..llava.model import BoxHead, LlavaModel, Projector, load_model
from ..llava.vision import VisionTower
from ..own.build import assemble
from ..own.spec import DECODER_HIDDEN, DECODER_KV

TRAINED_PREFIXES = ("vision.", "projector.", "grounding.")


def fresh_parts(spec: dict, hidden: int = DECODER_HIDDEN) -> dict:
    """Randomly initialised tower, projector, box head and new token rows (no LoRA yet)."""
    from transformers import CLIPVisionConfig
    from ..llava.config import vision_config
    vc = vision_config(CLIPVisionConfig(**{k: v for k, v in spec["vision"].items() if k != "model_type"}).to_dict()
                       | {"model_type": "clip_vision_model"})
    torch.manual_seed(0)
    mods = {"vision": VisionTower(vc, [spec["vision_feature_layer"]]),
            "projector": Projector(vc.hidden, hidden, "gelu", True),
            "grounding": BoxHead(hidden, DECODER_KV if spec.get("pointer") else 0,
                                 bool(spec.get("pointer") and spec.get("region_read")),
                                 bool(spec.get("pointer") and spec.get("pointer_null")),
                                 int(spec.get("loc_waves") or 0))}
    with torch.no_grad():  # visual embeddings start small beside the token embeddings: no shock
        mods["projector"].linear_2.weight.mul_(0.2)
    parts = {f"{name}.{k}": v.detach().clone() for name, m in mods.items() for k, v in m.state_dict().items()}
    parts["new_token_rows"] = torch.randn(spec["new_rows"], hidden) * 0.02
    return parts


def base_folder(work: Path, spec: dict, gguf: Path) -> Path:
    """A loadable folder of fresh parts on the base decoder, built once per training directory;
    the decoder weights in it stay frozen (LoRA lives beside them)."""
    folder = work / "base"
    if not (folder / "config.json").is_file():
        assemble((fresh_parts(spec), spec), gguf, folder)
    return folder


def load_for_training(folder: Path, spec: dict, dtype=torch.float32) -> LlavaModel:
    from peft import LoraConfig, inject_adapter_in_model
    model = load_model(folder, dtype=torch.float32, device="cpu", cfg=read_config(folder))
    lora = spec["lora"]
    cfg = LoraConfig(r=lora["rank"], lora_alpha=lora["alpha"], target_modules=lora["targets"], lora_dropout=0.0)
    inject_adapter_in_model(cfg, model.decoder)
    if spec.get("pointer_null") and not hasattr(model.grounding, "null_value"):
        model.grounding.add_null()  # parts trained before it: the null starts as if absent
    if spec.get("loc_waves") and not hasattr(model.grounding, "loc_waves"):
        model.grounding.add_waves(spec["loc_waves"])  # likewise: zero, as if absent
    model.requires_grad_(False)
    return model.to(dtype)


def lora_modules(model) -> dict:
    """name -> peft LoRA layer, names as in the decoder ("layers.0.self_attn.q_proj")."""
    return {n: m for n, m in model.decoder.named_modules() if hasattr(m, "lora_A") and "default" in m.lora_A}


def get_parts(model, base_vocab: int) -> dict:
    parts = {k: v.detach().float().clone() for k, v in model.state_dict().items()
             if k.startswith(TRAINED_PREFIXES) and "lora_" not in k}
    parts["new_token_rows"] = model.decoder.embed_tokens.weight[base_vocab:].detach().float().clone()
    for name, m in lora_modules(model).items():
        parts[f"lora.{name}.A"] = m.lora_A["default"].weight.detach().float().clone()
        parts[f"lora.{name}.B"] = m.lora_B["default"].weight.detach().float().clone()
    return parts


POSITIONS = "vision.embeddings.position_embedding.weight"


def resample_positions(pe: torch.Tensor, n: int) -> torch.Tensor:
    """(1 + s*s, d) CLS + grid position embeddings -> (1 + n*n, d): the grid resampled bicubically,
    so a tower trained at one image size starts at another (same patch size, more patches) seeing
    each patch where it is (ViT's recipe for a finer grid)."""
    s = math.isqrt(pe.shape[0] - 1)
    grid = pe[1:].T.reshape(1, -1, s, s).float()
    grid = F.interpolate(grid, size=(n, n), mode="bicubic", align_corners=False)
    return torch.cat([pe[:1].float(), grid.reshape(-1, n * n).T]).to(pe.dtype)


TOWER_LAYERS = "vision.encoder.layers."


def tower_layers(keys) -> set[int]:
    return {int(k[len(TOWER_LAYERS):].split(".")[0]) for k in keys if k.startswith(TOWER_LAYERS)}


@torch.no_grad()
def deepen_tower(own: dict, parts: dict) -> list[int]:
    """A recipe that deepens the tower ("vision": {"num_hidden_layers": 8} over parts of 6): each
    layer the parts lack starts as the identity (its attention's and MLP's output projections
    zero, so the residual stream passes unchanged), and the tower sees what it saw before its
    new layers learn anything. Returns the layers so started."""
    new = sorted(tower_layers(own) - tower_layers(parts))
    for i in new:
        for proj in ("self_attn.out_proj", "mlp.fc2"):
            own[f"{TOWER_LAYERS}{i}.{proj}.weight"].zero_()
            own[f"{TOWER_LAYERS}{i}.{proj}.bias"].zero_()
    return new


@torch.no_grad()
def set_parts(model, parts: dict, base_vocab: int) -> None:
    own = model.state_dict()
    for k, v in parts.items():
        if k.startswith(TRAINED_PREFIXES):
            if k == POSITIONS and v.shape != own[k].shape:  # a recipe that changes the image size
                v = resample_positions(v, math.isqrt(own[k].shape[0] - 1))
            own[k].copy_(v)
    deepen_tower(own, parts)
    model.decoder.embed_tokens.weight[base_vocab:] = parts["new_token_rows"].to(model.decoder.embed_tokens.weight)
    for name, m in lora_modules(model).items():
        if f"lora.{name}.A" in parts:
            m.lora_A["default"].weight.copy_(parts[f"lora.{name}.A"])
            m.lora_B["default"].weight.copy_(parts[f"lora.{name}.B"])


def save_parts(path: Path, parts: dict, spec: dict, dtype=torch.bfloat16) -> None:
    """The shipped format: every trained tensor in `dtype` (bf16 keeps the file under 40 MB)."""
    with replacing(path) as tmp:
        save_file({k: v.to(dtype).contiguous() for k, v in parts.items()}, str(tmp),
                  metadata={"spec": json.dumps(spec)})


def _spread(y: torch.Tensor) -> tuple[torch.Tensor, float]:
    """The rows' common vector and their mean distance from it."""
    centre = y.mean(0)
    return centre, float((y - centre).norm(dim=-1).mean())


@torch.no_grad()
def standardize_projector(model, pixels: torch.Tensor) -> dict:
    """Data-dependent re-initialisation of the projector, exact within the LLaVA layout: the first
    layer's pre-activations become zero-mean unit-variance per unit, and the output loses its
    common component and takes the token embeddings' typical norm. Without it the visual tokens of
    a tower trained on its own labels shared one large vector (norm ~113 beside ~19 of variation),
    so after each layer's RMSNorm every visual key and value looked alike. (Measured: with it the
    frozen decoder treats the visual tokens as attention sinks; see TRAINING.md.)"""
    p = model.projector
    feats = model.vision(pixels.to(p.linear_1.weight))[:, 1:].float().flatten(0, 1)
    project = lambda: p(feats.to(p.linear_1.weight.dtype)).float()
    centre, spread = _spread(project())
    before = {"mean_norm": float(centre.norm()), "spread": spread}
    w1, b1 = p.linear_1.weight.float(), p.linear_1.bias.float()
    a = feats @ w1.T + b1
    mu, sd = a.mean(0), a.std(0).clamp(min=1e-4)
    p.linear_1.weight.copy_(w1 / sd[:, None])
    p.linear_1.bias.copy_((b1 - mu) / sd)
    centre, spread = _spread(project())
    target = float(model.decoder.embed_tokens.weight.float().norm(dim=-1).median())
    scale = target / spread
    p.linear_2.bias.copy_((p.linear_2.bias.float() - centre) * scale)
    p.linear_2.weight.mul_(scale)
    centre, spread = _spread(project())
    return {**before, "after_mean_norm": float(centre.norm()), "after_spread": spread, "target": target}


@torch.no_grad()
def init_region_read(model, examples: list, words: list[tuple[int, ...]], ridge: float = 1.0) -> dict:
    """Data-dependent start for region reading (BoxHead.region_read): the linear map that best
    turns a region's pooled first-layer values into the embeddings of its words (its colour and
    shape: `words`, token ids per example), by ridge regression. A box then enters the decoder
    looking like the words that name what it covers, which a language model already copies; from
    zero, 200 steps left the region answers' loss where it was (TRAINING.md).
    examples: Tokenize() outputs of one image and one region each."""
    from ..llava.model import region_mean
    xs, ys = [], []
    table = model.decoder.embed_tokens.weight.float()
    for ex, ids in zip(examples, words):
        feats = model.image_features(ex.pixels.to(table.device))[0]
        v = model.visual_values(feats.to(model.decoder.embed_tokens.weight.dtype)).float()
        xs.append(region_mean(torch.tensor(ex.boxes[0], device=v.device), v))
        ys.append(table[list(ids)].sum(0))
    x, y = torch.stack(xs), torch.stack(ys)
    w = torch.linalg.solve(x.T @ x + ridge * torch.eye(x.shape[1], device=x.device), x.T @ y)  # (V, D)
    fit = x @ w
    # at the scale of the box's other part: loc_encoder's output is ~10x a token embedding, and a
    # read at the words' own scale was ~10% of the box embedding after the norm (measured: unused)
    boxes = torch.tensor([ex.boxes[0] for ex in examples], device=x.device)
    loc = model.grounding.loc_encoder(boxes.to(model.grounding.loc_encoder[0].weight)).float().norm(dim=-1).mean()
    scale = float(loc / fit.norm(dim=-1).mean())
    model.grounding.region_read.weight.copy_((w * scale).T.to(model.grounding.region_read.weight))
    return {"examples": len(xs), "residual": float((fit - y).norm(dim=-1).mean()),
            "target_norm": float(y.norm(dim=-1).mean()), "scale": scale}


@torch.no_grad()
def init_null(model, batches: list, run) -> dict:
    """Data-dependent start for the pointer's null (BoxHead.add_null): its bias at the median of
    the best untaken object's logit where the answer points into nothing, so the null starts level
    with the objects the pointer would take instead (8.9 on the nineteenth), not nine logits
    under them; null_value, the part that reads the question, learns from there.
    batches: collated Tokenize() outputs of counts from the "train+null" stream."""
    from .losses import hidden_and_values
    best = []
    for b in batches:
        h, values = hidden_and_values(model, b, run)
        _, logits = model.point(h[b.at_rows, b.at_pos], values[b.at_rows], taken=b.at_taken)
        best.append(logits[b.at_null, :-1].float().amax(-1))
    best = torch.cat(best)
    model.grounding.null_bias.fill_(float(best.median()))
    return {"null_targets": len(best), "bias": float(best.median()),
            "p10_p90": [float(best.quantile(0.1)), float(best.quantile(0.9))]}
