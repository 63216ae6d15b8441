"""Export of a text-only decoder with a byte-level BPE tokenizer (SmolLM2's, read from its GGUF by
transformers): llama.cpp must tokenize exactly as transformers does."""
import pytest

from engine import GenParams, Message, Token

pytestmark = pytest.mark.slow

TRICKY = ("Numbers 12345 and 3.14, émigré naïve café — 東京\n\n  indented\tTAB <|im_start|> "
          "don't we'll I'M")


@pytest.fixture(scope="module")
def bpe_decoder(smollm_path, tmp_path_factory):
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tok = AutoTokenizer.from_pretrained(str(smollm_path.parent), gguf_file=smollm_path.name)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                      num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True,
                      bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
    torch.manual_seed(0)
    d = tmp_path_factory.mktemp("bpe-decoder")
    LlamaForCausalLM(cfg).save_pretrained(d)
    tok.save_pretrained(d)
    return d, tok


def test_byte_level_tokenizer_round_trips_through_gguf(bpe_decoder, tmp_path, load_engine):
    from engine.gguf.export import export_checkpoint
    from engine.gguf.header import check_gguf
    folder, tok = bpe_decoder
    lm, mmproj = export_checkpoint(folder, tmp_path, "f16")
    assert mmproj is None                                   # text-only: no projector
    meta = check_gguf(lm)
    assert (meta["tokenizer.ggml.model"], meta["tokenizer.ggml.pre"]) == ("gpt2", "gpt-2")
    e = load_engine(lm, backend="gguf", threads=1)
    try:
        msgs = [Message.user(TRICKY)]
        text = tok.apply_chat_template([{"role": "user", "content": TRICKY}],
                                       add_generation_prompt=True, tokenize=False)
        assert e.inner.prompt_tokens(msgs) == tok(text)["input_ids"]
        assert any(isinstance(ev, Token) for ev in e.stream(msgs, GenParams(max_new_tokens=2, temperature=0)))
    finally:
        e.close()
