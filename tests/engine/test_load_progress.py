"""engine.load(progress=): the torch backend reports bytes of the safetensors shards as each
tensor is read, never going back, ending at the shards' total size on disk; the same through
bitsandbytes' quantize-at-load path, which reads the weights the same way."""
import itertools
import json

import pytest



@pytest.fixture(scope="module")
def sharded(make_tiny_ckpt):
    """The tiny checkpoint written as several shards with an index, as large checkpoints are."""
    return make_tiny_ckpt(shard_size="4MB")


def shards(folder) -> tuple[list[int], int]:
    """(the shards' sizes in index order, how many tensors the index lists)."""
    weight_map = json.loads((folder / "model.safetensors.index.json").read_text())["weight_map"]
    return [(folder / n).stat().st_size for n in sorted(set(weight_map.values()))], len(weight_map)


@pytest.mark.slow
@pytest.mark.parametrize("quant", [None, "4bit"])
def test_torch_load_reports_bytes_of_every_shard_in_order(sharded, quant, load_engine):
    if quant:
        pytest.importorskip("bitsandbytes", reason="bitsandbytes is not installed")
    sizes, n_tensors = shards(sharded)
    assert len(sizes) >= 3
    calls = []
    eng = load_engine(sharded, backend="torch", device="cpu", quant=quant,
                      progress=lambda done, total: calls.append((done, total)))
    assert eng.info.quantization == quant
    assert not any("progress" in n for n in eng.info.notes)  # taken, not ignored
    total = sum(sizes)
    done = [d for d, _ in calls]
    assert {t for _, t in calls} == {total}
    assert done[0] == 0 and done[-1] == total and done == sorted(done)
    # One report per tensor read, plus the start and each shard's end (its header counted).
    assert len(calls) == 1 + n_tensors + len(sizes)
    assert set(itertools.accumulate(sizes)) <= set(done)


def test_a_failing_progress_callback_is_not_blamed_on_the_checkpoint(sharded, load_engine):
    class Stop(Exception):
        pass

    def progress(done, total):
        if done:
            raise Stop

    with pytest.raises(Stop):
        load_engine(sharded, backend="torch", device="cpu", progress=progress)
