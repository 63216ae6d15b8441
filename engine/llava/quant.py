"""bitsandbytes quantization of the decoder's linear layers (NF4 with double quant, or LLM.int8).
The vision tower, projector, embeddings and head keep the compute dtype."""
from __future__ import annotations

import torch
from torch import nn

from ..api import EngineError

MODES = ("4bit", "8bit")


def _bnb():
    try:
        import bitsandbytes as bnb
    except ImportError:
        raise EngineError("--quant needs bitsandbytes: pip install 'vlchat[gpu]' (or bitsandbytes).") from None
    return bnb


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


def quantize_decoder(model, mode: str, device: str, compute_dtype: torch.dtype) -> int:
    """Swap every attention/MLP linear of the decoder, layer by layer, moving each one to `device`
    as it is quantized (so the full-precision decoder never sits on the GPU). Returns the count."""
    if mode not in MODES:
        raise EngineError(f"--quant must be one of {', '.join(MODES)}, not {mode!r}.")
    n = 0
    for layer in model.decoder.layers:
        for parent in (layer.self_attn, layer.mlp):
            for name, child in list(parent.named_children()):
                if isinstance(child, nn.Linear):
                    setattr(parent, name, quantized_linear(child, mode, compute_dtype).to(device))
                    n += 1
        layer.to(device)
    return n
