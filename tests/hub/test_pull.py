"""Pulls with the real huggingface_hub client from a hub-compatible server on 127.0.0.1: each kind
ends in the models folder, listed and loadable, and answers; the hub's hashes are checked."""
from __future__ import annotations

from pathlib import Path

from engine import GenParams, Message, Token, load
from engine.catalog import list_models
from engine.hub import local_model, pull
from hub_server import GGUF_REPO, TORCH_REPO

GREEDY = GenParams(max_new_tokens=4, temperature=0)


def answers(engine, image) -> bool:
    try:
        events = list(engine.stream([Message.user("What is in the image?", [image])], GREEDY))
    finally:
        engine.close()
    return any(isinstance(e, Token) and e.text for e in events)


def test_a_transformers_repo_is_pulled_listed_loaded_and_answers(hub, models_dir, tiny_llava, images):
    seen = []
    path = pull(TORCH_REPO, models_dir, progress=seen.append)
    assert path == models_dir / "tests--tiny-llava" and (path / "config.json").is_file()
    for f in Path(tiny_llava).iterdir():   # every file, byte for byte
        assert (path / f.name).read_bytes() == f.read_bytes()
    dones = [p.done for p in seen]
    assert dones == sorted(dones) and seen[-1].stage == "done" and seen[-1].done == seen[-1].total
    listed, = [e for e in list_models(models_dir=models_dir) if e.source == "models dir"]
    assert (listed.path, listed.backend, listed.vision) == (str(path), "torch", True)
    assert local_model(TORCH_REPO, models_dir) == path
    assert answers(load(path, backend="torch"), images[0])


def test_a_gguf_repo_gives_the_chosen_quant_and_its_mmproj_only(hub, models_dir, images):
    path = pull(GGUF_REPO + ":Q8_0", models_dir)
    assert path.name.endswith("-q8_0.gguf")
    assert sorted(p.name for p in path.parent.glob("*.gguf")) == sorted([path.name, next(
        n for n in hub.repos[GGUF_REPO].files if n.startswith("mmproj"))])
    assert not any("f16.gguf" in g.name and not g.name.startswith("mmproj") for g in hub.gets)
    listed, = [e for e in list_models(models_dir=models_dir) if e.source == "models dir"]
    assert (listed.path, listed.backend, listed.vision) == (str(path), "gguf", True)
    assert answers(load(path, backend="gguf", threads=1), images[0])


def test_a_pulled_file_is_not_fetched_again(hub, models_dir):
    pull(TORCH_REPO, models_dir)
    before = dict(hub.served)
    assert pull(TORCH_REPO, models_dir) == models_dir / "tests--tiny-llava"
    assert dict(hub.served) == before
