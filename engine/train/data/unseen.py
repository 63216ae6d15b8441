"""The held-out items again, asked in wordings training never uses (Q_UNSEEN: split "reworded"),
shown as worse copies of their drawings (blurred, JPEG-compressed, noisy, or shrunk and blown up
again: "restyled"), or both ("unseen"), so an evaluation can say, item for item, how much of a skill
is the templates and the clean pixels. Answers, boxes and scenes stay the held-out item's: a restyle
keeps the geometry. Training never draws these."""
from __future__ import annotations

import io
import random

import numpy as np
from PIL import Image as PILImage, ImageFilter

from ...api import Image, Message
from .records import png_bytes

# As long as wording.Q's lists, index for index: an unseen question is drawn as the held-out one is
# (same RNG draws, so the same item) and then takes the template at the same place here. Where a
# template carries meaning (rel_which/rel_yes fields, "smaller" in size_compare, "higher or lower" in
# rel_ab) the one here means the same; no template here is one of Q's (a test holds all of it).
Q_UNSEEN = {
    "colour": [
        "Which hue does the {obj} have?", "I wonder what colour the {obj} is.", "Could you say the {obj}'s colour?",
        "What colour would you call the {obj}?", "In what colour is the {obj} drawn?",
        "Tell me the {obj}'s colour, please.", "What colour has the {obj} got?", "Say which colour the {obj} is.",
        "The {obj}: which colour?", "What is the {obj} coloured in?", "Do you know what colour the {obj} is?",
        "Which colour was used for the {obj}?",
    ],
    "shape": [
        "What sort of shape is the {obj}?", "Could you tell me the {obj}'s shape?",
        "What geometric figure is the {obj}?", "Which figure is the {obj}?", "What shape would you call the {obj}?",
        "Describe the shape of the {obj} in one word.", "What does the {obj} look like, shape-wise?",
        "Which shape has been drawn as the {obj}?", "The {obj}: what shape?", "What outline does the {obj} have?",
        "Can you name the {obj}'s shape?",
    ],
    "count": [
        "What's the count of {things}?", "How many {things} appear here?",
        "Could you count how many {things} there are?", "How many {things} are drawn?",
        "Give me the number of {things}.", "How many {things} does this picture show?",
        "How many {things} are visible?", "Count up the {things}, please.", "How many {things} altogether?",
        "What number of {things} can be seen?", "I need the number of {things}.", "How many {things} are present?",
    ],
    "rel_lr": [
        "Would you say the {a} is left or right of the {b}?",
        "Compared with the {b}, is the {a} on its left or its right side?", "Is the {a} placed left or right of the {b}?",
        "Seen from the {b}, is the {a} to its left or right?", "Does the {a} lie left or right of the {b}?",
        "Left side or right side: where is the {a}, relative to the {b}?",
        "Is the {a} found on the left or on the right of the {b}?",
    ],
    "rel_ab": [
        "Would you say the {a} is above or below the {b}?", "Compared with the {b}, is the {a} above it or below it?",
        "Does the {a} sit higher or lower than the {b}?", "Seen from the {b}, is the {a} above or below?",
        "Is the {a} placed above or below the {b}?", "Does the {a} lie above or below the {b}?",
    ],
    "rel_which": [
        ("Of the {a} and the {b}, which sits higher?", 1, True, "higher"),
        ("Of the {a} and the {b}, which sits lower?", 1, False, "lower"),
        ("Which is closer to the left edge, the {a} or the {b}?", 0, True, "closer to the left edge"),
        ("Which is closer to the right edge, the {a} or the {b}?", 0, False, "closer to the right edge"),
        ("Which one is closer to the top of the picture, the {a} or the {b}?", 1, True, "closer to the top"),
        ("Which of the two is on the left side: the {a} or the {b}?", 0, True, "on the left side"),
    ],
    "rel_yes": [
        ("Does the {a} sit to the left of the {b}?", 0, True), ("Does the {a} sit to the right of the {b}?", 0, False),
        ("Does the {a} sit above the {b}?", 1, True), ("Does the {a} sit below the {b}?", 1, False),
        ("Would you say the {a} is on the left of the {b}?", 0, True), ("Is the {a} lower down than the {b}?", 1, False),
    ],
    "size_extreme": [
        "Which shape here is the {most}?", "Of all the shapes, which is the {most}?", "Point out the {most} shape.",
        "What's the {most} shape you can see?", "Which object here is the {most} one?", "Name the {most} object.",
        "What is the {most} thing drawn?", "Which figure is the {most}?",
    ],
    "size_bigsmall": [
        "Would you call the {obj} big or small?", "Is the {obj} drawn big or small?", "Does the {obj} look small or large?",
        "Big or small: how is the {obj} drawn?", "Is the {obj} a small one or a large one?",
    ],
    "size_compare": [
        "Does the {a} look bigger than the {b}?", "Is the {a} drawn larger than the {b}?",
        "Does the {a} look smaller than the {b}?", "Is the {a} the larger one, compared with the {b}?",
    ],
    "exists": [
        "Does {x} appear in the picture?", "Is {x} visible?", "Would I find {x} in this image?", "Has the image got {x}?",
        "Is {x} drawn here?", "Does this picture include {x}?", "Can {x} be seen?", "Is there {x} drawn anywhere?",
        "Do I see {x} here?", "Does the picture show {x}?",
    ],
    "exists_colour": [
        "Does anything here look {col}?", "Is some shape in the picture {col}?", "Is anything drawn in {col}?",
        "Any {col} shapes?", "Is a {col} object present?",
    ],
    "refer": [
        "Where exactly is the {obj}?", "Could you box the {obj}?", "Put a box around the {obj}.",
        "Which part of the image holds the {obj}?", "Draw a box on the {obj}.", "I'm looking for the {obj}. Where is it?",
        "Where has the {obj} been drawn?", "Please outline the {obj}.", "Show where the {obj} is.",
        "Box the {obj}, please.", "Whereabouts is the {obj}?", "Mark where the {obj} is.",
    ],
    "region": [
        ("What can be seen in ", "?"), ("Which object is inside ", "?"), ("What's shown at ", "?"),
        ("Look at ", ". What is it?"), ("What thing is in ", "?"), ("What lies in ", "?"), ("Tell me about ", "."),
        ("What is drawn at ", "?"), ("Which shape is in ", "?"), ("What do we have at ", "?"),
        ("", " What's this?"), ("", " What is drawn here?"),
    ],
    "describe": [
        "What's going on in this picture?", "Can you describe the picture for me?", "Please describe the scene.",
        "What does the picture show?", "Summarise the image.", "What's in this picture?", "Describe the scene briefly.",
        "What is drawn in the image?", "Tell me about this image.", "What are the objects in the image?",
        "What can you see here?", "Give me a description of the scene.",
    ],
    "read": [
        "What is the writing?", "Which word is printed here?", "What does the writing say?", "Please read the text out.",
        "What's written in the picture?", "What word is printed in the image?", "Read out the word.",
        "What is the printed word?", "Can you read what is written?", "Write down the text you see.",
        "What do the letters say?", "Which word can you read?",
    ],
    "read_sign": [
        "What is printed on the sign?", "Which word does the sign show?", "Tell me the sign's text.",
        "What text is on the sign?", "What is the label's word?",
    ],
    "read_colour_sign": [
        "What is printed on the {col} sign?", "Which word does the {col} sign show?", "Tell me the text on the {col} sign.",
        "What text is on the {col} sign?", "What does the {col} label read?",
    ],
    "read_beside": [
        "Which word is written near the {obj}?", "What text is next to the {obj}?",
        "What does the word beside the {obj} say?", "Read the text by the {obj}.",
    ],
    "read_number": [
        "Which number is printed here?", "What's the number in the picture?", "Please read out the number.",
        "What number is written in the image?", "Which number can you read?",
    ],
    "chart_high": [
        "Which bar in the chart is the biggest?", "Which category comes out on top?", "Which label has the tallest bar?",
        "What is the top category in this chart?", "Which bar has the greatest value?", "Which label scores highest?",
        "Which category leads the chart?", "What's the biggest bar's label?",
    ],
    "chart_low": [
        "Which bar in the chart is the smallest?", "Which category comes out at the bottom?",
        "Which label has the shortest bar?", "What is the lowest category in this chart?",
        "Which bar has the least value?", "Which label scores lowest?", "Which category trails the chart?",
        "What's the smallest bar's label?",
    ],
    "chart_label": [
        ("Which label belongs to the bar ", "?"), ("What category does the bar ", " show?"),
        ("Tell me the bar ", "'s label."), ("What's the name of the bar ", "?"), ("Read the label of bar ", "."),
        ("", " What is this bar called?"),
    ],
    "chart_find": [
        "Which one is the {l} bar?", "Box the bar of {l}.", "Where's {l} in the chart?",
        "Show me where {l} is.", "Locate the {l} bar.", "Highlight the bar labelled {l}.",
    ],
    "two_more": [
        "Which of the pictures shows more {things}?", "More {things}: first image or second?",
        "Which image has the larger number of {things}?", "Which picture holds more {things}?",
        "Are there more {things} in the first or the second image?", "Which image has the most {things}?",
    ],
    "two_fewer": [
        "Which of the pictures shows fewer {things}?", "Fewer {things}: first image or second?",
        "Which image has the smaller number of {things}?", "Which picture holds fewer {things}?",
    ],
    "two_where": [
        "Which of the images shows the {obj}?", "Is the {obj} in the first or the second picture?",
        "Which picture is {x} in?", "The {obj}: first image or second?", "In which of the pictures is {x} drawn?",
        "Which image has {x} in it?", "Where do you find the {obj}, first or second image?",
    ],
}


class UnseenRandom(random.Random):
    """The RNG of the reworded splits: wording.pick takes its templates from here."""
    q = Q_UNSEEN


# evaluation-only splits of the held-out items: (other wordings, worse pixels)
SPLITS = {"reworded": (True, False), "restyled": (False, True), "unseen": (True, True)}


def _blur(rng, img):
    return img.filter(ImageFilter.GaussianBlur(rng.uniform(0.8, 1.5)))


def as_jpeg(img, quality: int):
    """The image saved as JPEG at this quality and read back."""
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality)
    return PILImage.open(io.BytesIO(buf.getvalue())).convert("RGB")


def _jpeg(rng, img):
    return as_jpeg(img, rng.randint(15, 35))


def _noise(rng, img):
    a = np.asarray(img, np.float32)
    a = a + np.random.default_rng(rng.getrandbits(32)).normal(0, rng.uniform(8, 16), a.shape)
    return PILImage.fromarray(np.clip(a, 0, 255).astype(np.uint8))


def _low_res(rng, img):
    f = rng.uniform(0.4, 0.6)
    small = img.resize((max(8, round(img.width * f)), max(8, round(img.height * f))), PILImage.BILINEAR)
    return small.resize(img.size, PILImage.BILINEAR)


RESTYLES = {"blur": _blur, "jpeg": _jpeg, "noise": _noise, "low_res": _low_res}


def restyle(rng, img):
    """One or two of the restyles, in a random order; the size and geometry stay."""
    for name in rng.sample(sorted(RESTYLES), rng.choice((1, 1, 2))):
        img = RESTYLES[name](rng, img)
    return img


def restyled(sample, seed: str, how=None):
    """The sample with every image restyled (the messages' PNGs and the scenes' images alike), by
    `how(rng, image)` (default: restyle)."""
    rng = random.Random(seed)
    how = how or restyle
    new = {}
    for scene in sample.scenes:
        clean = png_bytes(scene.image)
        scene.image = how(rng, scene.image)
        new[clean] = png_bytes(scene.image)
    msgs = []
    for m in sample.messages:
        if any(isinstance(p, Image) and p.source not in new for p in m.parts):
            raise ValueError(f"{sample.skill}: an image that is none of the scenes'")
        parts = [Image(new[p.source]) if isinstance(p, Image) else p for p in m.parts]
        msgs.append(Message(m.role, parts))
    sample.messages = msgs
    return sample
