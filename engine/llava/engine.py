"""The torch backend: our own LLaVA model code behind the engine API."""
from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Iterator

import torch

from ..api import MAX_TILES, Box, Done, EngineError, EngineInfo, GenParams, Message, NoBox, Stats, Token
from ..catalog import data_dir
from ..grounding.formats import load_format
from ..sampling_defaults import from_generation_config
from ..grounding.geometry import NO_BOX, clip_box, padded_to_original, tally
from .checkpoint import fingerprint
from .cpu import cpu_dtype, cpu_quant, int_kernel_note
from .anyres import most_image_tokens, most_views
from .generate import RunConfig, Timings, decode_loop
from .kvstore import VisualKVStore
from .config import read_config
from .forward import available_kernels, forward
from .memory import check_fits, param_count
from .model import load_model
from .prompt import Prompter
from .quant import CPU_MODES, check_mode
from .reuse import Prefiller

DEFAULT_CONTEXT = 4096  # the KV budget planned for unless --max-context asks for more
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def quant_notes(model, quant: str | None, device: str) -> list[str]:
    """For info.notes: what CPU weight-only quantization did, or which --quant suits this device."""
    counts = getattr(model, "quant_counts", None)
    out = []
    if counts:
        done = ", ".join(f"{n} {k}" for k, n in counts.items() if k in CPU_MODES and n)
        out.append(f"decoder linears: {done or 'none'} (torch CPU kernels); LM head {counts.get('head', 'unquantized')}")
        if counts.get("kept"):
            out.append(f"{counts['kept']} decoder linears kept unquantized: no int8 kernel takes their shape")
        if int_kernel_note():
            out.append(int_kernel_note())
    if quant in ("8bit", "4bit") and not device.startswith("cuda"):
        out.append(f"--quant {quant} is bitsandbytes, made for CUDA; on the CPU --quant "
                   f"{'int8' if quant == '8bit' else 'int4'} runs PyTorch's own CPU kernels")
    return out


def _device(name: str) -> str:
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if not re.fullmatch(r"cpu|cuda(:\d+)?", name):
        raise EngineError(f"Unknown --device {name!r}; use auto, cpu, cuda or cuda:N.")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise EngineError("--device cuda was asked for but no CUDA GPU is visible; use --device cpu.")
    if name.startswith("cuda:") and int(name[5:]) >= torch.cuda.device_count():
        raise EngineError(f"--device {name}: this machine has {torch.cuda.device_count()} CUDA GPU(s).")
    return name


def _json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


class TorchEngine:
    def __init__(self, folder, attention=None, device="auto", dtype=None, visual_mlp=None,
                 kernel="sdpa", max_context=None, visual_cache=True, kv_cache_dir=None,
                 kv_cache_bytes=2 * 2 ** 30, kv_disk_bytes=8 * 2 ** 30, kv_cache_dtype=None, quant=None,
                 compile=False, progress=None, box_format=None, max_tiles=None):
        """box_format: how regions are written and answers' boxes read for a model without a box
        head (engine.grounding.formats); None: from its config.json or folder name. max_tiles
        (LLaVA-NeXT): the most tiles an image is cut into, 0 for the base view only; None: all."""
        folder = Path(folder)
        if folder.is_file():  # a weights file given for its folder: say what is wanted
            kind = ("a pickle file, never loaded: only safetensors and GGUF are"
                    if folder.suffix in (".bin", ".pt", ".pth", ".ckpt", ".pkl") else "a file")
            raise EngineError(f"{folder} is {kind}; the torch backend loads a model folder (config.json "
                              f"and *.safetensors), the gguf backend a .gguf file.")
        if not folder.is_dir():
            raise EngineError(f"Model folder not found: {folder}")
        device = _device(device)
        notes = []
        if device.startswith("cuda"):
            dtype = dtype or "bfloat16"
        else:  # bf16 only where this CPU has it natively (cpu.py); else float32, said in the notes
            dtype, note = cpu_dtype(dtype)
            quant, quant_note = cpu_quant(quant)
            notes += [n for n in (note, quant_note) if n]
        check_mode(quant, device)
        for name in (dtype, kv_cache_dtype or dtype):
            if name not in DTYPES:
                raise EngineError(f"dtype {name!r} is not one of {', '.join(DTYPES)}.")
        if kernel not in available_kernels(device):
            raise EngineError(f"Attention kernel {kernel!r} is not available on {device}; "
                              f"available: {', '.join(available_kernels(device))}.")
        cfg = read_config(folder)
        max_tiles = tiles_option(max_tiles, cfg)
        per_image = most_image_tokens(cfg, max_tiles)
        # A tiled image takes up to ~2,900 tokens: room for two of them and a conversation by default.
        self.context = min(cfg.decoder.max_positions, max_context or max(DEFAULT_CONTEXT, 2 * per_image + 1024))
        # Refuse before anything is allocated when it cannot fit (GPU memory, or RAM on CPU).
        self.estimate = check_fits(cfg, device, DTYPES[dtype].itemsize, quant, self.context, per_image,
                                   most_views(cfg, max_tiles))
        self.model = load_model(folder, DTYPES[dtype], device, quant=quant, cfg=cfg, progress=progress)
        if compile and not device.startswith("cuda") and self.model.sees_images:
            self.model.vision.compile_layers()  # the tower's share of the first token, fused
        notes += quant_notes(self.model, quant, device)
        float32_tower = (self.model.sees_images  # model.small_tower
                         and self.model.vision.embeddings.patch_embedding.weight.dtype != DTYPES[dtype])
        if float32_tower:
            notes.append("vision tower and projector in float32 (small beside the decoder)")
        ee = cfg.ee_mllm or {}
        # An EE-MLLM checkpoint brings its own attention mode and visual_mlp switch.
        attention = attention or ee.get("attention", "composite" if cfg.ee_mllm is not None else "full")
        if attention not in ("full", "composite"):
            raise EngineError(f"attention must be 'full' or 'composite', not {attention!r}.")
        self.run = RunConfig(attention, ee.get("visual_mlp", True) if visual_mlp is None else visual_mlp, kernel,
                             compile)
        self.prompter = Prompter(folder, cfg, max_tiles)
        if self.prompter.reads_words:
            from . import words
            words.warm()
        self.eos = set(cfg.eos_token_ids) | {self.prompter.tokenizer.eos_token_id} - {None}
        self.device = device
        self.lock = threading.Lock()  # one generation at a time: they share the cached conversation
        # Visual K/V may be reused only by the same weights, preprocessing, visual_mlp and dtypes.
        prep = b"".join((folder / n).read_bytes() for n in ("preprocessor_config.json", "processor_config.json")
                        if (folder / n).is_file())
        namespace = VisualKVStore.key(fingerprint(folder), prep.decode(errors="replace"),
                                      str(self.run.visual_mlp), dtype, kv_cache_dtype or dtype,
                                      *([quant] if quant else []),  # other weights, other K/V
                                      *(["float32 tower"] if float32_tower else []))
        store = None
        if visual_cache and attention == "composite" and self.model.sees_images:
            disk = None if kv_cache_dir is False else (kv_cache_dir or data_dir() / "kvcache")
            # float32 by default: float16 storage halves the memory but moved the tiny model's
            # logits by ~7.5e-4, past the 1e-4 that exact reuse is held to (test_reuse.py).
            store = VisualKVStore(kv_cache_bytes, disk, kv_disk_bytes,
                                  DTYPES[kv_cache_dtype] if kv_cache_dtype else None)
        self.prefiller = Prefiller(self.model, self.run, store, namespace)
        self.emits_boxes = self.model.has_box_head
        self.image_geometry = self.prompter.image_geometry  # Grounded reads answers' boxes in it
        self.box_format = load_format(box_format, json.loads((folder / "config.json").read_text()), folder.name)
        self.info = EngineInfo(
            name=folder.name, backend="torch", device=device, dtype=dtype, attention=attention, quantization=quant,
            vision=self.model.sees_images, grounding=self.model.has_box_head or self.box_format != "auto",
            context_length=self.context,
            notes=([f"visual_mlp={self.run.visual_mlp}"] if attention == "composite" else []) + notes
            + ([tiling_note(max_tiles, per_image)] if cfg.grid_pinpoints is not None else []),
            sampling=from_generation_config(_json(folder / "generation_config.json"), sum(param_count(cfg))))
        if max_context and max_context > self.context:  # said, not silently shortened
            self.info.notes.append(f"max_context={max_context} is capped at {self.context}: the model "
                                   f"has {cfg.decoder.max_positions} positions")

    # ---- for tests and tools ----------------------------------------------------------------
    @torch.inference_mode()
    def logits(self, input_ids: torch.Tensor, pixel_values: torch.Tensor | None = None,
               boxes: list | None = None) -> torch.Tensor:
        """Prompt logits (batch, seq, vocab), computed from scratch by the one forward (no cache);
        the rows' images are taken in order from pixel_values, their regions (one per <boxes>
        token) from boxes. Rows must have their images at the same positions."""
        ids = input_ids.to(self.device)
        feats = self.model.image_features(pixel_values.to(self.device)) if pixel_values is not None else None
        x, is_visual = self.model.embed(ids, feats, boxes)
        h = forward(self.model.decoder, x, torch.arange(ids.shape[1], device=self.device), is_visual, None, self.run)
        return self.model.head(h)

    # ---- the engine API -----------------------------------------------------------------------
    def prepare(self, messages: list[Message]):
        """(input_ids, pixel_values) of a conversation; raises EngineError on bad input."""
        prompt = self.build(messages)
        return prompt.ids, prompt.pixels

    def build(self, messages: list[Message]):
        """Validate and tokenize: raises EngineError on bad input, before anything is generated."""
        prompt = self.prompter.build(messages, self.box_format)
        if len(prompt.ids) >= self.context:
            raise EngineError(f"The conversation is {len(prompt.ids)} tokens; this model's context is "
                              f"{self.context}. Start a new chat or remove images.")
        prompt.ids = prompt.ids.to(self.device)
        return prompt

    def first_logits(self, messages: list[Message]) -> tuple[torch.Tensor, dict]:
        """Logits of the first answer token through the reusing prefill, and what was reused (tests
        compare them with `logits()` computed from scratch). Updates the cached conversation."""
        with self.lock:
            prompt = self.build(messages)
            timings = Timings()
            logits, cache, keys = self.prefiller.prefill(prompt, 1, timings)
            self.prefiller.remember(keys, cache)
            return logits, timings.extra

    def stream(self, messages: list[Message], params: GenParams | None = None,
               cancel: threading.Event | None = None) -> Iterator:
        params = params or GenParams()
        prompt = self.build(messages)
        with self.lock:
            yield from self._generate(prompt, params, cancel)

    def _generate(self, prompt, params: GenParams, cancel):
        from .textstream import TextStream
        ids = prompt.ids
        budget = max(1, min(params.max_new_tokens, self.context - len(ids)))
        timings = Timings()
        text = TextStream(self.prompter.tokenizer, tuple(params.stop))
        sampling = dict(temperature=params.temperature, top_k=params.top_k, top_p=params.top_p,
                        repetition_penalty=params.repetition_penalty, logit_bias=params.logit_bias)
        reason, error, fed, kept, notes = "length", None, [], 0, []
        try:
            logits, cache, keys = self.prefiller.prefill(prompt, budget, timings)
            for tok in decode_loop(self.model, logits, ids.clone(), cache, self.run, budget, sampling,
                                   self.eos, timings, cancel, params.seed, fed):
                if isinstance(tok, tuple):
                    box = self._box(tok[1:], prompt, kept, notes)
                    if box is not None:
                        yield box
                    if isinstance(box, Box):  # a dropped box and a NoBox have no [k]: refs stay 0, 1, 2, ...
                        yield Token(f"[{kept}]")
                        kept += 1
                    continue
                piece = text.push(tok)
                if piece:
                    yield Token(piece)
                if text.stopped:
                    reason = "stop"
                    break
            else:
                reason = "cancelled" if cancel is not None and cancel.is_set() else (
                    "stop" if timings.extra.get("eos") else "length")
            self.prefiller.remember(keys + fed, cache)
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
                           **({"ocr_ms": prompt.read_ms} if prompt.read_ms else {}),
                           "attention": self.run.attention, **timings.extra,
                           **({"memory_bytes": torch.cuda.memory_allocated(self.device)} if "cuda" in self.device else {})})
        yield Done(reason, error, tally(notes))

    @staticmethod
    def _box(box, prompt, k: int, notes: list) -> Box | NoBox | None:
        """A pix2emb box as Box k on the most recent image, mapped from the padded square the model
        saw back to the original image: clipped, or None (dropped) with a note for the user; NoBox
        and no note for NO_BOX (a null pointer's "nothing more")."""
        null = tuple(box) == NO_BOX
        if not prompt.image_sizes:
            if not null:
                notes.append("dropped a box: the conversation has no image for it")
            return None
        img = len(prompt.image_sizes) - 1
        if null:
            return NoBox(img)
        clipped, note = clip_box(padded_to_original(tuple(box), *prompt.image_sizes[img]))
        if note:
            notes.append(note)
        return None if clipped is None else Box(k, img, *clipped)

    def close(self) -> None:
        self.model = self.prefiller = None  # the prefiller holds the model and the last cache
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


OPTIONS = ("attention", "device", "dtype", "visual_mlp", "kernel", "max_context", "visual_cache",
           "kv_cache_dir", "kv_cache_bytes", "kv_disk_bytes", "kv_cache_dtype", "quant", "compile", "progress",
           "box_format", "max_tiles")


def tiles_option(value, cfg) -> int | None:
    """--max-tiles as given (a number, or a key of api.MAX_TILES) -> tiles, None for all."""
    if value is None or value == "all":
        return None
    if cfg.grid_pinpoints is None:
        raise EngineError("--max-tiles applies to LLaVA-NeXT (any-resolution) checkpoints; this one "
                          "shows each image as one view.")
    value = MAX_TILES.get(str(value), value)
    if not isinstance(value, int) and not str(value).isdigit():
        raise EngineError(f"--max-tiles {value!r}: give a number of tiles, or one of {', '.join(MAX_TILES)}.")
    return int(value)


def tiling_note(max_tiles, per_image: int) -> str:
    cap = "the base view only" if max_tiles == 0 else "all tiles" if max_tiles is None else f"at most {max_tiles} tiles"
    return f"any-resolution tiling: {cap}, up to {per_image:,} visual tokens per image"


def load_torch_engine(path, **kw) -> TorchEngine:
    eng = TorchEngine(path, **{k: v for k, v in kw.items() if k in OPTIONS and v is not None})
    ignored = sorted(k for k, v in kw.items() if k not in OPTIONS and v is not None)
    if ignored:
        eng.info.notes.append(f"ignored by the torch backend: {', '.join(ignored)}")
    return eng
