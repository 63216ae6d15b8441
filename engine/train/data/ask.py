"""Questions about a drawn scene: each asker picks something the scene answers unambiguously and
returns a QA (question parts, reply parts, canonical answer, the answer's competitors), or None
when this scene cannot be asked that way."""
from __future__ import annotations

from dataclasses import dataclass

from ...api import Region, Text
from ...grounding.geometry import NO_BOX
from .palette import COLOURS, PLURAL, SHAPES, article
from .wording import (COUNT_POINT, COUNT_POINT_NULL, DESCRIBE_LEAD, NUMBER_WORDS, PAIR_POINT, POINT_REPLY, REFER_REPLY, cap,
                      pick, question, reply, vary)


@dataclass
class QA:
    q: list                     # user parts after the images (Text / Region)
    a: list                     # assistant parts
    answer: str = ""
    options: tuple = ()
    box: tuple | None = None
    ask: str = ""


_RANK = {"small": 0, "medium": 1, "large": 2}


def _same(o, p, attrs):
    return all({"shape": o.label == p.label, "colour": o.colour == p.colour,
                "size": o.size == p.size}[a] for a in attrs)


def unique(objs, i, attrs) -> bool:
    """Do these attributes single out objs[i]? Size words only for the small and large ones."""
    if "size" in attrs and objs[i].size == "medium":
        return False
    return not any(_same(objs[i], p, attrs) for j, p in enumerate(objs) if j != i)


def phrase(rng, o, attrs, noun=None) -> str:
    words = []
    if "size" in attrs:
        words.append("big" if o.size == "large" and rng.random() < 0.3 else o.size)
    if "colour" in attrs:
        words.append(o.colour)
    words.append(o.label if "shape" in attrs else noun or rng.choice(("object", "shape", "thing")))
    return " ".join(words)


def _pick(rng, objs, attr_sets, only=None):
    c = [(i, a) for i in range(len(objs)) for a in attr_sets if unique(objs, i, a)
         and (only is None or i == only)]
    return rng.choice(c) if c else None


def ask_colour(rng, objs, target=None):
    got = _pick(rng, objs, (("shape",), ("shape",), ("size", "shape")), target)
    if not got:
        return None
    o = objs[got[0]]
    obj = phrase(rng, o, got[1])
    return QA([Text(question(rng, "colour", obj=obj))], pointing(rng, "colour", o, obj=obj, a=o.colour),
              o.colour, COLOURS, ask="colour")


def ask_shape(rng, objs, target=None):
    got = _pick(rng, objs, (("colour",), ("colour",), ("size", "colour")), target)
    if not got:
        return None
    o = objs[got[0]]
    obj = phrase(rng, o, got[1], rng.choice(("object", "thing", "one")))
    return QA([Text(question(rng, "shape", obj=obj))],
              pointing(rng, "shape", o, obj=obj, x=article(o.label)), o.label, SHAPES, ask="shape")


def pointing(rng, key, o, **kw) -> list:
    """A reply that points at the object, then answers: "The star [0] is red." (one draw of the
    rng, as reply() makes: the questions after it in a conversation stay as they were)."""
    before, after = rng.choice(POINT_REPLY[key])
    lead = [Text(cap(before.format(**kw)))] if before else []
    return lead + [Region(0, o.box), Text(after.format(**kw))]


def count_reply(rng, k, things, thing):
    if k == 0:
        return reply(rng, "count_zero", things=things)
    if k == 1:
        return reply(rng, "count_one", thing=thing)
    return reply(rng, "count", n=k, nw=NUMBER_WORDS[k], things=things)


def ask_count(rng, objs, what=None):
    """what: ("shape", name) | ("colour", name) | ("all", "")."""
    if what is None:
        r = rng.random()
        what = (("shape", rng.choice(SHAPES)) if r < 0.5 else ("colour", rng.choice(COLOURS)) if r < 0.75
                else ("all", ""))
    kind, name = what
    if kind == "shape":
        hits, things, thing = [o for o in objs if o.label == name], PLURAL[name], name
    elif kind == "colour":
        noun = rng.choice(("shapes", "objects", "things"))
        hits, things, thing = [o for o in objs if o.colour == name], f"{name} {noun}", f"{name} {noun[:-1]}"
    else:
        noun = rng.choice(("shapes", "objects", "things"))
        hits, things, thing = list(objs), noun, noun[:-1]
    k = len(hits)
    if k > 8:
        return None
    return QA([Text(question(rng, "count", things=things))], counting(rng, hits, things, thing), str(k), ask="count")


def nulls(rng) -> bool:
    """A pointer with a null: counts end with it (paraphrase.NullRandom, training only)."""
    return getattr(rng, "nulls", False)


def checks(rng) -> bool:
    """Training's "is there" replies check by pointing (paraphrase.TrainRandom), not the held-out's."""
    return getattr(rng, "checks", False)


def _reading_order(o):
    return _centre(o, 0), _centre(o, 1)


def counting(rng, hits, things, thing) -> list:
    """Count by pointing (as Molmo counts): a box on each one, left to right, then the number;
    each box brings its object's patches, the number follows the boxes. None: said so. For a
    pointer with a null (nulls), one box more, into nothing, ends the boxes, so the pointer, which
    passes over what it has boxed, decides whether one is left ("[0] [1] so 2.")."""
    k = len(hits)
    null = [Region(0, NO_BOX)] if nulls(rng) else []
    if k == 0:
        return null + [Text(count_reply(rng, 0, things, thing))]
    i = rng.randrange(len(COUNT_POINT))  # one draw, as rng.choice(COUNT_POINT) and count_reply make
    lead, tail = (COUNT_POINT_NULL if null else COUNT_POINT)[i]
    parts = [Text(lead)] if lead else []
    for o in sorted(hits, key=_reading_order):
        parts += [Region(0, o.box), Text(" ")]
    if null:
        parts += null + [Text(tail.format(n=k, nw=NUMBER_WORDS[k], things=things if k > 1 else thing))]
    else:
        parts[-1] = Text(tail.format(n=k, nw=NUMBER_WORDS[k], things=things if k > 1 else thing))
    return parts


def separated(a, b, axis) -> bool:
    """Clearly apart along axis (0 = x, 1 = y): centres >= 15% of the image apart and the boxes
    not overlapping along it."""
    ca, cb = (a.box[axis] + a.box[axis + 2]) / 2, (b.box[axis] + b.box[axis + 2]) / 2
    return abs(ca - cb) >= 0.15 and (a.box[axis + 2] <= b.box[axis] or b.box[axis + 2] <= a.box[axis])


def _centre(o, axis):
    return (o.box[axis] + o.box[axis + 2]) / 2


_DESC = (("shape",), ("colour", "shape"), ("colour", "shape"), ("size", "shape"), ("size", "colour", "shape"))
_DIRS = {(0, True): ("left", ("left", "to the left", "on the left"), ("left of", "to the left of")),
         (0, False): ("right", ("right", "to the right", "on the right"), ("right of", "to the right of")),
         (1, True): ("above", ("above", "above it"), ("above",)),
         (1, False): ("below", ("below", "below it", "under it"), ("below", "under"))}


def ask_relation(rng, objs):
    pairs = [(i, j, ax) for i in range(len(objs)) for j in range(len(objs)) for ax in (0, 1)
             if i != j and separated(objs[i], objs[j], ax)]
    rng.shuffle(pairs)
    for i, j, ax in pairs:
        da = [a for a in _DESC if unique(objs, i, a)]
        db = [a for a in _DESC if unique(objs, j, a)]
        if da and db:
            break
    else:
        return None
    a, b = objs[i], objs[j]
    pa, pb = phrase(rng, a, rng.choice(da)), phrase(rng, b, rng.choice(db))
    if pa == pb:
        return None
    first = _centre(a, ax) < _centre(b, ax)  # a has the smaller centre: left of / above b
    form = rng.choices(("dir", "which", "yes"), (6, 2, 2))[0]
    if form == "dir":
        t = pick(rng, "rel_lr" if ax == 0 else "rel_ab")
        answer, ds, dofs = _DIRS[(ax, first)]
        d, d_of = rng.choice(ds), rng.choice(dofs)
        if "higher or lower" in t:
            d, d_of = ("higher", "higher than") if first else ("lower", "lower than")
        opts = ("left", "right") if ax == 0 else ("above", "below")
        return QA([Text(vary(rng, cap(t.format(a=pa, b=pb))))],
                  pair_pointing(rng, "dir", (a, b), d=d, d_of=d_of, a=pa, b=pb), answer, opts, ask="relation")
    if form == "which":
        t, tax, smaller, adj = pick(rng, "rel_which", lambda w: w[1] == ax)
        if rng.random() < 0.5:  # either object may be named first
            pa, pb, first, a, b = pb, pa, not first, b, a
        win = pa if first == smaller else pb
        return QA([Text(vary(rng, cap(t.format(a=pa, b=pb))))],
                  pair_pointing(rng, "which", (a, b), t=win, adj=adj), win, (pa, pb), ask="relation")
    t, tax, smaller = pick(rng, "rel_yes", lambda w: w[1] == ax)
    yes = first == smaller
    return QA([Text(vary(rng, cap(t.format(a=pa, b=pb))))],
              pair_pointing(rng, "yes", (a, b), a=pa, b=pb, yn="yes" if yes else "no"),
              "yes" if yes else "no", ("yes", "no"), ask="relation")


def pair_pointing(rng, key, pair, **kw) -> list:
    """A relation's reply points at both objects, then answers from their two boxes (one draw of
    the rng, as reply() makes)."""
    lead, mid, tail = rng.choice(PAIR_POINT[key])
    a, b = pair
    return ([Text(cap(lead.format(**kw)))] if lead else []) + [Region(0, a.box), Text(mid.format(**kw)),
                                                               Region(0, b.box), Text(tail.format(**kw))]


def ask_size(rng, objs, form=None, target=None):
    form = form or rng.choice(("extreme", "bigsmall", "compare"))
    if form == "extreme":
        ranks = [_RANK[o.size] for o in objs]
        pairs = {(o.colour, o.label) for o in objs}
        if len(objs) < 2 or len(pairs) < len(objs):
            return None
        top, bottom = max(ranks), min(ranks)
        cands = [(i, "large") for i, r in enumerate(ranks) if r == top and ranks.count(top) == 1]
        cands += [(i, "small") for i, r in enumerate(ranks) if r == bottom and ranks.count(bottom) == 1]
        cands = [c for c in cands if target is None or c[0] == target]
        if not cands:
            return None
        i, which = rng.choice(cands)
        most = rng.choice(("largest", "biggest")) if which == "large" else "smallest"
        names = tuple(f"{o.colour} {o.label}" for o in objs)
        return QA([Text(question(rng, "size_extreme", most=most))],
                  [Text(reply(rng, "extreme", t=names[i], most=most))], names[i], names, ask="size")
    if form == "bigsmall":
        c = [(i, a) for i, o in enumerate(objs) if o.size != "medium" and (target is None or i == target)
             for a in (("shape",), ("colour", "shape")) if unique(objs, i, a)]
        if not c:
            return None
        i, attrs = rng.choice(c)
        o = objs[i]
        word = (rng.choice(("big", "large")) if o.size == "large" else "small")
        return QA([Text(question(rng, "size_bigsmall", obj=phrase(rng, o, attrs)))],
                  [Text(reply(rng, "bigsmall", s=word))], "big" if o.size == "large" else "small",
                  ("big", "small"), ask="size")
    c = [(i, j) for i in range(len(objs)) for j in range(len(objs))
         if objs[i].size != objs[j].size and (target is None or target in (i, j))]
    rng.shuffle(c)
    for i, j in c:
        da = [a for a in (("shape",), ("colour", "shape")) if unique(objs, i, a)]
        db = [a for a in (("shape",), ("colour", "shape")) if unique(objs, j, a)]
        if da and db:
            break
    else:
        return None
    t = pick(rng, "size_compare")
    bigger = _RANK[objs[i].size] > _RANK[objs[j].size]
    yes = bigger != ("smaller" in t)
    q = vary(rng, cap(t.format(a=phrase(rng, objs[i], rng.choice(da)), b=phrase(rng, objs[j], rng.choice(db)))))
    return QA([Text(q)], [Text(reply(rng, "yes" if yes else "no"))], "yes" if yes else "no", ("yes", "no"),
              ask="size")


def ask_exists(rng, objs, want=None):
    yes = rng.random() < 0.5 if want is None else want
    form = rng.choices(("combo", "shape", "colour"), (6, 2, 2))[0]
    have = {(o.colour, o.label) for o in objs}
    if form == "combo":
        if yes:
            o = rng.choice(objs)
            c, s = o.colour, o.label
        else:  # mostly a near miss: a colour or shape that is there, on another shape or colour
            o = rng.choice(objs) if objs and rng.random() < 0.7 else None
            for _ in range(30):
                c = o.colour if o and rng.random() < 0.5 else rng.choice(COLOURS)
                s = o.label if o and c != o.colour else rng.choice(SHAPES)
                if (c, s) not in have:
                    break
            else:
                return None
        y = f"{c} {s}"
        q = question(rng, "exists", x=article(y))
    elif form == "shape":
        pool = [o.label for o in objs] if yes else [s for s in SHAPES if s not in {o.label for o in objs}]
        if not pool:
            return None
        y = rng.choice(pool)
        q = question(rng, "exists", x=article(y))
    else:
        pool = [o.colour for o in objs] if yes else [c for c in COLOURS if c not in {o.colour for o in objs}]
        if not pool:
            return None
        c = rng.choice(pool)
        y = f"{c} shape"
        q = question(rng, "exists_colour", col=c)
    a = reply(rng, "exists_yes" if yes else "exists_no", x=article(y), y=y)
    if checks(rng) and objs:
        return QA([Text(q)], checked_exists(objs, y, yes, o if form == "combo" else None, a),
                  "yes" if yes else "no", ("yes", "no"), ask="exists")
    return QA([Text(q)], [Text(a)], "yes" if yes else "no", ("yes", "no"), ask="exists")


def checked_exists(objs, y: str, yes: bool, near, said: str) -> list:
    """"Is there a red star?" answered by pointing at the likeliest object and saying what it is
    first: the red star itself, or the near miss the question was made from (a red square, a blue
    star), else the first object in reading order ("[0] is a blue star, not a red star. No, ...").
    The own model answered "is there" at 59% (chance 50%) while it found a named object 91% of the
    time: the answer then rests on reading the one object the box holds (trained with it, 8,100
    samples: 76%; TRAINING.md, the seventeenth)."""
    words = y.split()
    fits = lambda o: all(w in (o.colour, o.label) or w == "shape" for w in words)
    o = min((o for o in objs if fits(o)), key=_reading_order) if yes else near or min(objs, key=_reading_order)
    what = f" is {article(f'{o.colour} {o.label}')}"
    return [Region(0, o.box), Text(f"{what}. {said}" if yes else f"{what}, not {article(y)}. {said}")]


def ask_refer(rng, objs, target=None):
    got = _pick(rng, objs, _DESC + (("colour",),), target)
    if not got:
        return None
    o = objs[got[0]]
    obj = phrase(rng, o, got[1])
    before, after = rng.choice(REFER_REPLY)
    parts = ([Text(before.format(obj=obj))] if before else []) + [Region(0, o.box)] + \
            ([Text(after)] if after else [])
    return QA([Text(question(rng, "refer", obj=obj))], parts, "", (), o.box, ask="refer")


def loose(rng, box, grow=(0.12, 0.12, 0.12, 0.12)):
    """A region as people draw one round an object: each side (left, top, right, bottom) grown by up
    to its share of the box's width or height, within the image."""
    w, h = box[2] - box[0], box[3] - box[1]
    return (max(0.0, box[0] - rng.uniform(0, grow[0]) * w), max(0.0, box[1] - rng.uniform(0, grow[1]) * h),
            min(1.0, box[2] + rng.uniform(0, grow[2]) * w), min(1.0, box[3] + rng.uniform(0, grow[3]) * h))


def ask_region(rng, objs):
    order = list(range(len(objs)))
    rng.shuffle(order)
    for i in order:
        r = loose(rng, objs[i].box)  # keep others out of it
        if all(_inside(objs[j].box, r) < 0.1 for j in range(len(objs)) if j != i):
            break
    else:
        return None
    o = objs[i]
    pre, post = pick(rng, "region")
    if rng.random() < 0.1:
        pre, post = pre.lower(), post.lower()
    q = ([Text(pre)] if pre else []) + [Region(0, r)] + ([Text(post)] if post else [])
    x = article(f"{o.colour} {o.label}")
    return QA(q, [Text(reply(rng, "region", x=x))], f"{o.colour} {o.label}", (), r, ask="region")


def _inside(box, region) -> float:
    """Share of box's area inside region."""
    ix = max(0.0, min(box[2], region[2]) - max(box[0], region[0]))
    iy = max(0.0, min(box[3], region[3]) - max(box[1], region[1]))
    return ix * iy / max(1e-9, (box[2] - box[0]) * (box[3] - box[1]))


def ask_describe(rng, objs):
    if not 1 <= len(objs) <= 4 or len({(o.colour, o.label) for o in objs}) < len(objs):
        return None
    objs = sorted(objs, key=lambda o: _centre(o, 0))
    lead = rng.choice(DESCRIBE_LEAD)
    parts, text = [], lead
    for k, o in enumerate(objs):
        if k:
            if len(objs) == 2 and separated(objs[0], o, 0) and rng.random() < 0.4:
                text += rng.choice((" left of ", " to the left of "))
            else:
                text += " and " if k == len(objs) - 1 else ", "
        text += article(f"{o.colour} {o.label}") + " "
        parts += [Text(cap(text) if k == 0 else text), Region(0, o.box)]
        text = ""
    parts.append(Text("."))
    return QA([Text(question(rng, "describe"))], parts, "", (), ask="describe")


def ask_read(rng, objs, info):
    o = objs[[k for k, p in enumerate(objs) if p.kind == "word"][info["target"]]]
    if info["layout"] == "two_signs":
        q, key = question(rng, "read_colour_sign", col=info["sign"]), "read_sign"
    elif info.get("shape") and rng.random() < 0.5:
        q, key = question(rng, "read_beside", obj=info["shape"]), "read"
    elif info["layout"] == "sign" and rng.random() < 0.6:
        q, key = question(rng, "read_sign"), "read_sign"
    elif info["number"] and rng.random() < 0.6:
        q, key = question(rng, "read_number"), "read_number"
    else:
        q, key = question(rng, "read"), "read"
    if info["number"] and key == "read":
        key = "read_number"
    return QA([Text(q)], [Text(reply(rng, key, w=o.label))], o.label, info["options"], ask="read")


def ask_chart(rng, bars):
    high = rng.random() < 0.6
    pick = max(bars, key=lambda b: b.value) if high else min(bars, key=lambda b: b.value)
    most = rng.choice(("highest", "tallest", "largest")) if high else rng.choice(("lowest", "shortest", "smallest"))
    # point at the bar, then say its label (the OCR's words carry their boxes): which bar is
    # tallest is learnt as a box, not only through the one label token
    return QA([Text(question(rng, "chart_high" if high else "chart_low"))],
              pointing(rng, "chart", pick, l=pick.label, most=most), pick.label,
              tuple(b.label for b in bars), ask="chart")


def ask_chart_label(rng, bars, skip=()):
    """A bar given as a region (drawn loosely, as people do), its label asked: the bar's box and the
    word box under it (the OCR's) are matched, which the pointing chart replies need after the box.
    skip: labels asked about before (in one conversation, the bars asked differ)."""
    b = rng.choice([o for o in bars if o.label not in skip] or bars)
    r = loose(rng, b.box, (0.08, 0.08, 0.08, 0.04))  # the bottom barely: the label lies under it
    pre, post = pick(rng, "chart_label")
    q = ([Text(pre)] if pre else []) + [Region(0, r)] + ([Text(post)] if post else [])
    return QA(q, [Text(reply(rng, "chart_label", l=b.label))], b.label, tuple(o.label for o in bars), r,
              ask="chart_label")


def ask_chart_find(rng, bars):
    """A label given, its bar boxed: the other way round."""
    b = rng.choice(bars)
    return QA([Text(question(rng, "chart_find", l=b.label))], pointing(rng, "chart_find", b, l=b.label),
              b.label, tuple(o.label for o in bars), b.box, ask="chart_find")


ASKERS = {"colour": ask_colour, "shape": ask_shape, "count": ask_count, "relation": ask_relation,
          "size": ask_size, "exists": ask_exists, "refer": ask_refer, "region": ask_region,
          "describe": ask_describe}
