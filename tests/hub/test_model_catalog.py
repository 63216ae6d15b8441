"""The catalog (engine/model_catalog.json): well-formed, `verified` only for the families this
project's tests cover, memory fit per machine, and an entry pulled by its own file list."""
from __future__ import annotations

import pytest

from app.model_slot import check_path
from engine import EngineError, load
from engine.grounding.formats import FORMATS
from engine.hub import pull
from engine.hub.catalog import UNVERIFIED, Machine, find, fit, offers
from hub_server import FakeHub, Repo, point_client_at


def test_every_entry_is_complete_and_only_llava_families_are_verified():
    all_ = offers()
    assert len({o.repo for o in all_}) == len(all_) >= 8
    for o in all_:
        assert o.backend in ("torch", "gguf") and o.size_gb > 0 and o.licence and o.files
        assert "cpu" in o.memory_gb and o.box_format in (None, *FORMATS)
        assert o.grounds == (o.box_format is not None)
        if o.verified:   # LLaVA-1.5 layout in torch, LLaVA GGUF + mmproj in llama.cpp
            assert "llava" in o.repo.lower()
        else:
            assert o.backend == "gguf" and o.trust == UNVERIFIED
    assert {o.repo for o in all_ if o.verified} >= {"llava-hf/llava-1.5-7b-hf", "llava-hf/llava-interleave-qwen-0.5b-hf",
                                                     "llava-hf/bakLlava-v1-hf"}
    assert find("hf:ggml-org/Qwen3-VL-2B-Instruct-GGUF").box_format == "qwen3_vl"


def test_what_fits_is_said_per_machine():
    big = find("llava-hf/llava-1.5-7b-hf")
    fits, why = fit(big, Machine(ram_gb=16))
    assert not fits and "30 GB" in why and "16 GB" in why and "float32 on the CPU" in why
    fits, why = fit(big, Machine(ram_gb=16, gpu_gb=24))
    assert fits and "GPU" in why
    gguf = find("mys/ggml_llava-v1.5-7b")
    assert fit(gguf, Machine(ram_gb=16, gpu_gb=2))[0]   # llama.cpp here runs on the CPU


@pytest.fixture
def llava_gguf_hub(gguf_files, monkeypatch):
    """The verified GGUF entry's repo, holding the tiny export under the entry's file names."""
    model = next(v for k, v in gguf_files.items() if k.endswith("-f16.gguf") and not k.startswith("mmproj"))
    other = next(v for k, v in gguf_files.items() if k.endswith("-q8_0.gguf") and not k.startswith("mmproj"))
    proj = next(v for k, v in gguf_files.items() if k.startswith("mmproj"))
    h = FakeHub({"mys/ggml_llava-v1.5-7b": Repo({"ggml-model-q4_k.gguf": model, "ggml-model-q5_k.gguf": other,
                                                 "mmproj-model-f16.gguf": proj, "README.md": b"# tiny\n"})}).start()
    point_client_at(h, monkeypatch)
    yield h
    h.stop()


def test_a_catalog_entry_pulls_its_files_and_loads_with_its_projector(llava_gguf_hub, tmp_path):
    o = find("mys/ggml_llava-v1.5-7b")
    path = pull(o.spec, tmp_path, patterns=o.files)
    assert path.name == "ggml-model-q4_k.gguf"
    assert sorted(g.name for g in llava_gguf_hub.gets) == sorted(o.files)
    engine = load(path, backend="gguf", threads=1)
    try:
        assert engine.info.vision
    finally:
        engine.close()


def test_entry_files_renamed_on_the_hub_fall_back_to_the_quant(llava_gguf_hub, tmp_path):
    path = pull("mys/ggml_llava-v1.5-7b:q5_k", tmp_path, patterns=["renamed-q5_k.gguf", "mmproj-model-f16.gguf"])
    assert path.name == "ggml-model-q5_k.gguf" and (path.parent / "mmproj-model-f16.gguf").is_file()


def test_a_repo_id_typed_as_a_model_path_points_to_get_a_model():
    with pytest.raises(EngineError, match="Get a model .* python -m engine pull llava-hf/llava-1.5-7b-hf"):
        check_path("llava-hf/llava-1.5-7b-hf")
