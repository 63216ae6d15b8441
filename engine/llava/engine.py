"""The torch backend: our own LLaVA model code behind the engine API."""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Iterator

import torch

from ..api import Done, EngineError, EngineInfo, GenParams, Message, Stats, Token
from .generate import RunConfig, Timings, generate
from .model import load_model
from .prompt import Prompter

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def _device(name: str) -> str:
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise EngineError("--device cuda was asked for but no CUDA GPU is visible; use --device cpu.")
    return name


class TorchEngine:
    def __init__(self, folder, attention=None, device="cpu", dtype=None, visual_mlp=None,
                 kernel="sdpa", max_context=None):
        folder = Path(folder)
        if not folder.is_dir():
            raise EngineError(f"Model folder not found: {folder}")
        device = _device(device)
        dtype = dtype or ("bfloat16" if device.startswith("cuda") else "float32")
        if dtype not in DTYPES:
            raise EngineError(f"dtype {dtype!r} is not one of {', '.join(DTYPES)}.")
        self.model = load_model(folder, DTYPES[dtype], device)
        cfg = self.model.cfg
        ee = cfg.ee_mllm or {}
        # An EE-MLLM checkpoint brings its own attention mode and visual_mlp switch.
        attention = attention or ee.get("attention", "composite" if cfg.ee_mllm is not None else "full")
        if attention not in ("full", "composite"):
            raise EngineError(f"attention must be 'full' or 'composite', not {attention!r}.")
        self.run = RunConfig(attention, ee.get("visual_mlp", True) if visual_mlp is None else visual_mlp, kernel)
        self.prompter = Prompter(folder, cfg)
        self.eos = set(cfg.eos_token_ids) | {self.prompter.tokenizer.eos_token_id} - {None}
        self.context = min(cfg.decoder.max_positions, max_context or cfg.decoder.max_positions)
        self.device = device
        self.info = EngineInfo(
            name=folder.name, backend="torch", device=device, dtype=dtype, attention=attention,
            vision=self.model.sees_images, grounding=False, context_length=self.context,
            notes=[f"visual_mlp={self.run.visual_mlp}"] if attention == "composite" else [])

    # ---- for tests and tools ----------------------------------------------------------------
    @torch.inference_mode()
    def logits(self, input_ids: torch.Tensor, pixel_values: torch.Tensor | None = None) -> torch.Tensor:
        """Prompt logits (batch, seq, vocab); each row's images are taken in order from pixel_values."""
        from .decoder import KVCache
        from .forward import ATTENTION
        ids = input_ids.to(self.device)
        feats = self.model.image_features(pixel_values.to(self.device)) if pixel_values is not None else None
        rows, used = [], 0
        for row in ids:
            n = int((row == self.model.cfg.image_token_id).sum()) // self.model.cfg.image_seq_length if feats is not None else 0
            x, vis = self.model.embed(row, feats[used:used + n] if n else None)
            used += n
            cache = KVCache(self.model.cfg.decoder, len(row), x.dtype, self.device)
            pos = torch.arange(len(row), device=self.device)
            h = ATTENTION[self.run.attention](self.model.decoder, x, pos, vis, cache,
                                              visual_mlp=self.run.visual_mlp, kernel=self.run.kernel)
            rows.append(self.model.head(h)[0])
        return torch.stack(rows)

    # ---- the engine API -----------------------------------------------------------------------
    def prepare(self, messages: list[Message]):
        """Validate and tokenize: raises EngineError on bad input, before anything is generated."""
        ids, pixels = self.prompter.build(messages)
        if len(ids) >= self.context:
            raise EngineError(f"The conversation is {len(ids)} tokens; this model's context is "
                              f"{self.context}. Start a new chat or remove images.")
        return ids.to(self.device), pixels

    def stream(self, messages: list[Message], params: GenParams | None = None,
               cancel: threading.Event | None = None) -> Iterator:
        from .textstream import TextStream
        params = params or GenParams()
        ids, pixels = self.prepare(messages)
        budget = max(1, min(params.max_new_tokens, self.context - len(ids)))
        timings = Timings()
        text = TextStream(self.prompter.tokenizer, tuple(params.stop))
        sampling = dict(temperature=params.temperature, top_k=params.top_k, top_p=params.top_p,
                        repetition_penalty=params.repetition_penalty)
        reason, error = "length", None
        try:
            for tok in generate(self.model, ids, pixels, self.run, budget, sampling, self.eos,
                                timings, cancel, params.seed):
                piece = text.push(tok)
                if piece:
                    yield Token(piece)
                if text.stopped:
                    reason = "stop"
                    break
            else:
                reason = "cancelled" if cancel is not None and cancel.is_set() else (
                    "stop" if timings.extra.get("eos") else "length")
            tail = text.flush()
            if tail:
                yield Token(tail)
        except torch.cuda.OutOfMemoryError:
            reason, error = "error", "Out of GPU memory: try a shorter conversation, fewer images, or --quant 4bit."
        except (RuntimeError, MemoryError) as e:
            reason, error = "error", f"The engine failed mid-answer ({type(e).__name__}: {e}). The partial answer is kept."
        yield Stats(prefill_ms=timings.prefill_ms + timings.vision_ms,
                    decode_tokens_per_s=timings.tokens / timings.decode_s if timings.decode_s > 0 else 0.0,
                    prompt_tokens=len(ids), generated_tokens=timings.tokens,
                    extra={"vision_ms": timings.vision_ms, "decoder_prefill_ms": timings.prefill_ms,
                           "attention": self.run.attention, **timings.extra})
        yield Done(reason, error)

    def close(self) -> None:
        self.model = None
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def load_torch_engine(path, attention=None, device="cpu", dtype=None, visual_mlp=None, kernel="sdpa",
                      max_context=None, **ignored) -> TorchEngine:
    return TorchEngine(path, attention=attention, device=device, dtype=dtype, visual_mlp=visual_mlp,
                       kernel=kernel, max_context=max_context)
