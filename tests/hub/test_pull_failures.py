"""What goes wrong says so in one line, and leaves nothing that looks like a model: a file whose
hash is not the hub's, a gated repo without a token (401), a missing repo (404), no connection,
a full disk."""
from __future__ import annotations

import socket

import pytest

import engine.hub.pulling as pulling
from engine.catalog import list_models
from engine.hub import PullError, pull
from hub_server import TORCH_REPO


def one_line(excinfo) -> str:
    text = str(excinfo.value)
    assert text and "\n" not in text, text
    return text


def nothing_listed(models_dir) -> bool:
    return not [e for e in list_models(models_dir=models_dir) if e.source == "models dir"]


def test_a_file_whose_hash_does_not_match_is_refused_and_removed(hub, models_dir):
    hub.tampered.add((TORCH_REPO, "model.safetensors"))
    with pytest.raises(PullError) as e:
        pull(TORCH_REPO, models_dir)
    assert "model.safetensors" in one_line(e) and "does not match the hub's sha256" in one_line(e)
    folder = models_dir / "tests--tiny-llava"
    assert not (folder / "model.safetensors").exists() and not (folder / "model.safetensors.part").exists()
    assert nothing_listed(models_dir)


def test_a_gated_repo_without_a_token_is_401_and_hf_token_opens_it(hub, models_dir, monkeypatch):
    with pytest.raises(PullError) as e:
        pull("tests/gated", models_dir)
    assert "401" in one_line(e) and "HF_TOKEN" in one_line(e)
    monkeypatch.setenv("HF_TOKEN", "secret-token")
    assert (pull("tests/gated", models_dir) / "config.json").is_file()


def test_a_missing_repo_is_404(hub, models_dir):
    with pytest.raises(PullError) as e:
        pull("tests/no-such-model", models_dir)
    assert "404" in one_line(e) and "not found" in one_line(e)
    assert nothing_listed(models_dir)


def test_no_connection_is_said_in_one_line(hub, models_dir, monkeypatch):
    with socket.socket() as s:   # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    monkeypatch.setenv("HF_ENDPOINT", dead)
    with pytest.raises(PullError) as e:
        pull(TORCH_REPO, models_dir)
    assert one_line(e).startswith("no connection to the hub") and dead in one_line(e)


def test_not_enough_disk_is_said_before_a_byte_is_fetched(hub, models_dir, monkeypatch):
    monkeypatch.setattr(pulling, "free_bytes", lambda path: 5_000_000)
    with pytest.raises(PullError) as e:
        pull(TORCH_REPO, models_dir)
    assert "not enough disk" in one_line(e) and "5.0 MB is free" in one_line(e)
    assert hub.gets == []
