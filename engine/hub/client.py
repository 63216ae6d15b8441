"""The hub, through huggingface_hub: a repo's listing at one commit (sizes and the hub's hashes),
each file's location, and a GET that resumes where the file on disk stops.

The GET is ours rather than hf_hub_download's: that one deletes its partial file when a download
fails or is stopped, reads 10 MB at a time (so a cut loses up to 10 MB, and Cancel waits as long),
and checks sizes, not hashes. Here every byte received is written at once, so a pull stopped in
any way (connection cut, Cancel, Ctrl-C, a crash) goes on from the last byte on disk."""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import quote, urlsplit

from .errors import Cancelled, PullError

DEFAULT_ENDPOINT = "https://huggingface.co"
RETRIES = 5          # tries in a row that bring no byte, before a download gives up
RETRY_STATUS = (429, 500, 502, 503, 504)   # busy or failing for a moment: huggingface_hub retries these


def hub_endpoint() -> str:
    """HF_ENDPOINT as it is now (huggingface_hub reads it once, at import)."""
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def _library():
    import huggingface_hub
    from huggingface_hub import constants
    # Off, or building the request headers looks up an "agent" registry on huggingface.co
    # (whatever HF_ENDPOINT says): a pull talks to the hub it was asked to and no one else.
    constants.HF_HUB_DISABLE_TELEMETRY = True
    return huggingface_hub


@dataclass(frozen=True)
class RemoteFile:
    name: str
    size: int
    sha256: str | None     # LFS files (weights): the hub's sha256 of the content
    blob_id: str | None    # other files: the git blob id, sha1 of "blob <size>\0" + content


@dataclass
class Listing:
    repo: str
    commit: str            # the revision resolved once: every file comes from this commit
    files: dict[str, RemoteFile]


class Hub:
    def __init__(self, endpoint: str | None = None, token: str | None = None):
        self.endpoint = (endpoint or hub_endpoint()).rstrip("/")
        self.token = token or None   # None: huggingface_hub reads HF_TOKEN (or a saved login)
        self.hf = _library()

    def listing(self, repo: str, revision: str = "main") -> Listing:
        info = self.hf.HfApi(endpoint=self.endpoint, token=self.token).model_info(
            repo, revision=revision, files_metadata=True)
        if not info.sha:
            raise PullError(f"the hub gave no commit for {repo}@{revision}")
        files = {}
        for s in info.siblings or []:
            lfs = s.lfs
            files[s.rfilename] = RemoteFile(s.rfilename, int(lfs.size if lfs else s.size or 0),
                                            lfs.sha256 if lfs else None, None if lfs else s.blob_id)
        return Listing(repo, info.sha, files)

    def locate(self, repo: str, commit: str, f: RemoteFile) -> tuple[str, dict]:
        """Where to GET the file at that commit, and the headers to send (the token only to the hub,
        never to a CDN it redirects to). The HEAD must agree with the listing."""
        from huggingface_hub import get_hf_file_metadata
        from huggingface_hub.utils import build_hf_headers
        # the URL hf_hub_url makes, from this endpoint (its template is fixed when it is imported)
        url = f"{self.endpoint}/{repo}/resolve/{commit}/{quote(f.name)}"
        meta = get_hf_file_metadata(url, token=self.token, endpoint=self.endpoint)
        if meta.commit_hash and meta.commit_hash != commit:
            raise PullError(f"{repo}: the hub served {f.name} from another commit than the listing's")
        said = (meta.etag or "").lower()
        if (f.sha256 and len(said) == 64 and said != f.sha256) or (meta.size is not None and meta.size != f.size):
            raise PullError(f"{repo}: the hub's listing and {f.name}'s headers disagree (hash or size)")
        headers = build_hf_headers(token=self.token)
        headers["Accept-Encoding"] = "identity"  # byte ranges count bytes of the file itself
        location = meta.location or url
        if urlsplit(location).netloc != urlsplit(url).netloc:
            headers.pop("authorization", None)
        return location, headers

    def download(self, url: str, headers: dict, part: Path, size: int,
                 cancel: threading.Event | None = None, on_pos: Callable[[int], None] = lambda n: None) -> None:
        """GET `url` into `part` until it holds `size` bytes, asking only for the bytes it lacks."""
        import httpx2
        from huggingface_hub import constants
        from huggingface_hub.utils import hf_raise_for_status, http_stream_backoff
        idle = 0
        while True:
            have = part.stat().st_size if part.exists() else 0
            if have > size:     # not this file (changed on the hub since): start again
                part.unlink()
                have = 0
            on_pos(have)
            if have == size:
                return
            if cancel is not None and cancel.is_set():   # also between tries on a dead connection
                raise Cancelled("cancelled")
            h = dict(headers, Range=f"bytes={have}-") if have else headers
            try:
                with http_stream_backoff("GET", url, headers=h, timeout=constants.HF_HUB_DOWNLOAD_TIMEOUT,
                                         retry_on_exceptions=(), retry_on_status_codes=RETRY_STATUS) as r:
                    hf_raise_for_status(r)
                    resumed = have and r.status_code == 206
                    with open(part, "ab" if resumed else "wb") as out:
                        pos = have if resumed else 0
                        for chunk in r.iter_bytes():
                            if cancel is not None and cancel.is_set():
                                raise Cancelled("cancelled")
                            out.write(chunk)
                            pos += len(chunk)
                            idle = 0
                            on_pos(pos)
            except httpx2.TransportError:  # cut, timed out, refused: go on from the last byte
                idle += 1
                if idle > RETRIES:
                    raise
                time.sleep(min(0.5 * 2 ** idle, 8))
                continue
            got = part.stat().st_size
            if got > size:   # more than the listing says: not the file it lists
                part.unlink()
                raise PullError(f"the hub sent more bytes of {part.name[:-5]} than it lists; removed, pull again")
            if got < size:   # the body ended early without an error
                idle += 1
                if idle > RETRIES:
                    raise PullError(f"the hub kept ending {part.name[:-5]} early; pull again later")
