"""Quantization of the decoder's linear layers, by name: bitsandbytes (`4bit` NF4 with double
quant, `8bit` LLM.int8; made for CUDA) or PyTorch's CPU weight-only kernels (`int8`, `int4`,
`bf16`: cpuquant.py). The vision tower, projector and embeddings keep the compute dtype."""
from __future__ import annotations

import logging

import torch
from torch import nn

from ..api import EngineError

BNB_MODES = ("4bit", "8bit")    # bitsandbytes
CPU_MODES = ("int8", "int4", "bf16")  # weight-only, torch's own CPU kernels: CPU only
MODES = BNB_MODES + CPU_MODES


def check_mode(mode: str | None, device: str) -> None:
    """A clear refusal for a name that does not exist or a kernel this device lacks."""
    if mode is None:
        return
    if mode not in MODES:
        raise EngineError(f"--quant must be one of {', '.join(MODES)}, not {mode!r} "
                          f"(int8/int4/bf16 on the CPU; 8bit/4bit: bitsandbytes, for CUDA).")
    if mode in CPU_MODES and not device.startswith("cpu"):
        instead = {"int8": "--quant 8bit (bitsandbytes)", "int4": "--quant 4bit (bitsandbytes)",
                   "bf16": "--dtype bfloat16"}[mode]
        raise EngineError(f"--quant {mode} uses PyTorch's CPU kernels; on {device} use {instead}.")


def _bnb():
    try:
        import bitsandbytes as bnb
    except ImportError:
        raise EngineError("--quant needs bitsandbytes: pip install 'vlchat[gpu]' (or bitsandbytes).") from None
    # LLM.int8 casts float32 inputs to float16 by design; bitsandbytes logs that on every matmul
    # (40 lines for a 3-token answer on CPU). Said once, it is news; said each time, it is noise.
    logging.getLogger("bitsandbytes.autograd._functions").addFilter(_ONCE)  # added once: a set
    return bnb


class _OncePerMessage(logging.Filter):
    def __init__(self):
        super().__init__()
        self.seen: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        new = str(record.msg) not in self.seen
        self.seen.add(str(record.msg))
        return new


_ONCE = _OncePerMessage()


def quantized_linear(layer: nn.Linear, mode: str, compute_dtype: torch.dtype) -> nn.Module:
    bnb = _bnb()
    bias = layer.bias is not None
    if mode == "4bit":
        q = bnb.nn.Linear4bit(layer.in_features, layer.out_features, bias=bias, compute_dtype=compute_dtype,
                              quant_type="nf4", compress_statistics=True, device="meta")
        q.weight = bnb.nn.Params4bit(layer.weight.data, requires_grad=False, quant_type="nf4",
                                     compress_statistics=True)
    else:
        q = bnb.nn.Linear8bitLt(layer.in_features, layer.out_features, bias=bias, has_fp16_weights=False,
                                threshold=6.0, device="meta")
        q.weight = bnb.nn.Int8Params(layer.weight.data, requires_grad=False, has_fp16_weights=False)
    if bias:
        q.bias = nn.Parameter(layer.bias.data, requires_grad=False)
    return q


def quantize_decoder(model, mode: str, device: str, compute_dtype: torch.dtype) -> int | dict:
    """Swap every attention/MLP linear of the decoder, layer by layer, moving each one to `device`
    as it is quantized (so the full-precision decoder never sits on the GPU). Returns the count
    (bitsandbytes) or counts by kind (CPU modes, cpuquant.quantize_decoder_cpu)."""
    check_mode(mode, device)
    if mode in CPU_MODES:
        from .cpuquant import quantize_decoder_cpu
        return quantize_decoder_cpu(model, mode, compute_dtype)
    n = 0
    for layer in model.decoder.layers:
        for parent in (layer.self_attn, layer.mlp):
            for name, child in list(parent.named_children()):
                if isinstance(child, nn.Linear):
                    setattr(parent, name, quantized_linear(child, mode, compute_dtype).to(device))
                    n += 1
        layer.to(device)
    return n


def prequantized_modules(weights: dict) -> dict[str, str]:
    """Module names (canonical) that a bitsandbytes checkpoint saved quantized -> "4bit"|"8bit"."""
    found = {}
    for key in weights:
        if key.endswith(".weight.quant_state.bitsandbytes__nf4") or key.endswith(".weight.quant_state.bitsandbytes__fp4"):
            found[key.split(".weight.quant_state.")[0]] = "4bit"
        elif key.endswith(".SCB"):
            found[key[: -len(".SCB")]] = "8bit"
    return found


def load_prequantized(model, weights: dict, device: str, compute_dtype: torch.dtype) -> set[str]:
    """Put each saved-quantized linear in place as transformers saved it (NF4/FP4 with its
    statistics, or int8 with its row scales). Returns the weight keys consumed."""
    bnb = _bnb()
    used = set()
    for name, mode in prequantized_modules(weights).items():
        parent_name, _, attr = name.rpartition(".")
        try:
            parent = model.get_submodule(parent_name)
            old = getattr(parent, attr)
        except AttributeError:
            continue  # a layer this engine does not build (the vision tower's unread last layers)
        bias = f"{name}.bias" in weights
        if mode == "4bit":
            prefix = f"{name}.weight."
            stats = {k[len(prefix):]: v for k, v in weights.items() if k.startswith(prefix)}
            q = bnb.nn.Linear4bit(old.in_features, old.out_features, bias=bias, compute_dtype=compute_dtype,
                                  device="meta")
            used |= {prefix + k for k in stats}  # before: from_prequantized consumes the dict
            q.weight = bnb.nn.Params4bit.from_prequantized(weights[f"{name}.weight"], stats, requires_grad=False,
                                                           device=device)
        else:
            q = bnb.nn.Linear8bitLt(old.in_features, old.out_features, bias=bias, has_fp16_weights=False,
                                    device="meta")
            q.weight = bnb.nn.Int8Params(weights[f"{name}.weight"].to(device), requires_grad=False,
                                         has_fp16_weights=False)
            q.weight.CB = q.weight.data                  # the int8 rows, as bnb keeps them
            q.weight.SCB = weights[f"{name}.SCB"].to(device)
            used |= {f"{name}.SCB", f"{name}.weight_format"}
        if bias:
            q.bias = nn.Parameter(weights[f"{name}.bias"].to(device, compute_dtype), requires_grad=False)
            used.add(f"{name}.bias")
        used.add(f"{name}.weight")
        setattr(parent, attr, q)
    return used
