"""More ways to ask, for training only: the training stream's RNG (TrainRandom) sometimes takes its
question from here instead of wording.Q. The held-out and unseen items never draw these (their RNGs
carry none, and draw nothing more), so they stay the same items; none of these is one of Q's or of
the unseen split's (a test holds it). A model that meets more wordings leans less on the templates:
the unseen split's other wordings cost refer and region 6-10 points (TRAINING.md)."""
from __future__ import annotations

import random

SHARE = 0.35   # of the questions that have templates here

Q_TRAIN = {
    "colour": [
        "What colour can you see on the {obj}?", "Which colour does the {obj} show?", "What is the {obj}'s colour?",
        "Identify the colour of the {obj}.", "What colour is used for the {obj}?", "Look at the {obj}. What colour is it?",
        "Give the colour of the {obj}.", "What colour is that {obj}?", "The {obj}'s colour is?",
        "What colour is the {obj} in this image?",
    ],
    "shape": [
        "What shape does the {obj} have?", "What is the {obj} shaped like?", "Which shape does the {obj} show?",
        "Look at the {obj}. What shape is it?", "Give the shape of the {obj}.", "What shape is that {obj}?",
        "What kind of figure is the {obj}?", "The {obj}'s shape is?", "Name the {obj}'s shape.",
        "What shape is the {obj} in this image?",
    ],
    "count": [
        "How many {things} are here?", "How many {things} can be counted?", "Count how many {things} you see.",
        "What's the number of {things} in the image?", "How many {things} are in the scene?",
        "Can you count the {things}?", "How many {things} are there in this image?", "Please count the {things}.",
        "How many {things} does it show?", "The number of {things}, please.",
    ],
    "rel_lr": [
        "Is the {a} located left or right of the {b}?", "Left or right of the {b}: where is the {a}?",
        "Which side of the {b} is the {a} on, left or right?", "Is the {a} positioned left or right of the {b}?",
        "On which side of the {b} is the {a}: left or right?", "Looking at the {b}, is the {a} on its left or right?",
    ],
    "rel_ab": [
        "Is the {a} located above or below the {b}?", "Above or below the {b}: where is the {a}?",
        "Is the {a} positioned above or below the {b}?", "Is the {a} above the {b} or beneath it?",
        "Looking at the {b}, is the {a} above it or below it?",
    ],
    "rel_which": [
        ("Which sits further up, the {a} or the {b}?", 1, True, "further up"),
        ("Which sits further down, the {a} or the {b}?", 1, False, "further down"),
        ("Which one is more to the left: the {a} or the {b}?", 0, True, "more to the left"),
        ("Which one is more to the right: the {a} or the {b}?", 0, False, "more to the right"),
        ("Which is nearer the bottom, the {a} or the {b}?", 1, False, "nearer the bottom"),
        ("Which one is on the right, the {a} or the {b}?", 0, False, "on the right"),
    ],
    "rel_yes": [
        ("Is the {a} on the left side of the {b}?", 0, True), ("Is the {a} on the right side of the {b}?", 0, False),
        ("Is the {a} higher up than the {b}?", 1, True), ("Is the {a} beneath the {b}?", 1, False),
        ("Is the {a} placed left of the {b}?", 0, True), ("Is the {a} over the {b}?", 1, True),
    ],
    "size_extreme": [
        "Which is the {most} object here?", "What is the {most} shape in the image?", "Which thing is the {most}?",
        "Find the {most} shape.", "Tell me the {most} shape.", "What's the {most} object in the picture?",
    ],
    "size_bigsmall": [
        "Would the {obj} count as big or small?", "Is the {obj} a big one or a small one?",
        "What size is the {obj}: big or small?", "Big or small, the {obj}?",
    ],
    "exists": [
        "Is there {x} here?", "Does the image contain {x}?", "Do you notice {x}?", "Is {x} in the picture?",
        "Can {x} be found in the image?", "Does this image show {x}?", "Is {x} present?", "Any sign of {x}?",
    ],
    "exists_colour": [
        "Is anything {col} here?", "Do you see any {col} shape?", "Are there any {col} objects?",
        "Is a {col} thing in the image?",
    ],
    "refer": [
        "Where's the {obj} located?", "Can you show me the {obj}?", "Please find the {obj}.", "Indicate the {obj}.",
        "Where do you see the {obj}?", "Find the {obj} in the picture.", "Show the {obj}.", "Locate the {obj} for me.",
        "Where in the picture is the {obj}?", "Give me the location of the {obj}.", "Which one is the {obj}?",
        "Point out the {obj}.",
    ],
    "region": [
        ("What is located at ", "?"), ("What's in region ", "?"), ("Which thing is in ", "?"),
        ("What object sits in ", "?"), ("Identify what is in ", "."), ("Describe what is in ", "."),
        ("What is inside the box ", "?"), ("Name what is at ", "."), ("", " What is it?"), ("", " Which object is this?"),
    ],
    "describe": [
        "Describe everything you see.", "What objects can you see?", "List what is in the image.",
        "Describe the picture briefly.", "What is in this image?", "Tell me what you see.",
        "Can you describe this image?", "What does the picture contain?",
    ],
    "read": [
        "What does the text in the image say?", "What word is shown here?", "Read what is written.",
        "What is the word in the image?", "Tell me the word.", "Which text do you see?", "What's the word?",
        "Read this word.",
    ],
    "read_sign": ["What does this sign read?", "Read the text on the sign.", "What's on the sign?",
                  "What word does the sign have?"],
    "read_number": ["What number can you see?", "Which number is written?", "Tell me the number.", "What's the number?"],
    "chart_high": [
        "Which bar is biggest?", "Which category has the tallest bar?", "What is the highest bar?",
        "Which bar reaches highest?", "Which category has the highest value?", "Which bar stands tallest?",
    ],
    "chart_low": [
        "Which bar is smallest?", "Which category has the shortest bar?", "What is the lowest bar?",
        "Which category has the lowest value?", "Which bar stays lowest?",
    ],
    "two_more": ["Which image contains more {things}?", "Which of the images has more {things}?",
                 "In which picture are there more {things}?"],
    "two_where": ["Which image shows the {obj}?", "In which image is {x}?", "Which picture contains the {obj}?"],
}


class TrainRandom(random.Random):
    """The training stream's RNG: wording.pick may take a question from `extra`, and "is there"
    replies check an object by pointing (ask.py `checks`): a form only training draws, so the
    held-out conversations' earlier turns stay as they were. Its scenes are drawn in more hands
    (`hands`: palette.proportion, draw.Canvas and stroke_width, tasks.make_sample): wider
    proportions, some edges without anti-aliasing, thinner and thicker outlines, some images saved
    as a user's JPEG; the held-out split's RNGs carry none and stay the same items."""
    extra = Q_TRAIN
    checks = True
    hands = True


class NullRandom(TrainRandom):
    """The training stream for a pointer with a null (BoxHead.add_null): the same draws, and each
    count ends by pointing into nothing (ask.py `nulls`)."""
    nulls = True
