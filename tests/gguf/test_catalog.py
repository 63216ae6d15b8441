"""The model picker's list: default, user_data_dir/models, command-line paths."""
import shutil

import pytest

from engine.catalog import default_model, find_mmproj, list_models


@pytest.mark.slow
def test_lists_default_models_dir_and_given_paths(tmp_path, exported, tiny_llava):
    lm, mmproj = exported("f16")
    models = tmp_path / "models"
    (models / "llava-gguf").mkdir(parents=True)
    shutil.copy(lm, models / "llava-gguf" / "tiny-f16.gguf")
    shutil.copy(mmproj, models / "llava-gguf" / "mmproj-tiny-f16.gguf")
    shutil.copy(lm, models / "plain.gguf")
    (models / "notes.txt").write_text("not a model")
    given = [str(tiny_llava), "http://127.0.0.1:8080/v1", str(models / "plain.gguf"), str(tmp_path / "nope")]

    entries = list_models(given, models_dir=models)
    by_name = {e.name: e for e in entries}
    defaults = [e for e in entries if e.source == "default"]
    assert str(default_model()) in [e.path for e in defaults]
    smol = next(e for e in defaults if e.path == str(default_model()))
    assert smol.backend == "gguf" and not smol.vision
    assert by_name["tiny-f16"].vision and by_name["tiny-f16"].backend == "gguf"
    assert not by_name["plain"].vision
    assert by_name[tiny_llava.name].backend == "torch" and by_name[tiny_llava.name].vision
    assert by_name["http://127.0.0.1:8080/v1"].backend == "openai"
    assert [e.path for e in entries].count(str(models / "plain.gguf")) == 1   # no duplicates
    assert not any("mmproj" in e.path or "notes" in e.path or "nope" in e.path for e in entries)


def test_find_mmproj_prefers_the_matching_name(tmp_path):
    for n in ["a-7b-q4.gguf", "mmproj-a-7b-f16.gguf", "mmproj-zzz-f16.gguf"]:
        (tmp_path / n).write_bytes(b"GGUF")
    assert find_mmproj(tmp_path / "a-7b-q4.gguf").name == "mmproj-a-7b-f16.gguf"
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "m.gguf").write_bytes(b"GGUF")
    assert find_mmproj(tmp_path / "x" / "m.gguf") is None
