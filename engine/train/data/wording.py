"""Question and answer phrasings: many per skill, picked and lightly varied (case, punctuation,
colour/color) by the RNG, so a model must read the question rather than learn one template."""
from __future__ import annotations

from .paraphrase import SHARE

Q = {
    "colour": [
        "What colour is the {obj}?", "What is the colour of the {obj}?", "Which colour is the {obj}?",
        "Tell me the colour of the {obj}.", "What colour does the {obj} have?", "The {obj} is what colour?",
        "Can you tell me what colour the {obj} is?", "Name the colour of the {obj}.",
        "What colour is the {obj} painted?", "Colour of the {obj}?", "How is the {obj} coloured?",
        "What's the colour of the {obj}?",
    ],
    "shape": [
        "What shape is the {obj}?", "What is the shape of the {obj}?", "Which shape is the {obj}?",
        "What kind of shape is the {obj}?", "Name the shape of the {obj}.", "What is the {obj}?",
        "Tell me what shape the {obj} is.", "The {obj} is which shape?", "Identify the shape of the {obj}.",
        "What's the {obj}'s shape?", "What form does the {obj} have?",
    ],
    "count": [
        "How many {things} are there?", "How many {things} are in the picture?",
        "How many {things} can you see?", "Count the {things}.", "What is the number of {things}?",
        "How many {things} does the image have?", "How many {things} do you see?",
        "Count the {things} in the image.", "Number of {things}?", "How many {things} are shown?",
        "Tell me how many {things} there are.", "How many {things} are in this image?",
    ],
    "rel_lr": [
        "Is the {a} left or right of the {b}?", "Is the {a} to the left or to the right of the {b}?",
        "Is the {a} on the left or the right of the {b}?", "Relative to the {b}, is the {a} left or right?",
        "Where is the {a} compared to the {b}: left or right?",
        "Left or right: where is the {a} relative to the {b}?", "Is the {a} left of the {b} or right of it?",
    ],
    "rel_ab": [
        "Is the {a} above or below the {b}?", "Is the {a} over or under the {b}?",
        "Is the {a} higher or lower than the {b}?", "Relative to the {b}, is the {a} above or below?",
        "Where is the {a}: above or below the {b}?", "Is the {a} above the {b} or below it?",
    ],
    # (template, axis 0=x 1=y, True when the answer is the one with the smaller centre, its word)
    "rel_which": [
        ("Which is higher, the {a} or the {b}?", 1, True, "higher"),
        ("Which is lower, the {a} or the {b}?", 1, False, "lower"),
        ("Which is further left, the {a} or the {b}?", 0, True, "further left"),
        ("Which is further right, the {a} or the {b}?", 0, False, "further right"),
        ("Which one is nearer the top: the {a} or the {b}?", 1, True, "nearer the top"),
        ("Which one is on the left, the {a} or the {b}?", 0, True, "on the left"),
    ],
    # (template, axis, True when "yes" means {a}'s centre is the smaller)
    "rel_yes": [
        ("Is the {a} to the left of the {b}?", 0, True), ("Is the {a} right of the {b}?", 0, False),
        ("Is the {a} above the {b}?", 1, True), ("Is the {a} below the {b}?", 1, False),
        ("Is the {a} left of the {b}?", 0, True), ("Is the {a} under the {b}?", 1, False),
    ],
    "size_extreme": [
        "Which is the {most} shape?", "Which shape is the {most}?", "Which object is the {most}?",
        "What is the {most} thing in the picture?", "Which shape is {most}?", "Name the {most} shape.",
        "What is the {most} object in the image?", "Which of the shapes is the {most}?",
    ],
    "size_bigsmall": [
        "Is the {obj} big or small?", "Is the {obj} large or small?", "Is the {obj} small or big?",
        "How big is the {obj}: big or small?", "Is the {obj} small or large?",
    ],
    "size_compare": [
        "Is the {a} bigger than the {b}?", "Is the {a} larger than the {b}?",
        "Is the {a} smaller than the {b}?", "Is the {a} of a bigger size than the {b}?",
    ],
    "exists": [
        "Is there {x}?", "Is there {x} in the image?", "Do you see {x}?", "Can you see {x}?",
        "Does the picture contain {x}?", "Is {x} shown?", "Does the image have {x}?",
        "Is there {x} anywhere?", "Is there {x} in this picture?", "Can you find {x} here?",
    ],
    "exists_colour": [
        "Is there anything {col}?", "Is there a {col} shape?", "Is any shape {col}?",
        "Do you see something {col}?", "Is anything in the image {col}?",
    ],
    "refer": [
        "Where is the {obj}?", "Show me the {obj}.", "Point to the {obj}.", "Find the {obj}.",
        "Locate the {obj}.", "Where's the {obj}?", "Can you find the {obj}?", "Mark the {obj}.",
        "Highlight the {obj}.", "Give the box of the {obj}.", "Where can I see the {obj}?",
        "Where is the {obj} in the image?",
    ],
    # region questions: the text before and after the Region part
    "region": [
        ("What is in region ", "?"), ("What's inside ", "?"), ("Describe the object at ", "."),
        ("What is at ", "?"), ("What object is in ", "?"), ("Name the thing in ", "."),
        ("What do you see in ", "?"), ("Tell me what is in ", "."), ("Identify the object in ", "."),
        ("What is shown in ", "?"), ("", " What is this?"), ("", " What's in this box?"),
    ],
    "describe": [
        "Describe the image.", "What do you see?", "What is in the picture?", "Describe this picture.",
        "What's in the image?", "List the shapes in the image.", "Tell me what the image shows.",
        "What does this image contain?", "Describe what you see.", "What objects are in the picture?",
        "Give a short description of the image.", "What is shown here?",
    ],
    "read": [
        "What word is written?", "Read the text.", "What is written here?", "What does it say?",
        "What text is in the image?", "Read the word in the picture.", "What word do you see?",
        "Which word is shown?", "Can you read the text?", "Transcribe the text.", "What does the text say?",
        "What is written in the image?",
    ],
    "read_sign": [
        "What does the sign say?", "What is written on the sign?", "Read the sign.",
        "What word is on the sign?", "What does the label say?",
    ],
    "read_colour_sign": [
        "What does the {col} sign say?", "What is written on the {col} sign?", "Read the {col} sign.",
        "What word is on the {col} sign?", "Which word is on the {col} label?",
    ],
    "read_beside": [
        "What word is next to the {obj}?", "What is written beside the {obj}?",
        "Which word is by the {obj}?", "Read the word near the {obj}.",
    ],
    "read_number": [
        "What number is written?", "What number do you see?", "Read the number.",
        "Which number is shown?", "What number is in the picture?",
    ],
    "chart_high": [
        "Which bar is the highest?", "Which bar is tallest?", "Which category has the largest value?",
        "Which label has the biggest bar?", "What has the highest value in the chart?",
        "Which is the tallest bar?", "Which category is the largest?", "Which item has the most?",
    ],
    "chart_low": [
        "Which bar is the lowest?", "Which bar is the shortest?", "Which category has the smallest value?",
        "Which item has the least?", "What has the lowest value in the chart?", "Which is the shortest bar?",
        "Which category is the smallest?", "Which label has the smallest bar?",
    ],
    # training only (chart_talk): a bar given as a region, its label asked; a label given, its bar asked
    "chart_label": [
        ("What is the label of the bar ", "?"), ("Which category is the bar ", "?"),
        ("What does the bar ", " stand for?"), ("Name the bar ", "."), ("What is written under the bar ", "?"),
        ("", " Which label is this bar?"),
    ],
    "chart_find": [
        "Where is the bar for {l}?", "Show the {l} bar.", "Point to the bar labelled {l}.",
        "Which bar is {l}?", "Find the bar for {l}.", "Mark the {l} bar.",
    ],
    "two_more": [
        "Which image has more {things}?", "Which picture has more {things}?",
        "In which image are there more {things}?", "Which of the two images contains more {things}?",
        "Which image shows more {things}?", "Where are there more {things}, in the first or the second image?",
    ],
    "two_fewer": [
        "Which image has fewer {things}?", "Which picture has fewer {things}?",
        "In which image are there fewer {things}?", "Which image shows fewer {things}?",
    ],
    "two_where": [
        "In which picture is the {obj}?", "Which image has the {obj}?", "Which image contains {x}?",
        "Where is the {obj}: first or second image?", "In which image can you see {x}?",
        "Which picture shows {x}?", "Which of the two pictures has {x}?",
    ],
}

A = {
    "colour": ["It is {a}.", "{a}.", "The {obj} is {a}.", "It's {a}.", "{a}."],
    "shape": ["{x}.", "It is {x}.", "It's {x}.", "The {obj} is {x}.", "{x}."],
    "count": ["{n}.", "{nw}.", "There are {nw} {things}.", "I count {n}.", "{n} {things}."],
    "count_one": ["1.", "One.", "There is one {thing}.", "Just one.", "I count 1."],
    "count_zero": ["None.", "Zero.", "There are no {things}.", "0.", "There are none."],
    "rel": ["{d}.", "It is {d}.", "{d_of} the {b}.", "The {a} is {d_of} the {b}.", "{d}."],
    "which": ["The {t}.", "The {t} is {adj}.", "It is the {t}.", "The {t}."],
    "yes": ["Yes.", "Yes, it is.", "Yes."],
    "no": ["No.", "No, it is not.", "No."],
    "extreme": ["The {t}.", "The {t} is the {most}.", "It is the {t}.", "The {t}."],
    "bigsmall": ["{s}.", "It is {s}.", "It's {s}.", "{s}."],
    "exists_yes": ["Yes.", "Yes, there is.", "Yes, there is {x}.", "Yes."],
    "exists_no": ["No.", "No, there isn't.", "No, there is no {y}.", "No."],
    "region": ["{x}.", "It is {x}.", "That's {x}.", "There is {x}.", "{x}."],
    "read": ['"{w}".', 'It says "{w}".', "{w}", 'The text reads "{w}".', "{w}."],
    "read_sign": ['"{w}".', 'The sign says "{w}".', "{w}", 'It says "{w}".'],
    "read_number": ["{w}.", "The number is {w}.", "{w}", "It says {w}."],
    "chart_label": ["{l}.", "It is {l}.", "That bar is {l}.", "The bar for {l}.", "{l}"],
    "two": ["The {o} image.", "The {o} one.", "In the {o} picture.", "The {o}.", "{O}."],
    "blank_thing": ["There is no {obj} in the image.", "I don't see {x}.",
                    "The image is empty: there is no {obj}.", "There is no {obj} here."],
    "blank_count": ["There are none.", "0.", "Zero.", "There are no {things}.", "None: the image is empty."],
    "blank_exists": ["No.", "No, the image is empty.", "No, there is no {y}.", "No."],
}
# reply parts around the box for "refer": (before, after); {obj} is filled in
REFER_REPLY = [("Here: ", ""), ("The {obj} ", "."), ("It is here ", "."), ("Found it: ", ""),
               ("The {obj} is at ", "."), ("Here it is ", "."), ("", "")]
# colour and shape replies point at the object before they answer (before, after the box): the
# answer then follows the object's box (and, with region reading, what the box covers)
POINT_REPLY = {
    "colour": [("The {obj} ", " is {a}."), ("That {obj} ", " is {a}."), ("The {obj} ", ": {a}."),
               ("The {obj} here ", " is {a}."), ("Here is the {obj} ", "; it is {a}.")],
    "shape": [("The {obj} ", " is {x}."), ("That {obj} ", " is {x}."), ("The {obj} ", ": {x}."),
              ("The {obj} here ", " is {x}."), ("Here is the {obj} ", "; it is {x}.")],
    # the asked bar, then its label; five, as the plain chart replies they replaced were
    "chart": [("", ": {l}."), ("Here: ", ", the bar for {l}."), ("The {most} bar ", " is {l}."), ("It is ", ": {l}."),
              ("The {most} one ", ": {l}.")],
    "chart_find": [("The {l} bar ", "."), ("Here: ", ""), ("The bar for {l} ", "."), ("It is this one ", ".")],
}
# count replies point at each one, then say the number: (before the boxes, after them)
COUNT_POINT = [("", ": {n}."), ("", ": {nw} {things}."), ("I see ", ": {nw}."), ("Here: ", ", {n} in all."),
               ("", " - {nw}.")]
# The same, ending after a pointer into nothing (drawn as nothing, after the last box's space).
COUNT_POINT_NULL = [("", "so {n}."), ("", "that is {nw} {things}."), ("I see ", "that is {nw}."),
                    ("Here: ", "{n} in all."), ("", "- {nw}.")]
# relation replies point at both objects, then answer: (before, between, after the boxes); "which"
# names neither (the answer names one of the two, and naming both would say both). Each list is as
# long as the A list it replaces (rng.choice's draws depend on the length): the held-out questions
# after a reply in a conversation stay the same items.
PAIR_POINT = {
    "dir": [("The {a} ", " and the {b} ", ": {d}."), ("The {a} ", ", the {b} ", ": the {a} is {d_of} the {b}."),
            ("Here are the {a} ", " and the {b} ", "; the {a} is {d_of} it."), ("", " ", ": {d}."),
            ("Looking at the {a} ", " and the {b} ", ": {d}.")],
    "which": [("", " ", ": the {t}."), ("", " ", ": the {t} is {adj}."), ("Comparing ", " and ", ": the {t}."),
              ("", " and ", ": the {t}.")],
    "yes": [("The {a} ", " and the {b} ", ": {yn}."), ("", " ", ": {yn}."), ("Looking at ", " and ", ", {yn}.")],
}
DESCRIBE_LEAD = ["", "I see ", "There is ", "The image shows ", "It shows "]
NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
                "ten", "eleven", "twelve")
FOLLOW_LEAD = ["", "", "And ", "Also, ", "Now: ", "OK. "]
_PREFIX = ["Please, ", "Quick question: ", "Hey, ", "Tell me: ", "Look at the image. "]


def cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def vary(rng, text: str) -> str:
    """A question as people type it: colour/color, sometimes lower case, no final mark, a prefix."""
    if rng.random() < 0.5:
        text = text.replace("colour", "color").replace("Colour", "Color")
    if rng.random() < 0.08:
        p = rng.choice(_PREFIX)
        text = p + (text[:1].lower() + text[1:] if p.endswith(" ") and not p.endswith(". ") else text)
    r = rng.random()
    if r < 0.12:
        text = text.lower()
    if rng.random() < 0.12 and text[-1:] in "?.":
        text = text[:-1]
    return text


def pick(rng, key: str, keep=None):
    """The RNG's choice among Q[key] (those `keep` accepts). An RNG that carries other templates (the
    unseen splits' UnseenRandom) gets the one at the same place among them: the same draws, so the
    rest of the item stays the held-out one. The training stream's (paraphrase.TrainRandom) takes a
    share of its questions from its extra templates; other RNGs draw nothing more."""
    i = rng.choice([i for i, t in enumerate(Q[key]) if keep is None or keep(t)])
    extra = [t for t in getattr(rng, "extra", {}).get(key, ()) if keep is None or keep(t)]
    if extra and rng.random() < SHARE:
        return rng.choice(extra)
    return getattr(rng, "q", Q)[key][i]


def question(rng, key: str, **kw) -> str:
    return vary(rng, cap(pick(rng, key).format(**kw)))


def reply(rng, key: str, **kw) -> str:
    t = rng.choice(A[key])
    # a word or label opening the reply keeps its printed case
    return t.format(**kw) if t.startswith(("{w}", "{l}")) else cap(t.format(**kw))
