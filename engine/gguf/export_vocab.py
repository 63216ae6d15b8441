"""A Hugging Face tokenizer.json as GGUF tokenizer metadata, so llama.cpp tokenizes exactly as
transformers does.

Two families, told apart by the tokenizer model:
- SentencePiece-style BPE (byte_fallback, Metaspace; LLaMA, Mistral): GGUF model "llama". llama.cpp
  merges by piece score, so each piece's score is minus the rank of the merge that makes it.
- byte-level BPE (GPT-2 style: Qwen2, SmolLM, Llama 3): GGUF model "gpt2" with the merges and the
  name of the pre-tokenizer regex llama.cpp should use (a table keyed by the regex itself)."""
from __future__ import annotations

import json
import re
from pathlib import Path

from ..api import EngineError

# pre-tokenizer split regex (as in tokenizer.json) -> llama.cpp's tokenizer.ggml.pre name
GPT2_REGEX = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
PRE_TOKENIZERS = {
    GPT2_REGEX: "gpt-2",
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+": "llama-bpe",
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+": "qwen2",
}


def load_tokenizer_json(folder: Path) -> dict:
    p = folder / "tokenizer.json"
    if not p.is_file():
        raise EngineError(f"{folder} has no tokenizer.json; export needs the fast tokenizer file "
                          f"(transformers: AutoTokenizer.from_pretrained(...).save_pretrained(dir)).")
    return json.loads(p.read_text(encoding="utf-8"))


def _special_ids(tj: dict) -> tuple[set[int], set[int]]:
    added = tj.get("added_tokens") or []
    return ({a["id"] for a in added if a.get("special")}, {a["id"] for a in added if not a.get("special")})


def _merges(model: dict) -> list[tuple[str, str]]:
    return [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in model.get("merges", [])]


def _tokens(tj: dict, n_vocab: int) -> list[str]:
    vocab = dict(tj["model"]["vocab"])
    for a in tj.get("added_tokens") or []:
        vocab[a["content"]] = a["id"]
    by_id = {i: t for t, i in vocab.items()}
    if max(by_id) >= n_vocab:
        raise EngineError(f"The tokenizer has token id {max(by_id)} but the model's embedding has "
                          f"only {n_vocab} rows.")
    # rows past the tokenizer (vocab padded to a multiple of 64) get unused placeholders
    return [by_id.get(i, f"[PAD{i}]") for i in range(n_vocab)]


def _walk(node) -> list[dict]:
    """A pre_tokenizer (or Sequence of them) as a flat list."""
    if not node:
        return []
    return [x for n in node.get("pretokenizers", []) for x in _walk(n)] if node.get("type") == "Sequence" else [node]


def add_vocab(writer, folder: Path, n_vocab: int, bos_id: int | None, eos_id: int | None) -> str:
    """Write tokenizer.ggml.* into `writer`; return the GGUF tokenizer model name."""
    import gguf

    tj = load_tokenizer_json(folder)
    model = tj["model"]
    if model.get("type") != "BPE":
        raise EngineError(f"Tokenizer model {model.get('type')!r} is not supported for export "
                          f"(BPE only: SentencePiece-style or byte-level).")
    tokens = _tokens(tj, n_vocab)
    special, user = _special_ids(tj)
    unk = model.get("unk_token")
    types = []
    for i, t in enumerate(tokens):
        if i in special:
            types.append(gguf.TokenType.UNKNOWN if t == unk else gguf.TokenType.CONTROL)
        elif i in user:
            types.append(gguf.TokenType.USER_DEFINED)
        elif t == f"[PAD{i}]" and t not in model["vocab"]:
            types.append(gguf.TokenType.UNUSED)
        elif model.get("byte_fallback") and re.fullmatch(r"<0x[0-9A-Fa-f]{2}>", t):
            types.append(gguf.TokenType.BYTE)
        else:
            types.append(gguf.TokenType.NORMAL)

    if model.get("byte_fallback"):
        kind = "llama"
        scores = [0.0] * n_vocab
        seen = set()
        for rank, (a, b) in enumerate(_merges(model)):
            i = model["vocab"].get(a + b)
            if i is not None and i not in seen:
                seen.add(i)
                scores[i] = -float(rank + 1)
        writer.add_tokenizer_model("llama")
        writer.add_tokenizer_pre("default")
        writer.add_token_scores(scores)
        metaspace = [n for n in _walk(tj.get("pre_tokenizer")) if n.get("type") == "Metaspace"]
        writer.add_add_space_prefix(bool(metaspace) and metaspace[0].get("prepend_scheme", "always") != "never")
    else:
        kind = "gpt2"
        splits = [n.get("pattern", {}).get("Regex") for n in _walk(tj.get("pre_tokenizer"))
                  if n.get("type") == "Split"]
        pre = next((PRE_TOKENIZERS[s] for s in splits if s in PRE_TOKENIZERS), None)
        if pre is None:
            pre = "gpt-2" if any(n.get("type") == "ByteLevel" and n.get("use_regex", True)
                               for n in _walk(tj.get("pre_tokenizer"))) else None
        if pre is None:
            raise EngineError("This byte-level tokenizer's pre-tokenizer regex is not one llama.cpp "
                              "is known to implement (gpt-2, llama-bpe, qwen2); export refused rather "
                              "than tokenize differently.")
        writer.add_tokenizer_model("gpt2")
        writer.add_tokenizer_pre(pre)
        writer.add_token_merges([f"{a} {b}" for a, b in _merges(model)])
    writer.add_token_list(tokens)
    writer.add_token_types(types)

    config = _read_json(folder / "tokenizer_config.json")
    if bos_id is not None:
        writer.add_bos_token_id(bos_id)
    if eos_id is not None:
        writer.add_eos_token_id(eos_id)
    if unk is not None and unk in model["vocab"]:
        writer.add_unk_token_id(model["vocab"][unk])
    writer.add_add_bos_token(_adds_bos(tj, bos_id) if "add_bos_token" not in config else bool(config["add_bos_token"]))
    writer.add_add_eos_token(bool(config.get("add_eos_token", False)))
    template = chat_template(folder, config)
    if template:
        writer.add_chat_template(template)
    return kind


def _adds_bos(tj: dict, bos_id) -> bool:
    """Does the tokenizer's post-processor put BOS in front (TemplateProcessing with it)?"""
    post = json.dumps(tj.get("post_processor") or {})
    return bos_id is not None and f'"ids": [{bos_id}]' in post.replace("\n", "")


def chat_template(folder: Path, config: dict) -> str | None:
    jinja = folder / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text(encoding="utf-8")
    t = config.get("chat_template") or _read_json(folder / "chat_template.json").get("chat_template")
    return t if isinstance(t, str) else None


def _read_json(p: Path) -> dict:
    return json.loads(p.read_text(encoding="utf-8")) if p.is_file() else {}
