"""The training-data generator: deterministic, annotated exactly, many wordings, and graded
right for the canonical answer and wrong for a competing one."""
from __future__ import annotations

import random
import re

import numpy as np
import pytest

from engine.api import Image, Region, Text
from engine.train.data import (COLOURS, MIX, SHAPES, SKILLS, WORDS, grade, iou, make_sample,
                               text_prompts)
from engine.train.data.ask import separated
from engine.train.data.wording import NUMBER_WORDS
from engine.train.data.palette import COLOUR_FORMS, PLURAL

N = 200  # samples per skill, shared by the tests below


@pytest.fixture(scope="module")
def samples():
    return {k: [make_sample(i, "train", k) for i in range(N)] for k in SKILLS}


def target(sample):
    """The target message as a model would write it: text with "[k]" for its k-th box."""
    text, boxes = [], []
    for p in sample.messages[-1].parts:
        if isinstance(p, Text):
            text.append(p.text)
        elif isinstance(p, Region):
            text.append(f"[{len(boxes)}]")
            boxes.append(p.box)
    return "".join(text), boxes


def png_parts(sample):
    return [p.source for m in sample.messages for p in m.parts if isinstance(p, Image)]


def test_deterministic_and_splits_differ():
    for k, skill in enumerate((*SKILLS, None)):
        a, b = make_sample(k, "train", skill), make_sample(k, "train", skill)
        assert a.messages == b.messages and png_parts(a) == png_parts(b)
        assert a.answer == b.answer and a.box == b.box
    differ = sum(make_sample(i).messages != make_sample(i, "heldout").messages for i in range(30))
    assert differ >= 29


def test_mix_draws_every_skill_it_weighs():
    """Every skill with a share of the mix is drawn; one at 0 only where a config names it."""
    seen = {make_sample(i).skill for i in range(200)}
    assert seen == {k for k in SKILLS if MIX[k]} and "count_talk" not in seen


def test_vocabularies():
    assert len(WORDS) >= 200 and all(w.isalpha() and 3 <= len(w) <= 8 for w in WORDS)
    assert len(SHAPES) >= 10 and len(COLOURS) == 12 and "grey" in COLOURS


def test_iou():
    assert iou((0, 0, 1, 1), (0, 0, 1, 1)) == 1
    assert iou((0, 0, 0.5, 0.5), (0.5, 0.5, 1, 1)) == 0
    assert iou((0, 0, 1, 1), (0.5, 0, 1.5, 1)) == pytest.approx(1 / 3)
    assert iou((0, 0, 0, 0), (0, 0, 0, 0)) == 0


def test_text_prompts():
    p = text_prompts(50, seed=3)
    assert p == text_prompts(50, seed=3) and p != text_prompts(50, seed=4) and len(p) == 50
    assert all(isinstance(q, str) and q and isinstance(a, str) for q, a in p)
    assert ("What is the capital of France?", "Paris") in text_prompts(400)


def test_images_and_boxes(samples):
    for skill, ss in samples.items():
        for s in ss[:60]:
            imgs = png_parts(s)
            assert len(imgs) == len(s.scenes)
            for sc in s.scenes:
                w, h = sc.image.size
                assert 160 <= w <= 320 and 160 <= h <= 320 and 0.6 <= w / h <= 1.6
                assert sc.id_map.shape == (h, w) and sc.id_map.dtype == np.uint8
                assert sc.id_map.max() <= len(sc.objects)
                for k, o in enumerate(sc.objects):
                    x1, y1, x2, y2 = o.box
                    assert 0 <= x1 < x2 <= 1 and 0 <= y1 < y2 <= 1
                    ys, xs = np.nonzero(sc.id_map == k + 1)
                    assert len(xs), f"{skill}: {o} hidden"
                    assert xs.min() >= x1 * w - 1e-6 and xs.max() + 1 <= x2 * w + 1e-6
                    assert ys.min() >= y1 * h - 1e-6 and ys.max() + 1 <= y2 * h + 1e-6
                    # tight: an unoccluded drawing reaches its box on every side (anti-aliasing: 2 px,
                    # and the box's float rounding)
                    if not any(iou(o.box, p.box) > 0 for p in sc.objects if p is not o):
                        assert xs.min() - x1 * w <= 2 + 1e-6 and x2 * w - xs.max() - 1 <= 2 + 1e-6
                        assert ys.min() - y1 * h <= 2 + 1e-6 and y2 * h - ys.max() - 1 <= 2 + 1e-6
                    if o.kind == "shape":  # legible after shrinking to 192 px
                        assert max(x2 - x1, (y2 - y1) * h / w) * w >= 0.12 * min(w, h)
                    if o.kind == "word" and (o.label.isupper() or o.label.isdigit()):
                        assert (y2 - y1) * h >= 0.07 * max(w, h) - 1.5
                    if o.kind == "shape":
                        assert o.colour in COLOURS and o.label in SHAPES and o.size
            if skill == "refer":
                assert s.box in [o.box for o in s.scenes[0].objects]


def test_blank_and_text_samples(samples):
    for s in samples["blank"]:
        assert s.scenes[0].kind == "blank" and not s.scenes[0].objects and s.answer == ""
        assert not s.scenes[0].id_map.any()
    for s in samples["text"]:
        assert not s.scenes and len(s.messages) == 2 and s.messages[-1].text == ""


def _wrong(s, text, boxes):
    """A competing answer for the sample, or None."""
    kind = s.ask or s.skill
    if kind == "count":
        return [(str(int(s.answer) + 1) + ".", boxes), (f"{s.answer} or {int(s.answer) + 2}", boxes)]
    if kind == "refer":
        b = boxes[0]
        w = b[2] - b[0]
        return [(text, [(b[0] + w, b[1], b[2] + w, b[3])]), (text, [])]
    if kind == "region":
        c, sh = s.answer.split()
        oc = next(x for x in COLOURS if x != c)
        osh = next(x for x in SHAPES if x != sh)
        return [(f"A {oc} {sh}.", []), (f"A {c} {osh}.", []), (f"A {c} or {oc} {sh}.", [])]
    if kind == "describe":
        first = s.scenes[0].objects[0]
        return [(text.replace(f"{first.colour} {first.label}", "thing"), boxes)]
    if kind == "blank":
        return [("It is red.", []), ("There are 3.", []), ("A circle.", [])]
    if kind == "text":
        return [("Zzz.", [])] if s.answer else None
    if kind == "read" and len(s.options) < 2:
        return [("Qwertyuiop.", [])]
    other = next(o for o in s.options if o.lower() != s.answer.lower())
    return [(f"{other}.", []), (f"{s.answer} or {other}", [])]


def test_grading(samples):
    for skill, ss in samples.items():
        for s in ss[:80]:
            text, boxes = target(s)
            if skill == "text":
                text = f"Well: {s.answer}." if s.answer else "Hello there."
            assert grade(s, text, boxes), (skill, text, s.answer, s.options)
            for wtext, wboxes in _wrong(s, text, boxes) or []:
                assert not grade(s, wtext, wboxes), (skill, text, wtext, s.answer)


def test_grader_spellings():
    s = next(x for i in range(50) if (x := make_sample(i, "train", "colour")).answer == "grey")
    assert grade(s, "It's gray.", []) and grade(s, "GREY", []) and not grade(s, "greyish blue", [])
    c = next(x for i in range(200) if (x := make_sample(i, "train", "count")).answer == "0")
    assert all(grade(c, t, []) for t in ("None.", "zero", "0", "There are no stars."))
    assert not grade(c, "There are 2.", [])
    c3 = next(x for i in range(200) if (x := make_sample(i, "train", "count")).answer == "3")
    assert grade(c3, "Three.", []) and grade(c3, "There are 3 of them.", []) and not grade(c3, "two", [])
    assert grade(c3, "There are 3: [0], [1] and [2].", [])
    b = make_sample(0, "train", "blank")
    assert grade(b, "There is nothing there.", []) and not grade(b, "Yes.", [])


_STRIP = re.compile(r"^(please|quick question|hey|tell me|look at the image|and|also|now|ok) ")


def wording(s) -> str:
    """The question's template: vocabulary words replaced, case and punctuation dropped."""
    q = next(m for m in reversed(s.messages) if m.role == "user").text.lower()
    q = re.sub(r"[^\w' ]+", " ", q.replace("color", "colour"))
    vocab = {**{c: "C" for c in COLOURS}, **{sh: "S" for sh in SHAPES}, **{p: "S" for p in PLURAL.values()},
             **{z: "Z" for z in ("small", "large", "big", "medium")},
             **{n: "O" for n in ("object", "objects", "thing", "things", "shape", "shapes", "one")}}
    q = " ".join(vocab.get(w, "N" if w.isdigit() else w) for w in q.split())
    while _STRIP.match(q):
        q = _STRIP.sub("", q)
    return q


def test_many_wordings(samples):
    for skill, ss in samples.items():
        forms = {wording(s) for s in ss}
        assert len(forms) >= 8, (skill, sorted(forms))
    # answers vary too, and the answer set is balanced where it is binary
    yes = [s.answer for s in samples["exists"]]
    assert 0.35 < yes.count("yes") / len(yes) < 0.65
    assert len({s.answer for s in samples["count"]}) >= 6
    assert len({s.answer for s in samples["colour"]}) >= 10


def _named(q, objs):
    """Which objects a relation question names, in the order it names them."""
    q = q.lower()
    found = []
    for k, o in enumerate(objs):
        size = {"small": ["small"], "large": ["large", "big"]}.get(o.size, [])
        names = [o.label, f"{o.colour} {o.label}"] + [f"{z} {o.label}" for z in size] + \
                [f"{z} {o.colour} {o.label}" for z in size]
        for n in names:
            for m in re.finditer(rf"\bthe {n}\b", q):
                found.append((m.start(), -len(n), k))
    found.sort()
    out = []
    for pos, neg, k in found:  # the longest name at each place
        if not any(p <= pos < p + 4 - ln for p, ln, _ in out):
            out.append((pos, neg, k))
    return [k for _, _, k in out]


def test_chart_talk_is_true_to_its_chart(samples):
    """Every turn of a chart conversation: a bar given as a region holds that bar and no other, and
    the reply names its label; a label asked for gets its own bar's box; the tallest or shortest bar
    is boxed and named; the two label questions of one chart ask about two bars."""
    kinds = set()
    for s in samples["chart_talk"]:
        bars = [o for o in s.scenes[0].objects if o.kind == "bar"]
        turns = list(zip(s.messages[::2], s.messages[1::2]))
        assert 3 <= len(turns) <= 4 and isinstance(s.messages[0].parts[0], Image)
        labelled = []
        for q, a in turns:
            asked = [p.box for p in q.parts if isinstance(p, Region)]
            boxed = [p.box for p in a.parts if isinstance(p, Region)]
            if asked:  # the label of the bar in the region
                inside = [b for b in bars if iou(b.box, asked[0]) > 0.7]
                assert len(inside) == 1 and all(iou(b.box, asked[0]) < 0.05 for b in bars if b is not inside[0])
                assert inside[0].label in a.text and not boxed
                assert sum(re.search(rf"\b{re.escape(b.label)}\b", a.text) is not None for b in bars) == 1
                labelled.append(inside[0].label)
                kinds.add("label")
            else:
                (box,) = boxed
                bar = next(b for b in bars if b.box == box)
                values = [b.value for b in bars]
                if re.search(rf"\b{re.escape(bar.label)}\b", q.text, re.I):  # a label's bar (a question may be lower case)
                    kinds.add("find")
                else:
                    assert bar.value in (max(values), min(values)) and bar.label in a.text
                    kinds.add("extreme")
        assert len(labelled) == len(set(labelled))
    assert kinds == {"label", "find", "extreme"}


def _counted(text, objs):
    """The objects a count question names: those of a shape or a colour it mentions, else all."""
    for name, plural in PLURAL.items():
        if re.search(rf"\b{plural}\b", text):
            return [o for o in objs if o.label == name]
    for c in COLOURS:
        if any(re.search(rf"\b{f}\b", text) for f in COLOUR_FORMS[c]):
            return [o for o in objs if o.colour == c]
    return objs


def test_training_checks_what_is_there_by_pointing(samples):
    """Training's "is there" replies box the object they turn on and say what it is first: the
    object asked for ("[0] is a purple heart. Yes."), or the likeliest one that is not ("[0] is a
    brown hexagon, not a yellow diamond. No."). Each grades right against its own answer; the
    held-out items keep the replies without the box (their earlier turns stay as they were)."""
    said = {"yes": 0, "no": 0}
    for s in samples["exists"]:
        a = s.messages[-1]
        (box,) = [p.box for p in a.parts if isinstance(p, Region)]
        o = next(o for o in s.scenes[0].objects if o.box == box)
        assert f"is {'an' if o.colour[0] in 'aeiou' else 'a'} {o.colour} {o.label}" in a.parts[-1].text
        assert (", not " in a.parts[-1].text) == (s.answer == "no")
        text, boxes = target(s)
        assert grade(s, text, boxes), text
        said[s.answer] += 1
    assert min(said.values()) >= 0.3 * N
    for i in range(40):
        h = make_sample(5000 + i, "heldout", "exists").messages[-1]
        assert not any(isinstance(p, Region) for p in h.parts)


def test_count_talk_counts_what_each_question_names(samples):
    """Each turn of a counting conversation boxes every object the question names (a shape, a
    colour, everything, or a kind the scene lacks), left to right and nothing else, then says how
    many; one scene's three counts differ, so the words, not the pixels alone, give the number."""
    differ, absent = 0, 0
    for s in samples["count_talk"]:
        objs = s.scenes[0].objects
        turns = list(zip(s.messages[::2], s.messages[1::2]))
        assert len(turns) == 3 and isinstance(s.messages[0].parts[0], Image)
        numbers = []
        for q, a in turns:
            named = _counted(q.text.lower(), objs)
            boxes = [p.box for p in a.parts if isinstance(p, Region)]
            assert sorted(boxes) == sorted(o.box for o in named), (q.text, a.text)
            xs = [(b[0] + b[2]) / 2 for b in boxes]
            tail = a.text.lower().replace(",", " ").replace(".", " ").split()
            assert xs == sorted(xs) and (not boxes or {str(len(boxes)), NUMBER_WORDS[len(boxes)]} & set(tail))
            numbers.append(len(boxes))
            absent += not boxes
        differ += len(set(numbers)) > 1
    assert differ >= 0.8 * N and absent >= 0.15 * N


def test_relation_only_when_separated(samples):
    checked = 0
    for s in samples["relation"]:
        objs = s.scenes[0].objects
        q = s.messages[0].text.lower()
        named = _named(q, objs)
        assert len(named) == 2 and named[0] != named[1], (q, objs)
        # which is A and which B ("Relative to B, is A ...?"): the reply boxes A, then B
        _, boxes = target(s)
        a, b = (next(o for o in objs if o.box == box) for box in boxes)
        assert {objs.index(a), objs.index(b)} == set(named)
        assert separated(a, b, 0) or separated(a, b, 1)
        if s.answer in ("left", "right", "above", "below"):
            axis = 0 if s.answer in ("left", "right") else 1
            assert separated(a, b, axis)
            ca, cb = (a.box[axis] + a.box[axis + 2]) / 2, (b.box[axis] + b.box[axis + 2]) / 2
            assert (ca < cb) == (s.answer in ("left", "above"))
            checked += 1
    assert checked >= N // 3


def test_pointing_replies(samples):
    """Colour and shape answers point at the named object before they answer; counts point at each
    counted object left to right, then say the number; relations point at both objects first.
    The answer comes after the boxes: what follows them alone is graded right."""
    def after(text, k):
        return text[text.index(f"[{k}]") + len(f"[{k}]"):]
    for skill in ("colour", "shape"):
        for s in samples[skill][:60]:
            text, boxes = target(s)
            named = [o for o in s.scenes[0].objects if o.box == boxes[0]]
            assert len(boxes) == 1 and grade(s, after(text, 0), [])
            assert named and getattr(named[0], "colour" if skill == "colour" else "label") == s.answer
    for s in samples["count"]:
        text, boxes = target(s)
        assert len(boxes) == int(s.answer) and (not boxes or grade(s, after(text, len(boxes) - 1), []))
        xs = [(b[0] + b[2]) / 2 for b in boxes]
        assert xs == sorted(xs) and all(b in [o.box for o in s.scenes[0].objects] for b in boxes)
    for s in samples["relation"][:80]:
        text, boxes = target(s)
        assert len(boxes) == 2 and boxes[0] != boxes[1] and grade(s, after(text, 1), []), text
    for s in samples["chart"]:  # the asked bar (tallest or shortest), then its label
        text, boxes = target(s)
        bars = [o for o in s.scenes[0].objects if o.kind == "bar"]
        pick = next(b for b in bars if b.label == s.answer)
        assert pick.value in (max(b.value for b in bars), min(b.value for b in bars))
        assert len(boxes) == 1 and boxes[0] == pick.box
        assert grade(s, after(text, 0), []), text


def test_pointing_replies_draw_as_the_replies_they_replace():
    """rng.choice consumes draws by the list's length: a pointing reply list as long as the plain one
    keeps every later question of a conversation the same held-out item as before pointing."""
    from engine.train.data.wording import A, COUNT_POINT, PAIR_POINT, POINT_REPLY
    assert len(POINT_REPLY["colour"]) == len(A["colour"]) and len(POINT_REPLY["shape"]) == len(A["shape"])
    assert len(COUNT_POINT) == len(A["count"]) == len(A["count_one"])
    assert len(POINT_REPLY["chart"]) == 5  # the plain chart replies it replaced were five
    assert (len(PAIR_POINT["dir"]), len(PAIR_POINT["which"]), len(PAIR_POINT["yes"])) == \
        (len(A["rel"]), len(A["which"]), len(A["yes"])) == (len(A["rel"]), len(A["which"]), len(A["no"]))


def test_unseen_wordings_are_new():
    """The reworded templates cover every question key, index for index with training's (an item is
    drawn as the held-out one and takes the template at the same place), mean the same where a
    template carries meaning, and share no template with training."""
    from engine.train.data.unseen import Q_UNSEEN
    from engine.train.data.wording import Q
    assert set(Q_UNSEEN) == set(Q)
    for key, ts in Q_UNSEEN.items():
        assert len(ts) == len(Q[key]) and not set(ts) & set(Q[key]), key
        assert len(set(ts)) == len(ts), key
        for t, q in zip(ts, Q[key]):
            assert type(t) is type(q), key
            if key in ("rel_which", "rel_yes"):
                assert t[1:3] == q[1:3], (key, t, q)
            if key == "size_compare":
                assert ("smaller" in t) == ("smaller" in q), (t, q)
            if key in ("rel_lr", "rel_ab"):
                assert ("higher or lower" in t) == ("higher or lower" in q), (t, q)


def _pixels(png):
    from PIL import Image as PILImage
    import io
    return np.asarray(PILImage.open(io.BytesIO(png)), np.float32)


def test_unseen_splits_are_the_heldout_items():
    """reworded / restyled / unseen are the held-out items themselves: the same answer, boxes and
    target; reworded changes only the question (to none of training's wordings), restyled only the
    pixels (changed, but close), unseen both; each is graded right for its target, wrong for a
    competitor."""
    train_forms = {k: {wording(make_sample(i, "train", k)) for i in range(200)}
                   for k in ("colour", "shape", "count", "refer", "read", "chart")}
    for skill in ("colour", "shape", "count", "relation", "refer", "region", "read", "chart", "two_images",
                  "exists", "size", "followup", "describe"):
        for i in range(12):
            h = make_sample(i, "heldout", skill)
            for split in ("reworded", "restyled", "unseen"):
                s = make_sample(i, split, skill)
                assert (s.answer, s.box, s.options, target(s)) == (h.answer, h.box, h.options, target(h))
                texts = [[p.text for p in m.parts if isinstance(p, Text)] for m in s.messages[:-1]]
                held = [[p.text for p in m.parts if isinstance(p, Text)] for m in h.messages[:-1]]
                assert (texts != held) == (split != "restyled"), (skill, split, texts, held)
                for a, b in zip(png_parts(s), png_parts(h), strict=True):
                    x, y = _pixels(a), _pixels(b)
                    d = np.abs(x - y)
                    if split == "reworded":
                        assert a == b
                    else:
                        assert x.shape == y.shape and d.max() >= 8 and d.mean() < 25, (skill, split, i)
                text, boxes = target(s)
                assert grade(s, text, boxes), (skill, text)
                for wtext, wboxes in _wrong(s, text, boxes) or []:
                    assert not grade(s, wtext, wboxes), (skill, wtext)
                if skill in train_forms and split != "restyled":
                    assert wording(s) not in train_forms[skill], (skill, wording(s))


def test_training_paraphrases_are_new_and_fit_their_questions():
    """The training-only wordings (paraphrase.Q_TRAIN) are none of the held-out ones nor of the
    unseen split's, take only the fields their question fills, and mean what their kind's templates
    mean (both axes and directions for the relation kinds that carry meaning)."""
    import string
    from engine.train.data.paraphrase import Q_TRAIN
    from engine.train.data.unseen import Q_UNSEEN
    from engine.train.data.wording import Q

    def text(t):
        return t if isinstance(t, str) else "".join(t) if key == "region" else t[0]

    for key, ts in Q_TRAIN.items():
        assert key in Q and len(set(ts)) == len(ts), key
        assert not set(ts) & (set(Q[key]) | set(Q_UNSEEN[key])), key
        assert not {text(t).lower() for t in ts} & {text(q).lower() for q in Q[key] + Q_UNSEEN[key]}, key
        for t in ts:
            assert type(t) is type(Q[key][0]) and (isinstance(t, str) or len(t) == len(Q[key][0])), (key, t)
            need = {f for _, f, _, _ in string.Formatter().parse(text(t)) if f}
            assert any(need <= {f for _, f, _, _ in string.Formatter().parse(text(q)) if f} for q in Q[key]), (key, t)
            if key in ("rel_lr", "rel_ab"):
                assert "higher or lower" not in t
        if key in ("rel_which", "rel_yes"):
            assert {t[1:3] for t in ts} == {q[1:3] for q in Q[key]}, key


def test_training_stream_draws_paraphrases_and_heldout_never(monkeypatch):
    """A share of the training stream's questions come from the extra templates; the held-out and
    unseen items draw none (and so stay the items every evaluation so far was measured on)."""
    from engine.train.data import paraphrase
    monkeypatch.setitem(paraphrase.Q_TRAIN, "refer", ["Marker {obj} here?"])
    monkeypatch.setitem(paraphrase.Q_TRAIN, "colour", ["Marker {obj} colour?"])
    for skill in ("refer", "colour"):
        train = [make_sample(i, "train", skill).messages[0].text.lower() for i in range(200)]
        share = sum("marker" in q for q in train) / len(train)
        assert 0.2 < share < 0.5, (skill, share)
        for split in ("heldout", "reworded", "unseen"):
            assert not any("marker" in make_sample(i, split, skill).messages[0].text.lower() for i in range(100))


def test_training_draws_in_more_hands():
    """The training stream's RNG widens the shapes' proportions and hard-edges a quarter of its
    canvases; the held-out stream's draws stay in the old ranges, anti-aliased."""
    from engine.train.data.draw import SS, Canvas
    from engine.train.data.palette import unit_polygon
    from engine.train.data.paraphrase import TrainRandom

    def heights(rng_cls):  # an ellipse's height over its width
        return [2 * max(y for _, y in unit_polygon(rng_cls(f"e{i}"), "ellipse")) for i in range(400)]

    held, train = heights(random.Random), heights(TrainRandom)
    assert 0.5 - 1e-9 <= min(held) and max(held) <= 0.64 + 1e-9
    assert min(train) < 0.49 and 0.65 < max(train) <= 0.69 + 1e-9
    hard = [Canvas(TrainRandom(f"c{i}")).ss == 1 for i in range(200)]
    assert {Canvas(random.Random(f"c{i}")).ss for i in range(200)} == {SS}
    assert 25 <= sum(hard) <= 75


def test_other_hand_split_draws_what_training_never_does():
    """The other-hand split: big canvases, hard edges, pure colours, and shape proportions outside
    training's (widened) ranges; its boxes stay tight, its answers graded right for the target and
    wrong for a competitor; its draws are its own (no held-out item among them)."""
    from engine.train.data import other_hand
    from engine.train.data.palette import unit_polygon
    from engine.train.data.paraphrase import TrainRandom

    def ratio(pts):  # height over width
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        return (max(ys) - min(ys)) / (max(xs) - min(xs))

    for shape in ("ellipse", "rectangle", "diamond"):
        train = [ratio(unit_polygon(TrainRandom(f"{shape}{i}"), shape)) for i in range(300)]
        other = [ratio(other_hand.polygon(random.Random(f"{shape}{i}"), shape)) for i in range(300)]
        if shape == "diamond":  # width over height
            train, other = [1 / r for r in train], [1 / r for r in other]
        assert max(other) < min(train), shape
    for skill in ("colour", "shape", "count", "relation", "refer", "region", "exists", "describe"):
        for i in range(10):
            s = make_sample(i, "other_hand", skill)
            assert png_parts(s) != png_parts(make_sample(i, "heldout", skill))
            for sc in s.scenes:
                w, h = sc.image.size
                assert 400 <= w <= 800 and 400 <= h <= 800
                pix = np.asarray(sc.image).reshape(-1, 3)
                inks = {tuple(c) for c in np.unique(pix, axis=0)}
                for k, o in enumerate(sc.objects):  # hard edges: the pure colour itself, no shades
                    assert other_hand.PURE_RGB[o.colour] in inks
                    ys, xs = np.nonzero(sc.id_map == k + 1)
                    x1, y1, x2, y2 = o.box
                    assert xs.min() >= x1 * w - 1e-6 and xs.max() + 1 <= x2 * w + 1e-6
                assert len(inks) <= 2 + len(sc.objects) + 2, "anti-aliased or shaded"
            text, boxes = target(s)
            assert grade(s, text, boxes), (skill, text)
            for wtext, wboxes in _wrong(s, text, boxes) or []:
                assert not grade(s, wtext, wboxes), (skill, wtext)
