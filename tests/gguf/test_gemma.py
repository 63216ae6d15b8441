"""A second real GGUF: Gemma 3 270M, a base model with no chat template."""
import pytest

from engine import GenParams, Message, Token

pytestmark = pytest.mark.slow


def test_gemma_loads_and_continues_a_prompt(gemma_path, load_engine):
    e = load_engine(gemma_path, backend="auto", threads=1, n_ctx=256)  # auto: a .gguf goes to gguf
    try:
        assert e.info.backend == "gguf" and e.info.quantization == "q4_k_m"
        assert any("no chat template" in n for n in e.info.notes)
        events = list(e.stream([Message.user("The capital of France is")],
                               GenParams(max_new_tokens=8, temperature=0)))
        text = "".join(ev.text for ev in events if isinstance(ev, Token))
        assert len([ev for ev in events if isinstance(ev, Token)]) >= 2
        assert text.strip() and "The capital of France is" not in text  # continued, not echoed
        assert events[-2].decode_tokens_per_s > 0
    finally:
        e.close()
