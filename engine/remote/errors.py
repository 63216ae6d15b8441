"""Turn what a real server (or the network) does wrong into one sentence a user can act on.

A table keyed by HTTP status, plus the few transport failures; `explain` picks the entry."""
from __future__ import annotations

import re

import openai

KEY_HINT = "pass --api-key or set VLCHAT_API_KEY to the key the server was started with"


def server_detail(err: openai.APIStatusError) -> str:
    """The server's own words: OpenAI style {"error": {"message"}}, FastAPI {"detail"}, or text."""
    body = err.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            body = inner.get("message") or inner.get("detail") or inner
        else:
            body = inner
    text = str(body if body is not None else err.message).strip().rstrip(".")
    return text[:500]


STATUS_MESSAGES = {
    400: "The server rejected the request (400): {detail}. If it is about length, shorten the chat "
         "or send fewer or smaller images.",
    401: "The server at {url} refused the API key (401): " + KEY_HINT + ".",
    403: "The server at {url} refused access (403): " + KEY_HINT + ".",
    404: "Not found at {url} (404): {detail}. The base URL usually ends in /v1 "
         "(e.g. http://HOST:8000/v1), and the model name must be one the server lists.",
    408: "The server timed out reading the request (408): {detail}.",
    413: "The request is too large for the server at {url} (413): send fewer or smaller images, "
         "or a shorter chat.",
    422: "The server could not use the request (422): {detail}.",
    429: "The server is busy (429): {detail}. Try again in a moment.",
    503: "The server is not ready or is overloaded (503): {detail}. Try again in a moment.",
}
OTHER_STATUS = "The server failed ({status}): {detail}. Its own log says more."


IMAGE_HINT = (" The chat holds images: if the model is text-only, the server cannot take them; "
              "serve a vision model (see the README) or send text only.")


USERINFO = re.compile(r"(?<=//)[^/@\s]*@")  # the user:password@ of any URL in a text


def without_credentials(text: str) -> str:
    """`text` with every URL's user:password@ removed: messages are shown, logged and stored."""
    return USERINFO.sub("", text)


def is_timeout(err: BaseException) -> bool:
    """The client's timeout, or the HTTP library's (httpx/httpx2 ReadTimeout while a stream is
    read: the openai client does not wrap errors raised after the response began)."""
    return isinstance(err, (openai.APITimeoutError, TimeoutError)) or any(
        c.__name__ == "TimeoutException" for c in type(err).__mro__)


def explain(err: Exception, url: str, timeout: float, *, mid_answer: bool = False,
            images: int = 0) -> str:
    """One message for `err`, never with credentials; `mid_answer`: the server had started
    answering; `images`: how many the request held (a text-only model's server fails on them in
    its own ways)."""
    return without_credentials(_explain(err, without_credentials(url), timeout, mid_answer, images))


def _explain(err: Exception, url: str, timeout: float, mid_answer: bool, images: int) -> str:
    if is_timeout(err):  # before APIConnectionError: APITimeoutError is a subclass
        if mid_answer:
            return (f"The server at {url} stopped sending mid-answer: nothing came for {timeout:g} "
                    f"s. It may be stuck or overloaded; raise --timeout if it is slow.")
        return (f"The server at {url} did not answer within {timeout:g} s. It may be busy or "
                f"stuck; raise --timeout if it is slow.")
    if isinstance(err, openai.APIConnectionError) or not isinstance(err, openai.APIError):
        cause = err.__cause__ or err
        if mid_answer:
            return f"The connection to the server at {url} was lost mid-answer ({cause})."
        return (f"Cannot reach the server at {url} ({cause}). Is it running, and is the host and "
                f"port right?")
    if isinstance(err, openai.APIStatusError):
        template = STATUS_MESSAGES.get(err.status_code, OTHER_STATUS)
        message = template.format(url=url, status=err.status_code, detail=server_detail(err))
        return message + (IMAGE_HINT if images and err.status_code in (400, 422, 500) else "")
    return f"The server reported an error mid-answer: {err.message}"  # an {"error"} SSE event
