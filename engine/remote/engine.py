"""The `openai` backend: stream chat completions from an OpenAI-compatible server.

We never run the server: vLLM, SGLang or llama.cpp serve the model; this is only a client.
Failures become Done("error", message) with the partial answer already yielded, never a crash."""
from __future__ import annotations

import os
import queue
import threading
import time
from urllib.parse import urlsplit

import openai

from ..api import Done, EngineError, EngineInfo, GenParams, Message, Stats, Token
from ..grounding.formats import load_format
from .errors import explain, without_credentials
from .messages import to_openai
from .params import refused_extras, request_options

API_KEY_ENV = "VLCHAT_API_KEY"
DEFAULT_TIMEOUT = 120.0
_STARTED, _END = object(), object()  # markers the request thread puts around its chunks
FINISH_REASONS = {"stop": "stop", "length": "length"}  # anything else ("abort", ...) ends as stop


def load_openai_engine(path, api_key: str | None = None, model: str | None = None,
                       timeout: float | None = DEFAULT_TIMEOUT, box_format: str | None = None,
                       **ignored) -> "OpenAIEngine":
    """Connect to the server at base URL `path`, check the key and pick the model it serves.
    box_format: how regions are written and answers' boxes read; None: from the model's name."""
    url = str(path).rstrip("/")
    shown = without_credentials(url)  # what messages say: a user:password@ in the URL stays out
    if not url.startswith(("http://", "https://")):
        raise EngineError(f"{without_credentials(str(path))!r} is not a server URL; give one like "
                          f"http://HOST:8000/v1.")
    timeout = DEFAULT_TIMEOUT if timeout is None else float(timeout)
    if not timeout > 0:  # also NaN
        raise EngineError(f"--timeout must be a positive number of seconds, not {timeout:g}.")
    key = api_key or os.environ.get(API_KEY_ENV)
    # An explicit placeholder: left None, the openai client would pick up OPENAI_API_KEY and send a
    # user's real OpenAI key to whatever server this is.
    client = openai.OpenAI(base_url=url, api_key=key or "none", max_retries=0,
                           timeout=openai.Timeout(timeout, connect=min(10.0, timeout)))
    try:
        served = client.models.list().data
    except openai.APIError as e:
        client.close()
        raise EngineError(explain(e, shown, timeout)) from None
    ids = [m.id for m in served]
    if model is None and not ids:
        client.close()
        raise EngineError(f"The server at {shown} lists no models; name one with --model.")
    if model is not None and ids and model not in ids:
        client.close()
        raise EngineError(f"The server at {shown} has no model {model!r}; it serves: "
                          f"{', '.join(ids)}. Pass one of these with --model.")
    model = model or ids[0]
    entry = next((m for m in served if m.id == model), None)
    context = (entry.model_extra or {}).get("max_model_len", 0) if entry else 0  # vLLM says it

    notes = ["Whether the model sees images is up to the server; a text-only model answers an "
             "image with an error or ignores it."]
    if key:
        notes.append("An API key is used (never stored).")
    unused = sorted(k for k, v in ignored.items() if v is not None)
    if unused:
        notes.append(f"Ignored for a remote server: {', '.join(unused)}.")
    host = urlsplit(url).netloc.rpartition("@")[2]  # never user:password@ from the URL
    box_format = load_format(box_format, None, model)
    info = EngineInfo(name=model, backend="openai", device=f"remote {host}",
                      dtype="unknown (server side)", vision=True, grounding=box_format != "auto",
                      context_length=int(context or 0), notes=notes)
    return OpenAIEngine(client, shown, model, timeout, info, box_format)


class OpenAIEngine:
    emits_boxes = False  # no box head: boxes come from the answer's box text

    def __init__(self, client: openai.OpenAI, url: str, model: str, timeout: float,
                 info: EngineInfo, box_format: str = "auto"):
        # url is only for messages: the client holds the real one, credentials and all
        self._client, self._url, self._model, self._timeout = client, url, model, timeout
        self.info, self.box_format = info, box_format
        self._plain = False  # the server refused extra_body once: never sent again

    def __repr__(self) -> str:  # never the key
        return f"OpenAIEngine({self._url!r}, model={self._model!r})"

    def stream(self, messages: list[Message], params: GenParams,
               cancel: threading.Event | None = None):
        cancel = cancel or threading.Event()
        try:
            payload, sizes = to_openai(messages, self.box_format)
        except EngineError as e:
            yield Stats(0.0, 0.0, extra={"prompt_tokens_known": False})
            yield Done("error", str(e))
            return
        opts = request_options(params)
        if self._plain:
            opts.pop("extra_body")
        run = _Run(images=len(sizes))
        try:
            yield from self._tokens(payload, opts, cancel, run)
        except Exception as e:
            if not _is_transport_error(e):
                raise  # a bug of ours, not the server's or the network's
            run.error = e
        yield run.stats(self._model)
        yield self._done(run, cancel, payload, opts)

    def _tokens(self, payload, opts, cancel, run):
        """Chunks come from a worker thread through a queue, so Stop answers within 0.1 s even
        while the server is still busy with the prompt: closing a connection from another thread
        does not wake a blocked read. The worker then closes it at its next chunk, which makes
        vLLM, SGLang and llama.cpp abort the request."""
        run.t0 = time.perf_counter()
        chunks: queue.Queue = queue.Queue()
        stop = threading.Event()
        threading.Thread(target=self._pump, args=(payload, opts, chunks, stop, run), daemon=True).start()
        try:
            while True:
                try:
                    item = chunks.get(timeout=0.1)
                except queue.Empty:
                    item = None
                if cancel.is_set() or item is _END:
                    return
                if item is _STARTED:
                    run.answering = True
                elif isinstance(item, BaseException):
                    raise item
                elif item is not None:
                    yield from run.chunk(item)
        finally:
            stop.set()

    def _pump(self, payload, opts, chunks: queue.Queue, stop: threading.Event, run: "_Run") -> None:
        try:
            stream = self._open(payload, opts, run)
            chunks.put(_STARTED)
            try:
                for chunk in stream:
                    if stop.is_set():
                        break
                    chunks.put(chunk)
            finally:
                stream.close()
        except Exception as e:  # handed to the reading side, which decides what it means
            chunks.put(e)
        finally:
            chunks.put(_END)

    def _open(self, payload, opts, run: "_Run"):
        """Start the streamed request. A connection error before any response is tried once more:
        the pooled connection may be one the server closed a moment ago (after a failed answer),
        and nothing was generated on it. Timeouts are not retried: that would double the wait.
        A server that refuses the sampling fields OpenAI lacks is asked again without them."""
        create = self._client.chat.completions.create
        kw = dict(model=self._model, messages=payload, stream=True,
                  stream_options={"include_usage": True}, **opts)
        try:
            return create(**kw)
        except openai.APITimeoutError:
            raise
        except openai.APIConnectionError:
            return create(**kw)
        except openai.APIStatusError as e:
            refused = refused_extras(e, opts)
            if not refused:
                raise
        self._plain = True
        opts.pop("extra_body")  # _why_unfinished's retry must not send them either
        kw.pop("extra_body")
        run.notes.append(f"The server at {self._url} does not take {', '.join(refused)}: answers "
                         f"are sampled without them (top-k and the repetition penalty are off).")
        self.info.notes.append(run.notes[-1])
        return create(**kw)

    def _done(self, run: "_Run", cancel, payload, opts) -> Done:
        if cancel.is_set():
            return Done("cancelled")
        if run.error is not None:
            message = explain(run.error, self._url, self._timeout, mid_answer=run.answering,
                              images=run.images)
            if run.text:
                message += " The partial answer is kept."
            return Done("error", message, tuple(run.notes))
        if run.finish is None:
            return Done("error", self._why_unfinished(run, payload, opts), tuple(run.notes))
        return Done(FINISH_REASONS.get(run.finish, "stop"), notes=tuple(run.notes))

    def _why_unfinished(self, run, payload, opts) -> str:
        """The stream ended without a finish reason. llama.cpp's Python server does this when the
        request fails after its 200 (prompt too long, image to a text model): ask once more
        without streaming and one token long, which returns the error as a status."""
        if run.text:
            return (f"The server at {self._url} ended the answer without finishing it. The partial "
                    f"answer is kept; the server's log says why.")
        try:  # one retry: the server may have just closed the pooled connection of the stream
            self._client.with_options(max_retries=1).chat.completions.create(
                model=self._model, messages=payload, stream=False, **{**opts, "max_tokens": 1})
        except openai.APIError as e:
            return explain(e, self._url, self._timeout, images=run.images)
        return f"The server at {self._url} ended the answer without sending any; its log says why."

    def close(self) -> None:
        self._client.close()


def _is_transport_error(e: Exception) -> bool:
    """The client's own errors, OS socket errors, and the HTTP library's (httpx or httpx2:
    RemoteProtocolError when a stream dies halfway), matched by module to import neither."""
    return isinstance(e, (openai.OpenAIError, OSError)) or any(
        c.__module__.split(".")[0] in ("httpx", "httpx2", "httpcore", "h11") for c in type(e).__mro__)


class _Run:
    """What one answer measured: token times, the server's usage and timings, the finish."""

    def __init__(self, images: int = 0):
        self.images = images
        self.answering = False  # the server accepted the request and began streaming
        self.t0 = self.first = self.last = 0.0
        self.chunks = 0
        self.text: list[str] = []
        self.usage = self.timings = self.finish = self.error = None
        self.notes: list[str] = []  # for the user, under the answer

    def chunk(self, chunk):
        """Take one ChatCompletionChunk; yield its text as a Token."""
        self.usage = chunk.usage or self.usage
        self.timings = (chunk.model_extra or {}).get("timings") or self.timings
        for choice in chunk.choices[:1]:
            if choice.delta and choice.delta.content:
                now = time.perf_counter()
                self.first = self.first or now
                self.last = now
                self.chunks += 1
                self.text.append(choice.delta.content)
                yield Token(choice.delta.content)
            self.finish = choice.finish_reason or self.finish

    def stats(self, model: str) -> Stats:
        # A server may pack several tokens in one chunk (vLLM does under load): its usage count wins.
        generated = self.usage.completion_tokens if self.usage else self.chunks
        span = self.last - self.first
        # Usage is asked for (stream_options.include_usage: OpenAI, vLLM, SGLang send it), but
        # llama-cpp-python's server sends none in a stream: then the prompt's size is unknown, not
        # 0. Stats.prompt_tokens is an int the app formats, so it stays 0 and this flag says so.
        extra = {"model": model, "tokens_counted_by": "server usage" if self.usage else "stream chunks",
                 "finish_reason": self.finish, "prompt_tokens_known": self.usage is not None}
        if self.usage:
            extra["server_usage"] = self.usage.model_dump(exclude_none=True)
        if self.timings:
            extra["server_timings"] = self.timings  # llama.cpp's C++ server sends its own
        return Stats(prefill_ms=(self.first - self.t0) * 1000 if self.first else 0.0,
                     decode_tokens_per_s=(generated - 1) / span if generated > 1 and span > 0 else 0.0,
                     prompt_tokens=self.usage.prompt_tokens if self.usage else 0,
                     generated_tokens=generated, extra=extra)
