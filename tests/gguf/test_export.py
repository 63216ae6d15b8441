"""export-gguf on a tiny LLaVA checkpoint, then the exported files in the gguf backend."""
import shutil

import pytest

from engine import EngineError, GenParams, Message, Stats, Token
from engine.gguf.header import check_gguf

pytestmark = pytest.mark.slow

GREEDY = GenParams(max_new_tokens=6, temperature=0)


def test_export_writes_model_and_mmproj_with_the_metadata_mtmd_reads(exported):
    lm, mmproj = exported("f16")
    meta, pmeta = check_gguf(lm), check_gguf(mmproj, "mmproj")
    assert meta["general.architecture"] == "llama" and meta["general.file_type"] == 1
    assert meta["tokenizer.ggml.model"] == "llama" and "ASSISTANT:" in meta["tokenizer.chat_template"]
    assert pmeta["general.architecture"] == "clip"
    assert pmeta["clip.projector_type"] == "mlp" and pmeta["clip.has_llava_projector"] is True
    # tiny tower: 3 blocks, vision_feature_layer -2 -> the output of block 2 is used
    assert pmeta["clip.vision.block_count"] == 2 and pmeta["clip.vision.feature_layer"] == [2]


def test_exported_model_sees_an_image_and_streams(exported, images, load_engine):
    lm, _ = exported("f16")
    e = load_engine(lm, backend="gguf", threads=1)                 # the mmproj is found by its name
    try:
        assert e.info.vision is True
        events = list(e.stream([Message.user("What is in the image?", [images[0]])], GREEDY))
        assert sum(isinstance(ev, Token) for ev in events) >= 1
        stats = events[-2]
        assert isinstance(stats, Stats) and stats.extra["image_encode_ms"] > 0
        assert stats.prompt_tokens > 16                    # 16 visual positions + the text
        # the follow-up re-reads only its new text: the image is not encoded again
        follow = [Message.user("What is in the image?", [images[0]]), Message.assistant("red"),
                  Message.user("And the other one?", [images[1]])]
        stats2 = [ev for ev in e.stream(follow, GREEDY) if isinstance(ev, Stats)][0]
        assert stats2.extra["reused_tokens"] >= stats.prompt_tokens - 1
        assert stats2.extra["image_encode_ms"] > 0         # the new image only
    finally:
        e.close()


def test_explicit_mmproj_argument(exported, tmp_path, images, load_engine):
    lm, mmproj = exported("f16")
    elsewhere = shutil.copy(mmproj, tmp_path / "projector.gguf")  # not named mmproj: not found
    model = shutil.copy(lm, tmp_path / "model.gguf")
    e = load_engine(model, backend="gguf", threads=1, mmproj=elsewhere)
    try:
        assert e.info.vision
        assert any(isinstance(ev, Token) for ev in e.stream([Message.user("Hi", [images[1]])], GREEDY))
    finally:
        e.close()


def test_text_only_gguf_with_an_image_says_mmproj_is_missing(text_only_gguf, images, load_engine):
    e = load_engine(text_only_gguf, backend="gguf", threads=1)
    try:
        assert e.info.vision is False
        with pytest.raises(EngineError, match="is text-only: it cannot see images. Pick a model that sees .*a GGUF with its mmproj file"):
            list(e.stream([Message.user("What is this?", [images[0]])], GREEDY))
        # and the engine still answers text afterwards
        assert any(isinstance(ev, Token) for ev in e.stream([Message.user("Hello")], GREEDY))
    finally:
        e.close()


@pytest.mark.parametrize("damage", ["not gguf", "truncated", "absurd counts", "bad version"])
def test_corrupt_gguf_is_a_clear_error_not_a_crash(exported, tmp_path, damage, load_engine):
    lm, _ = exported("f16")
    data = lm.read_bytes()
    bad = tmp_path / "bad.gguf"
    bad.write_bytes({
        "not gguf": b"PK\x03\x04" + data[4:1000],
        "truncated": data[: len(data) // 2],
        "absurd counts": data[:8] + (2**62).to_bytes(8, "little") + data[16:],
        "bad version": data[:4] + (99).to_bytes(4, "little") + data[8:],
    }[damage])
    with pytest.raises(EngineError, match="GGUF|truncated|version") as err:
        load_engine(bad, backend="gguf", threads=1)
    assert "bad.gguf" in str(err.value)


def test_mmproj_given_as_the_model_is_refused(exported, load_engine):
    _, mmproj = exported("f16")
    with pytest.raises(EngineError, match="mmproj"):
        load_engine(mmproj, backend="gguf")


def test_cli_export_and_errors(tiny_llava, tmp_path, capsys):
    from engine.gguf.export import main
    assert main([str(tiny_llava), str(tmp_path / "out"), "--quant", "q8_0"]) == 0
    assert "wrote" in capsys.readouterr().out
    assert check_gguf(next((tmp_path / "out").glob("*-q8_0.gguf")))["general.file_type"] == 7
    (tmp_path / "empty").mkdir()
    assert main([str(tmp_path / "empty"), str(tmp_path / "out2")]) == 1
    assert "config.json" in capsys.readouterr().err  # errors go to stderr
