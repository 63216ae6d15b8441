"""A pull that fails says why in one line: the hub's exceptions (multi-line, with URLs and
advice for other tools) are turned into one sentence about this repo."""
from __future__ import annotations

from ..api import EngineError


class PullError(EngineError):
    """One line, for the terminal and the page alike."""


class Cancelled(PullError):
    """Stopped by the user (Cancel, Ctrl-C): what was fetched is kept for the next pull."""


def one_line(e: BaseException, repo: str, endpoint: str) -> PullError:
    """The exception a huggingface_hub call raised -> a PullError of one line."""
    if isinstance(e, PullError):
        return e
    import httpx2
    from huggingface_hub.errors import (HfHubHTTPError, OfflineModeIsEnabled, RemoteEntryNotFoundError,
                                        RevisionNotFoundError)
    if isinstance(e, OfflineModeIsEnabled):
        return PullError(f"no connection to the hub: HF_HUB_OFFLINE is set (unset it to pull {repo})")
    if isinstance(e, httpx2.TransportError):
        return PullError(f"no connection to the hub ({endpoint}): {type(e).__name__}; check the network "
                         f"or HF_ENDPOINT, then pull again (what was fetched is kept)")
    if isinstance(e, RevisionNotFoundError):
        return PullError(f"{repo}: no such revision on the hub")
    if isinstance(e, RemoteEntryNotFoundError):
        return PullError(f"{repo}: a file of the listing is missing on the hub (404)")
    if isinstance(e, HfHubHTTPError) and e.response is not None:
        code = e.response.status_code
        if code == 401:
            return PullError(f"the hub refused {repo} (401): it is gated, private or misspelt; set HF_TOKEN "
                             "to a token that can read it (for a gated repo, accept its licence on its page first)")
        if code == 403:
            return PullError(f"the hub refused {repo} (403): your token may not read it; for a gated repo, "
                             "accept its licence on its page first")
        if code == 404:
            return PullError(f"{repo} was not found on the hub (404): check OWNER/REPO")
        return PullError(f"the hub answered {code} for {repo}; try again later")
    return PullError(f"pulling {repo} failed: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
