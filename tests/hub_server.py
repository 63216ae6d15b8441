"""A hub-compatible file server on 127.0.0.1 for the pull tests: what huggingface_hub calls
(read in its source: HfApi.model_info -> GET /api/models/REPO/revision/REV?blobs=true;
get_hf_file_metadata -> HEAD /REPO/resolve/COMMIT/FILE for X-Repo-Commit, ETag / X-Linked-Etag
and the size; the download -> GET with a Range header to resume), serving repos the tests make.

It counts the body bytes it sends per file and logs each GET (its first byte, what it sent), and can misbehave on
demand: cut a download after N bytes, serve other bytes than it lists (hash mismatch), ask for a
token (401), go slowly."""
from __future__ import annotations

import hashlib
import json
import re
import socket
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

LFS_SUFFIXES = (".safetensors", ".gguf", ".bin")  # as the hub's default .gitattributes
CHUNK = 64 << 10


@dataclass
class Repo:
    files: dict[str, bytes]
    token: str | None = None                      # when set, a request without it gets 401
    commit: str = ""

    def __post_init__(self):
        h = hashlib.sha1()
        for name in sorted(self.files):
            h.update(name.encode() + hashlib.sha256(self.files[name]).digest())
        self.commit = h.hexdigest()

    @classmethod
    def from_folder(cls, folder: Path, names=None, token=None) -> "Repo":
        paths = [folder / n for n in names] if names else sorted(p for p in folder.iterdir() if p.is_file())
        return cls({p.name: p.read_bytes() for p in paths}, token)


def _blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class Get:
    repo: str
    name: str
    start: int      # the first byte asked for (a Range header's)
    sent: int = 0   # body bytes this GET sent


@dataclass
class FakeHub:
    repos: dict[str, Repo] = field(default_factory=dict)
    served: dict = field(default_factory=lambda: defaultdict(int))   # (repo, file) -> body bytes sent
    gets: list[Get] = field(default_factory=list)                    # every file GET, in order
    cut_once: dict = field(default_factory=dict)                     # (repo, file) -> cut after N bytes
    tampered: set = field(default_factory=set)                       # (repo, file): other bytes than listed
    bytes_per_s: float | None = None

    def start(self) -> "FakeHub":
        hub = self

        class Handler(_Handler):
            fake = hub
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake: FakeHub

    def log_message(self, *args):  # quiet
        pass

    def _error(self, code: int, error_code: str, message: str = "") -> None:
        body = json.dumps({"error": message or error_code}).encode()
        self.send_response(code)
        self.send_header("X-Error-Code", error_code)
        self.send_header("X-Error-Message", message or error_code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _repo(self, repo_id: str) -> Repo | None:
        repo = self.fake.repos.get(repo_id)
        if repo is None:
            self._error(404, "RepoNotFound", f"Repository {repo_id} not found")
            return None
        if repo.token and self.headers.get("Authorization") != f"Bearer {repo.token}":
            self._error(401, "GatedRepo", f"Access to model {repo_id} is restricted")
            return None
        return repo

    def do_GET(self):
        path = unquote(urlsplit(self.path).path)
        if m := re.fullmatch(r"/api/models/([^/]+/[^/]+)(?:/revision/([^/]+))?", path):
            return self._info(m.group(1), m.group(2) or "main")
        if m := re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path):
            return self._file(m.group(1), m.group(2), m.group(3), body=True)
        self._error(404, "NotFound")

    def do_HEAD(self):
        path = unquote(urlsplit(self.path).path)
        if m := re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path):
            return self._file(m.group(1), m.group(2), m.group(3), body=False)
        self._error(404, "NotFound")

    def _info(self, repo_id: str, rev: str) -> None:
        repo = self._repo(repo_id)
        if repo is None:
            return
        if rev not in ("main", repo.commit):
            return self._error(404, "RevisionNotFound", f"Invalid rev id: {rev}")
        siblings = []
        for name, data in sorted(repo.files.items()):
            s = {"rfilename": name, "size": len(data), "blobId": _blob_id(data)}
            if name.endswith(LFS_SUFFIXES):
                s["lfs"] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest(), "pointerSize": 134}
            siblings.append(s)
        body = json.dumps({"id": repo_id, "modelId": repo_id, "sha": repo.commit, "private": False,
                           "siblings": siblings}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _file(self, repo_id: str, rev: str, name: str, body: bool) -> None:
        repo = self._repo(repo_id)
        if repo is None:
            return
        if rev not in ("main", repo.commit):
            return self._error(404, "RevisionNotFound")
        if name not in repo.files:
            return self._error(404, "EntryNotFound", f"{name} does not exist")
        listed = repo.files[name]
        data = bytes(b ^ 0xFF for b in listed) if (repo_id, name) in self.fake.tampered else listed
        lfs = name.endswith(LFS_SUFFIXES)
        start = 0
        if body and (rng := re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))):
            start = int(rng.group(1))
        self.send_response(206 if start else 200)
        self.send_header("X-Repo-Commit", repo.commit)
        self.send_header("Accept-Ranges", "bytes")
        if lfs:
            sha = hashlib.sha256(listed).hexdigest()
            self.send_header("ETag", f'"{sha}"')
            self.send_header("X-Linked-Etag", f'"{sha}"')
            self.send_header("X-Linked-Size", str(len(listed)))
        else:
            self.send_header("ETag", f'"{_blob_id(listed)}"')
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        if not body:
            return
        get = Get(repo_id, name, start)
        self.fake.gets.append(get)
        cut = self.fake.cut_once.pop((repo_id, name), None)
        pos = start
        while pos < len(data):
            piece = data[pos:pos + CHUNK]
            if cut is not None and pos + len(piece) > cut:
                piece = data[pos:cut]
            try:
                self.wfile.write(piece)
                self.wfile.flush()
            except OSError:   # the client went away (Cancel)
                return
            self.fake.served[(repo_id, name)] += len(piece)
            get.sent += len(piece)
            pos += len(piece)
            if cut is not None and pos >= cut:   # drop the connection mid-body
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_WR)
                return
            if self.fake.bytes_per_s:
                time.sleep(len(piece) / self.fake.bytes_per_s)


# ---- the repos the tests serve, and the client pointed at them ------------------------------
TORCH_REPO = "tests/tiny-llava"
GGUF_REPO = "tests/tiny-llava-GGUF"


def gguf_repo_files(tiny_llava: Path, out: Path) -> dict[str, bytes]:
    """Two quants of the tiny LLaVA (f16, q8_0) and its mmproj, as a GGUF repo holds them."""
    from engine.gguf.export import export_checkpoint
    files = {}
    for quant in ("f16", "q8_0"):
        lm, proj = export_checkpoint(tiny_llava, out / quant, quant)
        files[Path(lm).name] = Path(lm).read_bytes()
        files[Path(proj).name] = Path(proj).read_bytes()
    return files


def point_client_at(hub: FakeHub, monkeypatch) -> None:
    """huggingface_hub on this test's hub only: HF_ENDPOINT (read when a pull starts), its
    import-time constant too (so nothing can reach huggingface.co), offline mode off (the test
    session sets HF_HUB_OFFLINE=1 for transformers), no token from the environment or a login."""
    import huggingface_hub.constants as constants
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setattr(constants, "ENDPOINT", hub.url)
    template = hub.url + "/{repo_id}/resolve/{revision}/{filename}"
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", template)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", "/nonexistent/vlchat-test/token")
