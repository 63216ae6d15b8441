"""Samples per skill: design a scene that makes the question answerable, draw it, ask, and
wrap it as chat messages. make_sample is deterministic in (split, index, skill)."""
from __future__ import annotations

import random

from ...api import Image, Message, Text
from .ask import ASKERS, QA, ask_chart, ask_chart_find, ask_chart_label, ask_count, ask_exists, ask_read, ask_size, count_reply
from .charts import chart_scene
from .draw import Canvas, place_shapes, saved_as_jpeg
from .palette import COLOURS, PLURAL, SHAPES, SIZES, article
from .other_hand import OtherHandRandom
from .paraphrase import NullRandom, TrainRandom
from .records import Sample, png_bytes
from .signs import text_scene
from .text_chat import one_prompt
from .unseen import SPLITS, UnseenRandom, restyled
from .wording import FOLLOW_LEAD, question, reply

SKILLS = ("colour", "shape", "count", "relation", "refer", "region", "read", "chart", "describe",
          "exists", "size", "two_images", "followup", "blank", "text", "multi", "chart_talk", "count_talk")
# Training mix (percent). Grounding (refer, region, describe) and reading get the most: they are
# what a from-scratch tower learns slowest; text keeps the base model's chat, blank teaches "none".
# count_talk only where a config names it: the one run with it lost 12 points of count (TRAINING.md).
MIX = {"colour": 8, "shape": 8, "count": 9, "relation": 8, "refer": 10, "region": 7, "read": 9,
       "chart": 5, "describe": 7, "exists": 7, "size": 6, "two_images": 5, "followup": 3,
       "blank": 3, "text": 5, "multi": 5, "chart_talk": 3, "count_talk": 0}
_TRIES = 40
USER_JPEG = 0.15   # of training's samples with images: saved as JPEG (draw.saved_as_jpeg)


def _sizes(rng, n):
    """Size classes that fit n objects in one image: fewer large ones as the scene fills."""
    w = (1, 1, 1) if n <= 2 else (4, 4, 2) if n <= 4 else (6, 4, 0) if n <= 6 else (8, 2, 0)
    sizes = rng.choices(SIZES, w, k=n)
    if n > 2:
        first = sizes.index("large") if "large" in sizes else n
        sizes = [("medium" if s == "large" and k != first else s) for k, s in enumerate(sizes)]
    return sizes


def _spec(rng, canvas, shape=None, colour=None, size="medium"):
    return {"shape": shape or rng.choice(SHAPES), "colour": colour or rng.choice(canvas.allowed),
            "size": size, "filled": rng.random() < 0.75}


def _draw(rng, canvas, specs, kind="shapes"):
    rng.shuffle(specs)
    for s, size in zip(specs, _sizes(rng, len(specs))):
        if not s.get("size"):
            s["size"] = size
    objs = place_shapes(rng, canvas, specs, overlap=rng.random() < 0.3)
    return canvas.scene(kind) if objs else None


def random_scene(rng, n, dup=0.35):
    """n random shapes; dup: chance that two share a shape (or a colour), so questions must bind
    attributes to objects."""
    canvas = Canvas(rng)
    if len(canvas.allowed) < 3:
        return None
    specs = [_spec(rng, canvas, size=None) for _ in range(n)]
    if n >= 2 and rng.random() < dup:
        specs[1]["shape"] = specs[0]["shape"]
    if n >= 2 and rng.random() < dup:
        specs[-1]["colour"] = specs[0]["colour"]
    return _draw(rng, canvas, specs)


def _one(skill, scene, qa: QA) -> Sample:
    msgs = [Message("user", [Image(png_bytes(scene.image)), *qa.q]), Message("assistant", qa.a)]
    return Sample(skill, msgs, qa.answer, qa.box, [scene], qa.options, qa.ask)


_N = {"colour": (1, 6), "shape": (1, 6), "refer": (1, 7), "region": (1, 6), "describe": (1, 4),
      "exists": (1, 6), "relation": (2, 5)}


def _generic(skill):
    def build(rng, max_objects=None):
        lo, hi = _N[skill]
        for _ in range(_TRIES):
            n = rng.randint(lo, max(lo, min(hi, max_objects or hi)))
            scene = random_scene(rng, n, 0.0 if skill == "describe" else 0.35)
            qa = scene and ASKERS[skill](rng, scene.objects)
            if qa:
                return _one(skill, scene, qa)
        raise RuntimeError(f"no {skill} sample")
    build.takes_max_objects = True
    return build


def _count(rng):
    for _ in range(_TRIES):
        canvas = Canvas(rng)
        if len(canvas.allowed) < 3:
            continue
        r, k = rng.random(), rng.choices(range(6), (1.2, 2, 2, 2, 1.5, 1.3))[0]
        if r < 0.5:
            t = rng.choice(SHAPES)
            specs = [_spec(rng, canvas, t) for _ in range(k)]
            specs += [_spec(rng, canvas, rng.choice([s for s in SHAPES if s != t]))
                      for _ in range(rng.randint(0 if k else 1, min(3, 7 - k)))]
            what = ("shape", t)
        elif r < 0.75:
            c = rng.choice(canvas.allowed)
            specs = [_spec(rng, canvas, colour=c) for _ in range(k)]
            specs += [_spec(rng, canvas, colour=rng.choice([x for x in canvas.allowed if x != c]))
                      for _ in range(rng.randint(0 if k else 1, min(3, 7 - k)))]
            what = ("colour", c)
        else:
            specs, what = [_spec(rng, canvas) for _ in range(max(1, k))], ("all", "")
        for s in specs:
            s["size"] = None
        scene = _draw(rng, canvas, specs)
        qa = scene and ask_count(rng, scene.objects, what)
        if qa:
            return _one("count", scene, qa)
    raise RuntimeError("no count sample")


def _size(rng):
    for _ in range(_TRIES):
        canvas = Canvas(rng)
        if len(canvas.allowed) < 3:
            continue
        form = rng.choice(("extreme", "bigsmall", "compare"))
        n = rng.randint(2, 4) if form != "bigsmall" else rng.randint(1, 4)
        shapes = rng.sample(SHAPES, n)
        if form == "extreme":
            big = rng.random() < 0.6
            sizes = ["large" if big else "small"] + [rng.choice(("small", "medium") if big else ("medium", "large"))
                                                     for _ in range(n - 1)]
            if not big and sizes.count("large") > 1:
                sizes = ["small"] + ["medium"] * (n - 1)
        else:
            sizes = [rng.choice(("small", "large"))] + _sizes(rng, n - 1)
            if sizes[0] == "large":  # one large object per scene at most: it must fit
                sizes = ["large"] + [("medium" if z == "large" else z) for z in sizes[1:]]
        specs = [_spec(rng, canvas, s, size=z) for s, z in zip(shapes, sizes)]
        objs = place_shapes(rng, canvas, specs, overlap=rng.random() < 0.2)
        if not objs:
            continue
        scene = canvas.scene("shapes")
        qa = ask_size(rng, scene.objects, form, target=0)
        if qa:
            return _one("size", scene, qa)
    raise RuntimeError("no size sample")


def _exists(rng):
    want = rng.random() < 0.5  # balanced yes/no
    for _ in range(_TRIES):
        scene = random_scene(rng, rng.randint(1, 6), 0.5)
        qa = scene and ask_exists(rng, scene.objects, want)
        if qa:
            return _one("exists", scene, qa)
    raise RuntimeError("no exists sample")


def _read(rng):
    for _ in range(_TRIES):
        got = text_scene(rng)
        if got:
            canvas, info = got
            scene = canvas.scene("text")
            return _one("read", scene, ask_read(rng, scene.objects, info))
    raise RuntimeError("no read sample")


def _chart(rng):
    for _ in range(_TRIES):
        canvas = chart_scene(rng)
        if canvas:
            scene = canvas.scene("chart")
            return _one("chart", scene, ask_chart(rng, [o for o in scene.objects if o.kind == "bar"]))
    raise RuntimeError("no chart sample")


def _conversation(skill, scene, qas) -> Sample:
    """One image, then each question and its answer in turn; the last answer is the one graded."""
    msgs = [Message("user", [Image(png_bytes(scene.image)), *qas[0].q]), Message("assistant", qas[0].a)]
    for qa in qas[1:]:
        msgs += [Message("user", list(qa.q)), Message("assistant", qa.a)]
    last = qas[-1]
    return Sample(skill, msgs, last.answer, last.box, [scene], last.options, last.ask)


def _count_talk(rng):
    """Three counts of different things in one scene (a training skill, as multi): a shape, a
    colour, everything, something absent. The same pixels give different numbers, so the boxes
    and the number must follow what the question names: of the fifteenth's 47 wrong held-out
    counts, 18 boxed an object of another kind and 6 of the 7 absent kinds got a box anyway."""
    for _ in range(_TRIES):
        canvas = Canvas(rng)
        if len(canvas.allowed) < 3:
            continue
        t, c = rng.choice(SHAPES), rng.choice(canvas.allowed)
        specs = [_spec(rng, canvas, t, size=None) for _ in range(rng.randint(1, 4))]
        specs += [_spec(rng, canvas, rng.choice([s for s in SHAPES if s != t]), c, None)
                  for _ in range(rng.randint(1, 3))]
        specs += [_spec(rng, canvas, size=None) for _ in range(rng.randint(0, 7 - len(specs)))]
        scene = _draw(rng, canvas, specs)
        if scene is None:
            continue
        shapes, colours = {o.label for o in scene.objects}, {o.colour for o in scene.objects}
        whats = [("shape", t), ("colour", c), ("all", ""),
                 ("shape", rng.choice([s for s in SHAPES if s not in shapes])),
                 ("colour", rng.choice([x for x in COLOURS if x not in colours]))]
        whats = whats[:2] + rng.sample(whats[2:], 1)  # a shape, a colour, and everything or an absent kind
        qas = [ask_count(rng, scene.objects, w) for w in rng.sample(whats, 3)]
        if all(qas):
            return _conversation("count_talk", scene, qas)
    raise RuntimeError("no count_talk sample")


CHART_ASK = {"extreme": ask_chart, "find": ask_chart_find}  # and "label": ask_chart_label, told the bars asked


def _chart_talk(rng):
    """Three or four questions about one chart (a training skill, as multi): the tallest or shortest
    bar, a bar's label with the bar given as a region, a label's bar. Which word box belongs to which
    bar is taught both ways, on one image, one pass of the tower and one OCR. Crowded charts come
    more often than in the chart skill: held-out charts of 5-6 bars had the asked bar boxed in 7 of
    19, of 2-3 bars in 57 of 64 (the fifteenth); labels that do not fit make a chart draw again."""
    for _ in range(_TRIES):
        canvas = chart_scene(rng, rng.choice((2, 3, 4, 4, 5)))
        if not canvas:
            continue
        scene = canvas.scene("chart")
        bars = [o for o in scene.objects if o.kind == "bar"]
        kinds = rng.sample(("extreme", "label", "find", "label"), rng.randint(3, 4))
        qas = []
        for k in kinds:
            if k == "label":  # the two label questions ask about two bars
                qas.append(ask_chart_label(rng, bars, {q.answer for q in qas if q.ask == "chart_label"}))
            else:
                qas.append(CHART_ASK[k](rng, bars))
        return _conversation("chart_talk", scene, qas)
    raise RuntimeError("no chart_talk sample")


def _two_images(rng):
    for _ in range(_TRIES):
        form = rng.choice(("more", "fewer", "where", "where"))
        ca, cb = Canvas(rng), Canvas(rng)
        if len(ca.allowed) < 3 or len(cb.allowed) < 3:
            continue
        if form != "where":
            t = rng.choice(SHAPES)
            a, b = rng.randint(0, 5), rng.randint(0, 5)
            if abs(a - b) < 2 and not (min(a, b) == 0 < max(a, b)):
                continue
            scenes = []
            for canvas, k in ((ca, a), (cb, b)):
                specs = [_spec(rng, canvas, t, size=None) for _ in range(k)]
                specs += [_spec(rng, canvas, rng.choice([s for s in SHAPES if s != t]), size=None)
                          for _ in range(rng.randint(0 if k else 1, 3))]
                scenes.append(_draw(rng, canvas, specs))
            first = (a > b) == (form == "more")
            q = question(rng, "two_" + form, things=PLURAL[t])
        else:
            first = rng.random() < 0.5
            has, other = (ca, cb) if first else (cb, ca)
            c, s = rng.choice(has.allowed), rng.choice(SHAPES)
            specs_has = [_spec(rng, has, s, c, None)] + [_spec(rng, has, size=None) for _ in range(rng.randint(0, 3))]
            near = [_spec(rng, other, s, size=None), _spec(rng, other, rng.choice(SHAPES), c if c in other.allowed else None, None)]
            specs_other = near[:rng.randint(0, 2)] + [_spec(rng, other, size=None) for _ in range(rng.randint(1, 3))]
            if any((x["colour"], x["shape"]) == (c, s) for x in specs_has[1:] + specs_other):
                continue
            drawn = {id(has): _draw(rng, has, specs_has), id(other): _draw(rng, other, specs_other)}
            scenes = [drawn[id(ca)], drawn[id(cb)]]
            obj = f"{c} {s}"
            q = question(rng, "two_where", obj=obj, x=article(obj))
        if None in scenes:
            continue
        o = "first" if first else "second"
        msgs = [Message("user", [Image(png_bytes(scenes[0].image)), Image(png_bytes(scenes[1].image)), Text(q)]),
                Message("assistant", [Text(reply(rng, "two", o=o, O=o.capitalize()))])]
        return Sample("two_images", msgs, o, None, scenes, ("first", "second"), "two_images")
    raise RuntimeError("no two_images sample")


def _followup(rng):
    for _ in range(_TRIES):
        scene = random_scene(rng, rng.randint(2, 5))
        if scene is None:
            continue
        k1 = rng.choice(("colour", "shape", "count", "exists", "size", "relation"))
        k2 = rng.choice([k for k in ("colour", "shape", "count", "exists", "relation", "size", "refer") if k != k1])
        qa1, qa2 = ASKERS[k1](rng, scene.objects), ASKERS[k2](rng, scene.objects)
        if not qa1 or not qa2:
            continue
        lead = rng.choice(FOLLOW_LEAD)
        if lead:
            t = qa2.q[0].text
            qa2.q[0] = Text(lead + (t[:1].lower() + t[1:]))
        msgs = [Message("user", [Image(png_bytes(scene.image)), *qa1.q]), Message("assistant", qa1.a),
                Message("user", list(qa2.q)), Message("assistant", qa2.a)]
        return Sample("followup", msgs, qa2.answer, qa2.box, [scene], qa2.options, qa2.ask)
    raise RuntimeError("no followup sample")


MULTI_ASK = ("colour", "shape", "count", "exists", "relation", "size", "refer")


def _multi(rng, max_objects=None):
    """Three or four questions of different kinds about one scene, each answer a target (LLaVA's
    multi-turn conversations): one image and one pass of the tower teach several skills, and the
    later questions cost only their own text. A training skill; the eval asks one at a time."""
    for _ in range(_TRIES):
        scene = random_scene(rng, rng.randint(1, max(1, min(6, max_objects or 6))))
        if scene is None:
            continue
        qas = [qa for k in rng.sample(MULTI_ASK, rng.randint(3, 4)) if (qa := ASKERS[k](rng, scene.objects))]
        if len(qas) < 2:
            continue
        return _conversation("multi", scene, qas)
    raise RuntimeError("no multi sample")


_multi.takes_max_objects = True


def _blank(rng):
    """The same question types about an empty image; the reply says there is nothing."""
    scene = Canvas(rng, kinds=("plain", "gradient")).scene("blank")
    form = rng.choice(("colour", "shape", "count", "exists"))
    c, s = rng.choice(COLOURS), rng.choice(SHAPES)
    if form == "colour":
        obj = s if rng.random() < 0.7 else f"{rng.choice(('small', 'large'))} {s}"
        q, a = question(rng, "colour", obj=obj), reply(rng, "blank_thing", obj=obj, x=article(obj))
    elif form == "shape":
        obj = f"{c} {rng.choice(('object', 'shape', 'thing'))}"
        q, a = question(rng, "shape", obj=obj), reply(rng, "blank_thing", obj=obj, x=article(obj))
    elif form == "count":
        things = rng.choice((PLURAL[s], f"{c} shapes", "shapes", "objects"))
        q = question(rng, "count", things=things)
        a = reply(rng, "blank_count", things=things) if rng.random() < 0.7 else count_reply(rng, 0, things, "")
    else:
        y = rng.choice((f"{c} {s}", s))
        q, a = question(rng, "exists", x=article(y)), reply(rng, "blank_exists", y=y)
    msgs = [Message("user", [Image(png_bytes(scene.image)), Text(q)]), Message("assistant", [Text(a)])]
    return Sample("blank", msgs, "", None, [scene], (), "blank")


def _text(rng):
    q, expected = one_prompt(rng)
    # the target text is left empty: the training loop fills in the base model's own answer
    return Sample("text", [Message("user", [Text(q)]), Message("assistant", [Text("")])], expected,
                  None, [], (), "text")


BUILDERS = {**{k: _generic(k) for k in _N}, "count": _count, "size": _size, "exists": _exists,
            "read": _read, "chart": _chart, "two_images": _two_images, "followup": _followup,
            "blank": _blank, "text": _text, "multi": _multi, "chart_talk": _chart_talk, "count_talk": _count_talk}
assert set(BUILDERS) == set(SKILLS) == set(MIX)


def make_sample(index: int, split: str = "train", skill: str | None = None, max_objects: int | None = None) -> Sample:
    """Deterministic: the RNG is seeded from f"{split}:{index}:{skill}", so "train" and "heldout"
    are different streams; skill=None draws one from MIX. max_objects caps the scenes of the
    scene-question skills (a curriculum: few objects first). "train+null" is "train" (the same
    draws) for a pointer with a null: its counts end by pointing into nothing. The splits "reworded", "restyled" and
    "unseen" are the held-out items in other words, worse pixels, or both (unseen.py); "other_hand"
    is a stream of its own, its shapes drawn in another hand (other_hand.py)."""
    words, pixels = SPLITS.get(split, (False, False))
    stream = "heldout" if split in SPLITS else "train" if split == "train+null" else split
    rng = (UnseenRandom if words else NullRandom if split == "train+null" else TrainRandom if split == "train"
           else OtherHandRandom if split == "other_hand" else random.Random)(f"{stream}:{index}:{skill}")
    if skill is None:
        skill = rng.choices(SKILLS, [MIX[k] for k in SKILLS])[0]
    elif skill not in BUILDERS:
        raise ValueError(f"unknown skill {skill!r}; one of {SKILLS}")
    build = BUILDERS[skill]
    s = build(rng, max_objects) if getattr(build, "takes_max_objects", False) else build(rng)
    if getattr(rng, "hands", False) and s.scenes and rng.random() < USER_JPEG:
        return restyled(s, f"jpeg:{index}:{skill}", saved_as_jpeg)
    return restyled(s, f"restyle:{index}:{skill}") if pixels else s
