"""--quant q4_k_m: our f16 export re-quantized by llama.cpp's own quantizer, then loaded and run.

The checkpoint is the tiny LLaVA at hidden size 256: K-quants pack rows in blocks of 256, and
narrower rows fall back to q5_0/q8_0, which would leave no K-quant tensor to test."""
import pytest

from engine import GenParams, Message, Stats, Token
from engine.gguf.header import check_gguf

GREEDY = GenParams(max_new_tokens=6, temperature=0)


@pytest.fixture(scope="module")
def q4(make_tiny_ckpt, tmp_path_factory):
    from engine.gguf.export import export_checkpoint
    return export_checkpoint(make_tiny_ckpt(hidden=256), tmp_path_factory.mktemp("q4"), "q4_k_m")


@pytest.mark.slow
def test_q4_k_m_file_holds_k_quant_tensors(q4):
    import gguf
    lm, mmproj = q4
    assert lm.name.endswith("-q4_k_m.gguf") and check_gguf(lm)["general.file_type"] == 15
    types = {t.name: t.tensor_type for t in gguf.GGUFReader(str(lm)).tensors}
    Q = gguf.GGMLQuantizationType
    assert types["blk.0.attn_q.weight"] == Q.Q4_K and types["token_embd.weight"] == Q.Q4_K
    assert Q.Q6_K in types.values(), "q4_k_m keeps some tensors at 6 bits (its mix, not ours)"
    assert types["blk.0.attn_norm.weight"] == Q.F32
    assert check_gguf(mmproj, "mmproj")["general.architecture"] == "clip"


@pytest.mark.slow
def test_q4_k_m_model_streams_text_and_an_image(q4, images, load_engine):
    lm, _ = q4
    e = load_engine(lm, backend="gguf", threads=1)       # the f16 mmproj beside it is found by name
    try:
        assert e.info.quantization == "q4_k_m" and e.info.vision
        text = list(e.stream([Message.user("Hello, who are you?")], GREEDY))
        assert sum(isinstance(ev, Token) for ev in text) >= 1
        assert text[-1].reason in ("stop", "length")
        seen = list(e.stream([Message.user("What is in the image?", [images[0]])], GREEDY))
        stats = next(ev for ev in seen if isinstance(ev, Stats))
        assert sum(isinstance(ev, Token) for ev in seen) >= 1 and seen[-1].reason in ("stop", "length")
        assert stats.extra["image_encode_ms"] > 0 and stats.prompt_tokens > 16
    finally:
        e.close()
