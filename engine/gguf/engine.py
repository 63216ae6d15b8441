"""The GGUF backend: llama-cpp-python's `Llama` for the language model, llama.cpp's mtmd for
images when an mmproj GGUF is given or found beside the model.

We drive prefill ourselves instead of `create_chat_completion`: that way the KV cache is kept
between turns (a follow-up question re-reads only its new tokens, images included, where the
library's chat handlers clear the cache and re-encode every image each turn), cancel is checked
between tokens, and the timings come straight from llama.cpp's perf counters."""
from __future__ import annotations

import codecs
import contextlib
import ctypes
import hashlib
import os
import random
import threading
import time
from pathlib import Path
from typing import Iterator

from ..api import Done, EngineError, EngineInfo, GenParams, Message, Stats, Token
from ..catalog import find_mmproj, text_only_refusal
from ..grounding.formats import load_format
from ..images import open_rgb
from ..sampling_defaults import from_gguf
from .cpu import physical_cores
from .header import check_gguf
from .prompt import images_in_order, render
from .stops import StopScanner



def load_gguf_engine(path, mmproj=None, n_ctx: int = 4096, threads: int | None = None, progress=None,
                     box_format: str | None = None, **kw):
    path = Path(path)
    if path.is_dir():  # a folder: the one GGUF in it that is not a projector
        models = [p for p in sorted(path.glob("*.gguf")) if "mmproj" not in p.name.lower()]
        if len(models) != 1:
            raise EngineError(f"{path} holds {len(models)} model GGUF files; give the file itself.")
        path = models[0]
    notes = [f"{k}={v!r} is ignored by the gguf backend" for k, v in kw.items() if v is not None]
    return GGUFEngine(path, mmproj, n_ctx=n_ctx, threads=threads, notes=notes, progress=progress,
                      box_format=box_format)


class GGUFEngine:
    emits_boxes = False  # no box head: boxes come from the answer's box text

    def __init__(self, path: Path, mmproj=None, n_ctx: int = 4096, threads: int | None = None,
                 notes: list[str] | None = None, progress=None, box_format: str | None = None):
        """box_format: how regions are written (engine.grounding.regions) and answers' boxes read;
        None: from the model's name."""
        try:
            import llama_cpp
        except ImportError:
            raise EngineError("The gguf backend needs llama-cpp-python: pip install "
                              "llama-cpp-python==0.3.36") from None
        self._lc = llama_cpp
        meta = check_gguf(path)
        if meta.get("general.architecture") == "clip":
            raise EngineError(f"{path.name} is an mmproj (image projector), not a language model. "
                              f"Pick the model GGUF and give this file as --mmproj.")
        self.mmproj = Path(mmproj) if mmproj else find_mmproj(path)
        if self.mmproj is not None:
            pmeta = check_gguf(self.mmproj, role="mmproj")
            if pmeta.get("general.architecture") != "clip":
                raise EngineError(f"{self.mmproj.name} is not an mmproj file (its architecture is "
                                  f"{pmeta.get('general.architecture')!r}, not 'clip').")
        self.path = path
        self.threads = threads or physical_cores()
        # Coarse progress, in bytes of the files: llama.cpp can report its own loading progress
        # (llama_model_params.progress_callback), but llama-cpp-python's Llama builds those params
        # inside __init__ and takes no callback, so it could only be set by patching the library.
        # (Mapped with mmap, as by default, the model file loads quickly anyway.)
        size = path.stat().st_size
        total = size + (self.mmproj.stat().st_size if self.mmproj is not None else 0)
        report = progress or (lambda *_: None)
        report(0, total)
        with _quiet():
            try:
                self._llm = llama_cpp.Llama(model_path=str(path), n_ctx=n_ctx, n_batch=512,
                                            n_threads=self.threads, n_threads_batch=self.threads,
                                            n_gpu_layers=0, verbose=False)
            except (ValueError, RuntimeError) as e:
                raise EngineError(f"llama.cpp could not load {path.name} ({e}). The file may be "
                                  f"for a newer llama.cpp, or damaged.") from None
        self._mtmd = None
        if self.mmproj is not None:
            report(size, total)  # the language model is in; its projector is next
            self._mtmd = self._init_mtmd(self.mmproj)
        report(total, total)
        self._template = meta.get("tokenizer.chat_template") or None
        self._kv: list = []  # one key per position now in the KV cache (token id or image key)
        self._lock = threading.Lock()
        ftype = meta.get("general.file_type")
        quant = FILE_TYPES.get(ftype, f"file_type {ftype}")
        notes = list(notes or [])
        if not self._template:
            notes.append("no chat template in the GGUF: the model continues the plain text")
        name = str(meta.get("general.name") or path.stem)
        # a GGUF's file name says the family too (Qwen3-VL-2B-Instruct-Q4_K_M.gguf) when its name does not
        self.box_format = load_format(box_format, None, f"{name} {path.name}")
        self.info = EngineInfo(  # named by its file, as the model list names it (general.name is often a run's name)
            name=path.stem, backend="gguf", sampling=from_gguf(meta, self._llm._model.n_params()), device="cpu", dtype=quant, quantization=quant,
            attention="full", vision=self._mtmd is not None, grounding=self.box_format != "auto",
            context_length=self._llm.n_ctx(), notes=notes)

    # ---- loading ------------------------------------------------------------------------------
    def _init_mtmd(self, mmproj: Path):
        from llama_cpp import _logger, mtmd_cpp
        if not os.environ.get("VLCHAT_LLAMA_VERBOSE"):  # mtmd logs every prompt; errors only
            mtmd_cpp.mtmd_log_set(_logger.llama_log_callback, None)
            mtmd_cpp.mtmd_helper_log_set(_logger.llama_log_callback, None)
        params = mtmd_cpp.mtmd_context_params_default()
        params.use_gpu = False
        params.print_timings = False
        params.n_threads = self.threads
        params.warmup = False
        with _quiet():
            ctx = mtmd_cpp.mtmd_init_from_file(str(mmproj).encode(), self._llm.model, params)
        if not ctx:
            raise EngineError(f"llama.cpp could not load the projector {mmproj.name}: it does not "
                              f"match {self.path.name} (embedding sizes differ) or is damaged.")
        if not mtmd_cpp.mtmd_support_vision(ctx):
            mtmd_cpp.mtmd_free(ctx)
            raise EngineError(f"{mmproj.name} has no vision encoder; it cannot read images.")
        self._mtmd_cpp = mtmd_cpp
        self._marker = mtmd_cpp.mtmd_default_marker().decode()
        return ctx

    def close(self) -> None:
        with self._lock:
            if self._mtmd is not None:
                self._mtmd_cpp.mtmd_free(self._mtmd)
                self._mtmd = None
            if getattr(self, "_llm", None) is not None:
                self._llm.close()
                self._llm = None

    # ---- prompt -> segments -------------------------------------------------------------------
    def _segments(self, messages: list[Message]):
        """[(keys, payload)]: a text run (keys = token ids) or one image chunk (keys = image
        hash per position, payload = the mtmd chunk). Caller frees the returned chunks."""
        images = images_in_order(messages)
        if images and self._mtmd is None:
            raise EngineError(text_only_refusal(self.path.stem))
        llm = self._llm
        bos = llm.detokenize([llm.token_bos()], special=True).decode(errors="ignore") if llm.token_bos() >= 0 else ""
        eos = llm.detokenize([llm.token_eos()], special=True).decode(errors="ignore") if llm.token_eos() >= 0 else ""
        marker = self._marker if self._mtmd is not None else "<__media__>"
        try:
            text = render(messages, self._template, bos, eos, marker, self.box_format)
        except EngineError:  # a bad image, read for a region's size
            raise
        except Exception as e:  # jinja errors from the model's own template
            raise EngineError(f"The chat template inside {self.path.name} failed on this "
                              f"conversation ({type(e).__name__}: {e}).") from None
        if not images:
            tokens = llm.tokenize(text.encode(), add_bos=True, special=True)
            return [(_dedupe_bos(tokens, llm.token_bos()), None)], None
        return self._mtmd_segments(text, images)

    def _mtmd_segments(self, text: str, images):
        m = self._mtmd_cpp
        bitmaps, keys = [], []
        try:
            for img in images:
                rgb = open_rgb(img)  # validated and decoded by PIL, never by stb_image
                raw = rgb.tobytes()
                keys.append(hashlib.sha256(raw + f"{rgb.size}".encode()).hexdigest()[:16])
                bmp = m.mtmd_bitmap_init(rgb.width, rgb.height,
                                         (ctypes.c_uint8 * len(raw)).from_buffer_copy(raw))
                if not bmp:
                    raise EngineError("llama.cpp could not take this image.")
                bitmaps.append(bmp)
            inp = m.mtmd_input_text()
            data = text.encode()
            inp.text, inp.text_len, inp.add_special, inp.parse_special = data, len(data), True, True
            chunks = m.mtmd_input_chunks_init()
            arr = (m.mtmd_bitmap_p_ctypes * len(bitmaps))(*bitmaps)
            rc = m.mtmd_tokenize(self._mtmd, chunks, ctypes.byref(inp), arr, len(bitmaps))
            if rc != 0:
                m.mtmd_input_chunks_free(chunks)
                raise EngineError(f"llama.cpp could not prepare the images (mtmd_tokenize "
                                  f"returned {rc}); the prompt has {len(images)} image(s).")
        finally:
            for b in bitmaps:
                m.mtmd_bitmap_free(b)
        segs, it = [], iter(keys)
        for i in range(m.mtmd_input_chunks_size(chunks)):
            chunk = m.mtmd_input_chunks_get(chunks, i)
            if m.mtmd_input_chunk_get_type(chunk) == m.MTMD_INPUT_CHUNK_TYPE_TEXT:
                n = ctypes.c_size_t()
                ptr = m.mtmd_input_chunk_get_tokens_text(chunk, ctypes.byref(n))
                toks = [ptr[j] for j in range(n.value)]
                if not segs:
                    toks = _dedupe_bos(toks, self._llm.token_bos())
                segs.append((toks, None))
            else:
                key = next(it)
                n = m.mtmd_input_chunk_get_n_tokens(chunk)
                segs.append(([(key, j) for j in range(n)], chunk))
        return segs, chunks

    def prompt_tokens(self, messages: list[Message]) -> list[int]:
        """The token ids a text-only conversation is prompted with (for tests and tools)."""
        segs, chunks = self._segments(messages)
        if chunks is not None:
            self._mtmd_cpp.mtmd_input_chunks_free(chunks)
        return [k for ks, _ in segs for k in ks]

    # ---- prefill with KV reuse ----------------------------------------------------------------
    def _prefill(self, segs) -> tuple[list, int, float]:
        """Evaluate what is not already in the KV cache; return (keys, positions reused,
        image encode ms)."""
        llm, lc = self._llm, self._lc
        keys = [k for ks, _ in segs for k in ks]
        if len(keys) >= llm.n_ctx():
            raise EngineError(f"The conversation is {len(keys)} tokens but the context holds "
                              f"{llm.n_ctx()}. Start a new chat or load the model with a larger "
                              f"context.")
        common = 0
        for a, b in zip(self._kv, keys):
            if a != b:
                break
            common += 1
        common = min(common, len(keys) - 1)  # the last position is re-read for fresh logits
        while common > 0 and isinstance(keys[common], tuple) and keys[common][1] > 0:
            common -= 1  # never split an image
        mem = lc.llama_get_memory(llm.ctx)
        if not lc.llama_memory_seq_rm(mem, -1, common, -1):
            lc.llama_memory_clear(mem, True)
            common = 0
        llm.n_tokens = common
        self._kv = keys[:common]
        encode_ms, pos = 0.0, 0
        for ks, chunk in segs:
            start, end = pos, pos + len(ks)
            pos = end
            if end <= common:
                continue
            if chunk is None:
                llm.eval(ks[max(0, common - start):])
            else:
                encode_ms += self._eval_image(chunk)
            self._kv = keys[:end]
        return keys, common, encode_ms

    def _eval_image(self, chunk) -> float:
        m, llm, lc = self._mtmd_cpp, self._llm, self._lc
        t0 = time.perf_counter()
        if m.mtmd_encode_chunk(self._mtmd, chunk) != 0:
            raise EngineError("llama.cpp failed to encode an image with the mmproj.")
        ms = (time.perf_counter() - t0) * 1000
        embd = m.mtmd_get_output_embd(self._mtmd)
        new_n = lc.llama_pos(0)
        rc = m.mtmd_helper_decode_image_chunk(self._mtmd, llm.ctx, chunk, embd,
                                              llm.n_tokens, 0, llm.n_batch,
                                              ctypes.byref(new_n),
                                              m.mtmd_helper_post_decode_callback(), None)  # NULL
        if rc != 0:
            raise EngineError(f"llama.cpp failed to read an image into the model (code {rc}).")
        n = m.mtmd_input_chunk_get_n_tokens(chunk)
        llm.input_ids[llm.n_tokens:llm.n_tokens + n] = -1  # positions that hold no token
        llm.n_tokens = new_n.value
        return ms

    # ---- generation ---------------------------------------------------------------------------
    def stream(self, messages: list[Message], params: GenParams | None = None,
               cancel: threading.Event | None = None) -> Iterator:
        params = params or GenParams()
        if not self._lock.acquire(blocking=False):
            raise EngineError("This model is already answering; stop that answer first.")
        chunks = None
        try:
            if self._llm is None:
                raise EngineError("This model was closed; load it again.")
            segs, chunks = self._segments(messages)
            yield from self._generate(segs, params, cancel or threading.Event())
        finally:
            if chunks is not None:
                self._mtmd_cpp.mtmd_input_chunks_free(chunks)
            self._lock.release()

    def _generate(self, segs, params: GenParams, cancel: threading.Event):
        llm, lc = self._llm, self._lc
        lc.llama_perf_context_reset(llm.ctx)
        keys, reused, encode_ms = self._prefill(segs)
        budget = min(params.max_new_tokens, llm.n_ctx() - len(keys))
        vocab = lc.llama_model_get_vocab(llm.model)
        llm.set_seed(params.seed if params.seed is not None else random.getrandbits(31))
        utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        stops = StopScanner(params.stop)
        reason, n = "length", 0
        gen = llm.generate([], reset=False, temp=max(params.temperature, 0.0),
                           top_p=params.top_p, top_k=params.top_k, min_p=0.0,
                           repeat_penalty=params.repetition_penalty)
        error = None
        try:
            for tok in gen:
                if cancel.is_set():
                    reason = "cancelled"
                    break
                if lc.llama_vocab_is_eog(vocab, tok):
                    reason = "stop"
                    break
                n += 1
                text, hit = stops.feed(utf8.decode(llm.detokenize([tok])))
                if text:
                    yield Token(text)
                if hit:
                    reason = "stop"
                    break
                if n >= budget:
                    break
        except (RuntimeError, ValueError, OSError) as e:  # llama_decode failing mid-answer
            reason, error = "error", f"llama.cpp failed mid-answer ({e}). The partial answer is kept."
        finally:
            gen.close()
            self._kv = keys + [int(t) for t in llm.input_ids[len(keys):llm.n_tokens]]
        if reason not in ("stop", "error"):
            tail = stops.flush(utf8.decode(b"", final=True))
            if tail:
                yield Token(tail)
        perf = lc.llama_perf_context(llm.ctx)
        yield Stats(prefill_ms=perf.t_p_eval_ms + encode_ms,
                    decode_tokens_per_s=perf.n_eval / perf.t_eval_ms * 1000 if perf.t_eval_ms > 0 else 0.0,
                    prompt_tokens=len(keys), generated_tokens=n,
                    extra={"reused_tokens": reused,
                           "image_encode_ms": encode_ms, "llama_t_p_eval_ms": perf.t_p_eval_ms,
                           "llama_t_eval_ms": perf.t_eval_ms, "llama_n_eval": perf.n_eval,
                           "threads": self.threads})
        yield Done(reason, error)


def _dedupe_bos(tokens: list[int], bos: int) -> list[int]:
    """A template that writes {{ bos_token }} plus the tokenizer's own BOS gives two."""
    return tokens[1:] if len(tokens) > 1 and tokens[0] == tokens[1] == bos else tokens


@contextlib.contextmanager
def _quiet():
    """llama.cpp and clip print load logs on fd 2; keep the terminal for the answer."""
    if os.environ.get("VLCHAT_LLAMA_VERBOSE"):
        yield
        return
    from llama_cpp._utils import suppress_stdout_stderr
    with suppress_stdout_stderr(disable=False):
        yield


FILE_TYPES = {0: "f32", 1: "f16", 2: "q4_0", 3: "q4_1", 7: "q8_0", 8: "q5_0", 9: "q5_1",
              10: "q2_k", 11: "q3_k_s", 12: "q3_k_m", 13: "q3_k_l", 14: "q4_k_s", 15: "q4_k_m",
              16: "q5_k_s", 17: "q5_k_m", 18: "q6_k", 32: "bf16"}
