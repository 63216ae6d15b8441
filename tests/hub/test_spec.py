"""Which files a pull takes from a repo's listing (no network): the quant asked for (or llama.cpp's
default, Q4_K_M), all shards of a split GGUF, one mmproj; a transformers folder without pickles."""
from __future__ import annotations

import pytest

from engine.hub import PullError, parse_spec
from engine.hub.spec import choose

QWEN = ["Qwen2.5-VL-3B-Instruct-Q4_K_M.gguf", "Qwen2.5-VL-3B-Instruct-Q8_0.gguf", "Qwen2.5-VL-3B-Instruct-f16.gguf",
        "mmproj-Qwen2.5-VL-3B-Instruct-Q8_0.gguf", "mmproj-Qwen2.5-VL-3B-Instruct-f16.gguf", "README.md"]


@pytest.mark.parametrize("text,model", [
    ("ggml-org/Qwen2.5-VL-3B-Instruct-GGUF", "Qwen2.5-VL-3B-Instruct-Q4_K_M.gguf"),
    ("hf:ggml-org/Qwen2.5-VL-3B-Instruct-GGUF:q8_0", "Qwen2.5-VL-3B-Instruct-Q8_0.gguf"),
    ("ggml-org/Qwen2.5-VL-3B-Instruct-GGUF:Qwen2.5-VL-3B-Instruct-f16.gguf", "Qwen2.5-VL-3B-Instruct-f16.gguf")])
def test_a_gguf_repo_gives_one_quant_and_one_mmproj(text, model):
    c = choose(QWEN, parse_spec(text))
    assert (c.kind, c.model, c.files) == ("gguf", model, [model, "mmproj-Qwen2.5-VL-3B-Instruct-f16.gguf"])


def test_q4_k_does_not_take_q4_k_m_and_shards_come_together():
    names = ["m-q4_k.gguf", "m-q4_k_m.gguf", "mmproj-m-f16.gguf"]
    assert choose(names, parse_spec("a/b:Q4_K")).model == "m-q4_k.gguf"
    split = ["big-Q4_K_M-00001-of-00002.gguf", "big-Q4_K_M-00002-of-00002.gguf", "big-Q8_0.gguf"]
    assert choose(split, parse_spec("a/b")).files == split[:2]


def test_a_transformers_repo_gives_its_folder_without_pickles_or_subfolders():
    names = ["config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
             "model.safetensors.index.json", "pytorch_model.bin", "tokenizer.model", "tokenizer_config.json",
             "onnx/model.onnx", ".gitattributes", "chat_template.jinja"]
    c = choose(names, parse_spec("llava-hf/llava-1.5-7b-hf"))
    assert c.kind == "torch" and c.model is None
    assert sorted(c.files) == sorted(n for n in names if not n.endswith((".bin", ".onnx", ".gitattributes")))


@pytest.mark.parametrize("names,text,words", [
    (["config.json", "pytorch_model.bin"], "a/b", "no safetensors"),
    (["a.gguf", "b.gguf"], "a/b", "several GGUFs"),
    (QWEN, "a/b:Q2_K", "no Q2_K GGUF"),
    (["README.md"], "a/b", "neither a GGUF nor"),
    (QWEN, "a/b:missing.gguf", "no file missing.gguf")])
def test_what_cannot_be_pulled_is_said(names, text, words):
    with pytest.raises(PullError, match=words):
        choose(names, parse_spec(text))


@pytest.mark.parametrize("text", ["llava", "a/b/c", "hf:/x", ""])
def test_not_a_repo_id(text):
    with pytest.raises(PullError, match="not a hub repo id"):
        parse_spec(text)
