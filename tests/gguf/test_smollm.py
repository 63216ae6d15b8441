"""The shipped default model (SmolLM2-135M-Instruct Q4_1) through the gguf backend."""
import threading

import pytest

from engine import Done, GenParams, Message, Stats, Text, Token

QUESTION = [Message("system", [Text("Answer the question in one sentence.")]),
            Message.user("What is the capital of France?")]
GREEDY = GenParams(max_new_tokens=24, temperature=0)


@pytest.mark.slow
def test_answers_paris_streamed_with_tokens_per_second(smollm):
    events = list(smollm.stream(QUESTION, GREEDY))
    tokens = [e for e in events if isinstance(e, Token)]
    stats, done = events[-2], events[-1]
    assert "Paris" in "".join(t.text for t in tokens)
    assert len(tokens) >= 3
    assert isinstance(stats, Stats) and isinstance(done, Done)
    assert done.reason == "stop"                       # <|im_end|> ended it, not the budget
    assert stats.decode_tokens_per_s > 0 and stats.prefill_ms > 0
    assert stats.generated_tokens == len(tokens)
    assert stats.prompt_tokens == len(smollm.inner.prompt_tokens(QUESTION))


@pytest.mark.slow
def test_info(smollm):
    info = smollm.info
    assert (info.backend, info.vision, info.quantization) == ("gguf", False, "q4_1")
    assert info.context_length == 1024


@pytest.mark.slow
def test_cancel_between_tokens(smollm):
    cancel = threading.Event()
    seen = []
    for ev in smollm.stream([Message.user("Write a long story about a dragon.")],
                            GenParams(max_new_tokens=200, temperature=0), cancel):
        seen.append(ev)
        if sum(isinstance(e, Token) for e in seen) == 3:
            cancel.set()
    assert sum(isinstance(e, Token) for e in seen) == 3
    assert seen[-1] == Done("cancelled")


@pytest.mark.slow
def test_stop_string_is_not_shown(smollm):
    events = list(smollm.stream(QUESTION, GenParams(max_new_tokens=24, temperature=0, stop=("Paris",))))
    text = "".join(e.text for e in events if isinstance(e, Token))
    assert "Paris" not in text and "France" in text
    assert events[-1] == Done("stop")


@pytest.mark.slow
def test_follow_up_reuses_the_cache_and_regenerate_is_identical(smollm):
    first = list(smollm.stream(QUESTION, GREEDY))
    again = list(smollm.stream(QUESTION, GREEDY))      # regenerate: the whole prompt is cached
    assert [e for e in first if isinstance(e, Token)] == [e for e in again if isinstance(e, Token)]
    assert again[-2].extra["reused_tokens"] == again[-2].prompt_tokens - 1
    answer = "".join(e.text for e in first if isinstance(e, Token))
    follow = QUESTION + [Message.assistant(answer), Message.user("And of Germany?")]
    stats = [e for e in smollm.stream(follow, GREEDY) if isinstance(e, Stats)][0]
    assert stats.extra["reused_tokens"] >= len(smollm.inner.prompt_tokens(QUESTION))


@pytest.mark.slow
def test_seeded_sampling_repeats(smollm):
    p = GenParams(max_new_tokens=12, temperature=0.9, seed=7)
    runs = ["".join(e.text for e in smollm.stream(QUESTION, p) if isinstance(e, Token)) for _ in range(2)]
    assert runs[0] == runs[1] and runs[0]


def test_unknown_engine_options_are_noted_not_fatal(smollm_path):
    from engine import load
    e = load(smollm_path, backend="gguf", threads=1, n_ctx=256, attention="composite")
    try:
        assert any("attention" in n for n in e.info.notes)
    finally:
        e.close()


@pytest.mark.slow
@pytest.mark.parametrize("params", [GenParams(temperature=0),
                                    GenParams(temperature=0, repetition_penalty=1.1)],
                         ids=["defaults", "explicit-1.1"])
def test_issue_4_prompt_without_a_system_message_says_paris(smollm, params):
    """Issue 4's exact check: `python -m engine chat --model <SmolLM2> --temperature 0 "What is
    the capital of France?"`, no system prompt, greedy, GenParams' defaults otherwise. At
    repetition_penalty 1.0 this model loops ("la femme au martyre, ...") for 512 tokens and never
    says Paris; at 1.1 (the default now, as Ollama's and llama.cpp server's) it does."""
    events = list(smollm.stream([Message.user("What is the capital of France?")], params))
    assert "Paris" in "".join(e.text for e in events if isinstance(e, Token))
    assert events[-1] == Done("stop"), "it ends by itself, not at the token budget"


@pytest.mark.slow
def test_issue_4_command_line_says_paris(smollm_path):
    """The same check through the issue's own command line, as a user types it."""
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-m", "engine", "chat", "--model", str(smollm_path),
                          "--temperature", "0", "What is the capital of France?"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Paris" in out.stdout


@pytest.mark.slow
def test_repeat_penalty_flag_reaches_the_model(smollm_path):
    """--repeat-penalty 1.0 turns the default 1.1 off: SmolLM2 then loops on this question
    without saying Paris (seen on llama.cpp's own chat completion too)."""
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-m", "engine", "chat", "--model", str(smollm_path), "--temperature", "0",
                          "--repeat-penalty", "1.0", "--max-tokens", "96", "What is the capital of France?"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Paris" not in out.stdout and len(out.stdout) > 100
