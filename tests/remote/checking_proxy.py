"""A reverse proxy in front of a real server that refuses some requests the way a real front does,
for what llama-cpp-python's server itself never refuses:

- body_limit: nginx's `client_max_body_size` in front of vLLM or llama.cpp (its 413 page);
- openai_fields: api.openai.com's strictness about request fields (its 400 for a field it does
  not know, such as top_k or repetition_penalty).

A real HTTP server (stdlib, 127.0.0.1): requests the check lets through go on to the real server
and its answer streams back as it comes. It keeps the bodies it received, so a test can read what
the client really sent."""
from __future__ import annotations

import http.client
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

NGINX_413 = (b"<html>\r\n<head><title>413 Request Entity Too Large</title></head>\r\n<body>\r\n"
             b"<center><h1>413 Request Entity Too Large</h1></center>\r\n"
             b"<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # the body ends when the connection closes: streams pass as-is

    def do_GET(self):
        self._forward(None)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.bodies.append(body)
        refusal = self.server.check(body)
        if refusal is None:
            return self._forward(body)
        status, content_type, payload = refusal
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _forward(self, body):
        up = http.client.HTTPConnection(self.server.upstream.hostname, self.server.upstream.port,
                                        timeout=120)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        up.request(self.command, self.path, body=body, headers=headers)
        resp = up.getresponse()
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in HOP_BY_HOP:
                self.send_header(k, v)
        self.end_headers()
        while chunk := resp.read1(65536):
            self.wfile.write(chunk)
            self.wfile.flush()
        up.close()

    def log_message(self, *args):  # keep the test output quiet
        pass


def body_limit(limit_bytes: int):
    """nginx's answer to a body over its limit (it reads the body first, so the client sees the
    413, not a reset)."""
    return lambda body: (413, "text/html", NGINX_413) if len(body) > limit_bytes else None


# The request fields of OpenAI's chat completions API (platform.openai.com/docs/api-reference/chat).
OPENAI_FIELDS = {
    "messages", "model", "audio", "frequency_penalty", "function_call", "functions", "logit_bias",
    "logprobs", "max_completion_tokens", "max_tokens", "metadata", "modalities", "n",
    "parallel_tool_calls", "prediction", "presence_penalty", "prompt_cache_key", "reasoning_effort",
    "response_format", "safety_identifier", "seed", "service_tier", "stop", "store", "stream",
    "stream_options", "temperature", "tool_choice", "tools", "top_logprobs", "top_p", "user",
    "verbosity", "web_search_options"}


def openai_fields(body: bytes):
    """api.openai.com's 400 for fields it does not know, in its own words and error shape."""
    unknown = sorted(set(json.loads(body or b"{}")) - OPENAI_FIELDS)
    if not unknown:
        return None
    noun = "argument" if len(unknown) == 1 else "arguments"
    error = {"message": f"Unrecognized request {noun} supplied: {', '.join(unknown)}",
             "type": "invalid_request_error", "param": None, "code": None}
    return 400, "application/json", json.dumps({"error": error}).encode()


class CheckingProxy:
    def __init__(self, upstream_url: str, check):
        """check(body) -> None to forward, or (status, content type, body) to answer with."""
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.upstream, self.httpd.check = urlsplit(upstream_url), check
        self.httpd.bodies = []  # every POST body, as received: what the client really sent
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}{urlsplit(upstream_url).path}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
