"""A reverse proxy with a request-body limit in front of a real server, as nginx's
`client_max_body_size` is in front of vLLM or llama.cpp in many deployments.

llama-cpp-python's server has no body limit of its own, so a 413 needs a server that has one. This
is a real HTTP server (stdlib, 127.0.0.1): bodies under the limit go on to the real server and its
answer streams back as it comes; bodies over it get nginx's 413 page. It keeps the bodies it
received, so a test can read what the client really sent."""
from __future__ import annotations

import http.client
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
        size = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(size)  # read all, as nginx does, so the client sees the 413, not a reset
        self.server.bodies.append(body)
        if size > self.server.limit:
            self.send_response(413)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(NGINX_413)))
            self.end_headers()
            self.wfile.write(NGINX_413)
            return
        self._forward(body)

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


class SizeLimitProxy:
    def __init__(self, upstream_url: str, limit_bytes: int):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.upstream, self.httpd.limit = urlsplit(upstream_url), limit_bytes
        self.httpd.bodies = []  # every POST body, as received: what the client really sent
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}{urlsplit(upstream_url).path}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
