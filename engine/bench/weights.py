"""The same weights for both engines in `bench decode`: the shipped SmolLM2-135M GGUF (Q4_1)
de-quantized once into a safetensors Llama folder (the torch engine's input), and that folder
written back as a Q8_0 GGUF by the project's own exporter, so torch int8 and llama.cpp Q8_0 start
from identical float weights at the same 8 bits. Both are cached under the data dir."""
from __future__ import annotations

from pathlib import Path


def converted_folder(gguf: Path, cache: Path) -> Path:
    """The GGUF's weights as a safetensors Llama folder (once; later runs reuse it)."""
    out = cache / f"{gguf.stem}-hf"
    if (out / "model.safetensors").is_file():
        return out
    import torch
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig

    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    cfg = model.config.to_dict()
    cfg.pop("quantization_config", None)
    tmp = out.with_suffix(".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    if cfg.get("tie_word_embeddings"):
        state.pop("lm_head.weight", None)
    save_file(state, str(tmp / "model.safetensors"), metadata={"format": "pt"})
    LlamaConfig(**cfg).save_pretrained(tmp)
    tok.save_pretrained(tmp)
    tmp.rename(out)
    return out


def q8_0_gguf(folder: Path, cache: Path) -> Path:
    """`folder` as a Q8_0 GGUF (python -m engine export-gguf ... --quant q8_0), written once."""
    out_dir = cache / f"{folder.name}-q8_0"
    found = sorted(out_dir.glob("*-q8_0.gguf")) if out_dir.is_dir() else []
    if found:
        return found[0]
    from ..gguf.export import export_checkpoint
    tmp = out_dir.with_suffix(".tmp")
    lm, _ = export_checkpoint(folder, tmp, "q8_0")
    tmp.rename(out_dir)
    return out_dir / lm.name


def gguf_bytes_per_token(path: Path) -> int:
    """Bytes llama.cpp reads per token: every tensor but the embedding table (one row), which is
    also read whole as the output matrix when the model ties it."""
    from gguf import GGUFReader
    tensors = {t.name: int(t.n_bytes) for t in GGUFReader(path).tensors}
    n = sum(b for k, b in tensors.items() if k != "token_embd.weight")
    return n + (tensors["token_embd.weight"] if "output.weight" not in tensors else 0)


def torch_bytes_per_token(model) -> int:
    """Bytes the torch engine reads per token: the decoder's weights and quantization scales, not
    its embedding table (one row), and the LM head (the tied table when it has no own head)."""
    dec = model.decoder
    n = sum(t.numel() * t.element_size() for name, t in list(dec.named_parameters()) + list(dec.named_buffers())
            if not name.startswith("embed_tokens") and name != "inv_freq")
    head = getattr(model, "lm_head", None)
    if head is None:
        w = dec.embed_tokens.weight
        return n + w.numel() * w.element_size()
    return n + sum(t.numel() * t.element_size() for t in list(head.parameters()) + list(head.buffers()))
