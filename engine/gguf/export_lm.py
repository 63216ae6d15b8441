"""The language model of a checkpoint as a GGUF llama.cpp runs: Llama/Mistral as arch "llama",
Qwen2 as arch "qwen2", with the tokenizer and chat template inside."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..api import EngineError
from . import export_tensors as T
from .export_vocab import add_vocab

ARCHS = {"llama": "llama", "mistral": "llama", "qwen2": "qwen2"}
# our canonical decoder names -> GGUF names
LAYER_NAMES = {
    "input_layernorm.weight": "attn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight", "self_attn.q_proj.bias": "attn_q.bias",
    "self_attn.k_proj.weight": "attn_k.weight", "self_attn.k_proj.bias": "attn_k.bias",
    "self_attn.v_proj.weight": "attn_v.weight", "self_attn.v_proj.bias": "attn_v.bias",
    "self_attn.o_proj.weight": "attn_output.weight",
    "post_attention_layernorm.weight": "ffn_norm.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight", "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
}


def rope_interleave(w: np.ndarray, n_heads: int) -> np.ndarray:
    """Hugging Face Llama rotates the two halves of each head; llama.cpp's "llama" arch rotates
    adjacent pairs. Reorder q/k output rows so both compute the same thing."""
    return (w.reshape(n_heads, 2, w.shape[0] // n_heads // 2, *w.shape[1:])
             .swapaxes(1, 2).reshape(w.shape))


def lm_tensors(dc, weights: dict):
    """Yield (gguf name, numpy array) for the decoder."""
    arch = ARCHS[dc.family]
    yield "token_embd.weight", weights["decoder.embed_tokens.weight"]
    for i in range(dc.n_layers):
        for ours, theirs in LAYER_NAMES.items():
            w = weights.get(f"decoder.layers.{i}.{ours}")
            if w is None:
                continue
            if arch == "llama" and ours.startswith(("self_attn.q_proj", "self_attn.k_proj")):
                w = rope_interleave(w, dc.n_heads if "q_proj" in ours else dc.n_kv_heads)
            yield f"blk.{i}.{theirs}", w
    yield "output_norm.weight", weights["decoder.norm.weight"]
    if not dc.tie_embeddings and "lm_head.weight" in weights:
        yield "output.weight", weights["lm_head.weight"]


def write_language_model(cfg, weights: dict, folder: Path, out: Path, quant: str, name: str) -> Path:
    import gguf

    dc = cfg.decoder
    if dc.family not in ARCHS:
        raise EngineError(f"Decoder family {dc.family!r} cannot be exported to GGUF.")
    rope = dc.rope
    if rope.get("rope_type", "default") not in ("default", "linear"):
        raise EngineError(f"RoPE scaling {rope.get('rope_type')!r} is not supported by the GGUF "
                          f"export (default and linear are).")
    if dc.o_bias or dc.mlp_bias or (dc.qkv_bias and dc.family != "qwen2"):
        raise EngineError("This decoder has biases llama.cpp's llama arch does not read.")
    arch = ARCHS[dc.family]
    w = gguf.GGUFWriter(str(out), arch)
    w.add_name(name)
    w.add_file_type(T.FILE_TYPES[quant] if quant != "q4_k_m" else T.FILE_TYPES["f16"])
    w.add_context_length(dc.max_positions)
    w.add_embedding_length(dc.hidden)
    w.add_block_count(dc.n_layers)
    w.add_feed_forward_length(dc.intermediate)
    w.add_head_count(dc.n_heads)
    w.add_head_count_kv(dc.n_kv_heads)
    w.add_rope_dimension_count(dc.head_dim)
    if dc.head_dim * dc.n_heads != dc.hidden:
        w.add_key_length(dc.head_dim)
        w.add_value_length(dc.head_dim)
    w.add_layer_norm_rms_eps(dc.norm_eps)
    w.add_rope_freq_base(float(rope.get("rope_theta", 10000.0)))
    if rope.get("rope_type") == "linear":
        w.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        w.add_rope_scaling_factor(float(rope["factor"]))
    w.add_vocab_size(dc.vocab_size)
    eos = cfg.eos_token_ids[0] if cfg.eos_token_ids else None
    add_vocab(w, folder, dc.vocab_size, _bos(folder, weights), eos)
    for gname, arr in lm_tensors(dc, weights):
        T.add(w, gname, arr, quant)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return out


def _bos(folder: Path, weights) -> int | None:
    import json
    cfg = json.loads((folder / "config.json").read_text())
    tc = cfg.get("text_config", cfg)
    b = tc.get("bos_token_id", cfg.get("bos_token_id"))
    return b if isinstance(b, int) else None
