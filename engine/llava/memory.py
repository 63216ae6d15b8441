"""How much memory a model will need, computed from its config before any weight is read, and a
clear refusal when it will not fit."""
from __future__ import annotations

from dataclasses import dataclass

from ..api import EngineError
from .config import ModelConfig

# Bytes per parameter of a quantized linear weight: NF4 is 4 bits plus one absmax per 64 weights,
# itself 8-bit with one fp32 per 256 blocks (double quant); LLM.int8 is 8 bits plus one fp32
# scale per output row (counted separately below).
QUANT_BYTES = {None: None, "8bit": 1.0, "4bit": 0.5 + 1 / 64 + 4 / (64 * 256)}
CPU_QUANT = ("int8", "int4", "bf16")  # torch's CPU weight-only kernels: counted by cpu_quant_bytes
GiB = 2 ** 30


@dataclass
class Estimate:
    weights: int        # bytes
    kv_cache: int
    activations: int
    context: int
    visual_tokens: int = 0  # the most decoder tokens one image takes (a tiled image: its real count)

    @property
    def total(self) -> int:
        return self.weights + self.kv_cache + self.activations

    def describe(self) -> str:
        vis = f", up to {self.visual_tokens:,} visual tokens per image" if self.visual_tokens else ""
        return (f"{self.total / GiB:.2f} GiB (weights {self.weights / GiB:.2f}, KV cache "
                f"{self.kv_cache / GiB:.2f} at {self.context} tokens{vis}, activations {self.activations / GiB:.2f})")


def decoder_linear_shapes(cfg: ModelConfig) -> list[tuple[int, int]]:
    """(out, in) of every linear layer that quantization replaces: attention and MLP projections."""
    d = cfg.decoder
    q, kv = d.n_heads * d.head_dim, d.n_kv_heads * d.head_dim
    per_layer = [(q, d.hidden), (kv, d.hidden), (kv, d.hidden), (d.hidden, q),
                 (d.intermediate, d.hidden), (d.intermediate, d.hidden), (d.hidden, d.intermediate)]
    return per_layer * d.n_layers


def param_count(cfg: ModelConfig, model=None) -> tuple[int, int]:
    """(parameters in quantizable decoder linears, all other parameters); model: its meta_model,
    when the caller has one."""
    from .model import meta_model
    model = meta_model(cfg) if model is None else model
    total = sum(p.numel() for p in model.parameters())
    linear = sum(o * i for o, i in decoder_linear_shapes(cfg))
    return linear, total - linear


def cpu_quant_bytes(cfg: ModelConfig, dtype_bytes: int, quant: str) -> tuple[int, int]:
    """(bytes of the decoder linears + LM head as cpuquant.py stores them, full-precision head
    parameters they replace): int8 rows with one scale each, int4 nibbles with a (scale, zero) per
    group, bf16 two bytes a weight, layers no kernel takes at the compute dtype; the head is int8
    (bf16 under bf16), a tied one an extra copy."""
    from .cpuquant import ACT, GROUP, head_mode, int4_ok, int8_ok
    act = ACT.itemsize  # scales are kept in the kernels' activation dtype

    def one(o, i, mode):
        if mode == "bf16":
            return o * i * 2
        if mode == "int4" and int4_ok(o, i):
            return o * i // 2 + (i // GROUP) * o * 2 * act
        return o * i + o * act if int8_ok(i) else o * i * dtype_bytes
    d = cfg.decoder
    q, kv = d.n_heads * d.head_dim, d.n_kv_heads * d.head_dim
    # per layer: q, k, v, o, gate and up as one fused matrix, down (cpuquant.quantize_decoder_cpu)
    layer = [(q, d.hidden), (kv, d.hidden), (kv, d.hidden), (d.hidden, q), (2 * d.intermediate, d.hidden),
             (d.hidden, d.intermediate)]
    n = d.n_layers * sum(one(o, i, quant) for o, i in layer) + one(d.vocab_size, d.hidden, head_mode(quant))
    return n, 0 if d.tie_embeddings else d.vocab_size * d.hidden


def vision_activations(cfg: ModelConfig, dtype_bytes: int, views: int) -> int:
    """The vision tower's peak for one image: every view (a tiled image: the base view and up to
    four tiles under the tile cap, 577 tokens each at 336 px) with a layer's buffers and attention
    scores at once."""
    v = cfg.vision
    if v is None or not views:
        return 0
    n = v.n_patches + 1
    return views * (n * (4 * v.hidden + 2 * v.intermediate) + v.n_heads * n * n) * dtype_bytes


def estimate(cfg: ModelConfig, dtype_bytes: int, quant: str | None = None, context: int = 4096,
             visual_tokens: int = 0, views: int = 0) -> Estimate:
    """visual_tokens: the most decoder tokens one image can take (LLaVA-NeXT: thousands); views:
    the most views the tower runs on for one image (anyres.most_views)."""
    from .model import meta_model, small_tower, vision_params
    d = cfg.decoder
    model = meta_model(cfg)
    linear, other = param_count(cfg, model)
    vision = vision_params(model)
    vision_bytes = 4 if small_tower(model) else dtype_bytes  # a small tower runs in float32
    if quant is None:
        weights = (linear + other) * dtype_bytes
    elif quant in CPU_QUANT:
        q, head = cpu_quant_bytes(cfg, dtype_bytes, quant)
        weights = q + (other - head) * dtype_bytes
    else:
        rows = sum(o for o, _ in decoder_linear_shapes(cfg))
        weights = int(linear * QUANT_BYTES[quant]) + (4 * rows if quant == "8bit" else 0) + other * dtype_bytes
    weights += vision * (vision_bytes - dtype_bytes)
    kv = 2 * d.n_layers * d.n_kv_heads * d.head_dim * context * dtype_bytes
    # Prefill peak: a few hidden-size buffers and the MLP's two intermediate ones for every token,
    # one layer's attention scores (SDPA's math path materializes them), and fp32 last-row logits.
    acts = context * (4 * d.hidden + 2 * d.intermediate) * dtype_bytes + d.n_heads * context * context * dtype_bytes \
        + 4 * d.vocab_size + vision_activations(cfg, vision_bytes, views)
    return Estimate(int(weights), kv, acts, context, visual_tokens)


def free_bytes(device: str) -> int:
    import torch
    if device.startswith("cuda"):
        free, _ = torch.cuda.mem_get_info(torch.device(device))
        return free
    with open("/proc/meminfo") as f:  # MemAvailable: what can be allocated without swapping
        info = dict(line.split(":", 1) for line in f)
    return int(info["MemAvailable"].split()[0]) * 1024


def check_fits(cfg: ModelConfig, device: str, dtype_bytes: int, quant: str | None, context: int,
               visual_tokens: int = 0, views: int = 0) -> Estimate:
    est = estimate(cfg, dtype_bytes, quant, context, visual_tokens, views)
    try:
        free = free_bytes(device)
    except (OSError, KeyError, RuntimeError):
        return est  # cannot tell: let the load try
    if est.total > free:
        opts = []
        small = "4bit" if device.startswith("cuda") else "int4"  # bitsandbytes; torch's CPU kernels
        if quant != small:
            opts.append(f"--quant {small} (about {estimate(cfg, dtype_bytes, small, context, visual_tokens, views).total / GiB:.1f} GiB)")
        if context > 2048:
            opts.append(f"a shorter context, --max-context 2048 (about "
                        f"{estimate(cfg, dtype_bytes, quant, 2048, visual_tokens, views).total / GiB:.1f} GiB)")
        opts.append("a GGUF model on the CPU (python -m engine export-gguf)")
        raise EngineError(f"This model will not fit: it needs about {est.describe()}, and {device} has "
                          f"{free / GiB:.2f} GiB free. Options: {'; '.join(opts)}.")
    return est
