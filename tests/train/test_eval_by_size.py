"""`python -m engine eval --by-size`: each colour / shape / refer / region item is filed under the
size of the object it asks about, read from the drawing itself."""
from engine.api import Region
from engine.train.data import make_sample
from engine.train.evaluate import asked_object_side, size_bucket, size_table


def _long_side(box, size):
    w, h = size
    return max((box[2] - box[0]) * w, (box[3] - box[1]) * h) / max(w, h)


def test_the_side_is_the_asked_objects_in_the_scene():
    for skill, field in (("colour", "colour"), ("shape", "label")):
        for i in range(5000, 5012):
            s = make_sample(i, "heldout", skill)
            scene = s.scenes[0]
            side = asked_object_side(s)
            # the scene object the reply boxes carries the answer (its colour, or its shape)
            reply_box = next(p.box for p in s.messages[-1].parts if isinstance(p, Region))
            obj = next(o for o in scene.objects if tuple(o.box) == tuple(reply_box))
            assert getattr(obj, field) == s.answer
            assert side == _long_side(obj.box, scene.image.size)
            assert 0 < side <= 1


def test_region_and_refer_use_their_target_box_and_other_skills_have_none():
    for skill in ("region", "refer"):
        s = make_sample(5003, "heldout", skill)
        assert asked_object_side(s) == _long_side(s.box, s.scenes[0].image.size)
    for skill in ("count", "relation", "two_images", "read"):
        assert asked_object_side(make_sample(5003, "heldout", skill)) is None


def test_buckets_and_table():
    assert [size_bucket(x) for x in (0.05, 0.125, 0.2, 0.3125, 1.0)] == \
        ["< 1/8", "1/8-3/16", "3/16-5/16", ">= 5/16", ">= 5/16"]
    rows = {"shape": {"by_size": {"1/8-3/16": [15, 24], ">= 5/16": [32, 37]}}, "count": {"n": 1}}
    assert size_table(rows).splitlines()[2] == "| shape | - | 15/24 | - | 32/37 |"
    assert len(size_table(rows).splitlines()) == 3
