"""Text-only prompts, so training keeps the base model's chat: the answers come from the base
model itself (the training loop generates them); the expected substring checks plain facts."""
from __future__ import annotations

import random

_CAPITALS = {
    "France": "Paris", "Germany": "Berlin", "Italy": "Rome", "Spain": "Madrid", "Japan": "Tokyo",
    "England": "London", "Russia": "Moscow", "Egypt": "Cairo", "Greece": "Athens", "Canada": "Ottawa",
    "China": "Beijing", "Portugal": "Lisbon", "Austria": "Vienna", "Ireland": "Dublin", "Norway": "Oslo",
    "Sweden": "Stockholm", "Poland": "Warsaw", "Kenya": "Nairobi", "Peru": "Lima", "Cuba": "Havana",
}
_FACTS = [
    ("What colour is the sky on a clear day?", "blue"), ("What colour is grass?", "green"),
    ("What is the opposite of hot?", "cold"), ("What is the opposite of up?", "down"),
    ("What do bees make?", "honey"), ("What is frozen water called?", "ice"),
    ("Which planet do we live on?", "Earth"), ("What animal says moo?", "cow"),
    ("What is the largest ocean on Earth?", "Pacific"), ("What gas do plants take in?", "carbon"),
    ("Which star is closest to the Earth?", "Sun"), ("What is the plural of mouse?", "mice"),
    ("What language is spoken in Spain?", "Spanish"), ("Who wrote Romeo and Juliet?", "Shakespeare"),
]
_CHAT = [
    "Hello!", "Hi, how are you?", "Good morning!", "Can you help me?", "Thank you!",
    "Tell me a short joke.", "What can you do?", "Give me a tip for sleeping well.",
    "Write a one-line poem about the sea.", "Suggest a name for a cat.", "How do I boil an egg?",
    "Say something nice.", "What is a good breakfast?", "Give me three fruit names.",
]
_DEFINE = ["noun", "verb", "planet", "river", "triangle", "bicycle", "library", "volcano", "poem",
           "desert", "island", "muscle", "calendar", "recipe", "mountain", "computer"]
_ASK_CAPITAL = ["What is the capital of {c}?", "Which city is the capital of {c}?",
                "Name the capital of {c}.", "What's the capital city of {c}?"]
_ASK_SUM = ["What is {a} + {b}?", "What is {a} plus {b}?", "Calculate {a} + {b}.", "How much is {a} + {b}?"]
_ASK_DIFF = ["What is {a} - {b}?", "What is {a} minus {b}?", "Subtract {b} from {a}."]
_ASK_MUL = ["What is {a} times {b}?", "What is {a} x {b}?", "Multiply {a} by {b}."]
_ASK_DEF = ["What is a {w}?", "Define {w}.", "Explain what a {w} is in one sentence.",
            "What does the word {w} mean?"]


def one_prompt(rng) -> tuple[str, str]:
    kind = rng.choices(("capital", "math", "fact", "chat", "define"), (3, 3, 2, 2, 2))[0]
    if kind == "capital":
        c = rng.choice(sorted(_CAPITALS))
        return rng.choice(_ASK_CAPITAL).format(c=c), _CAPITALS[c]
    if kind == "math":
        op = rng.choice(("sum", "diff", "mul"))
        if op == "mul":
            a, b = rng.randint(2, 9), rng.randint(2, 9)
            return rng.choice(_ASK_MUL).format(a=a, b=b), str(a * b)
        a, b = rng.randint(2, 50), rng.randint(1, 30)
        if op == "diff":
            a, b = max(a, b), min(a, b)
            return rng.choice(_ASK_DIFF).format(a=a, b=b), str(a - b)
        return rng.choice(_ASK_SUM).format(a=a, b=b), str(a + b)
    if kind == "fact":
        return rng.choice(_FACTS)
    if kind == "chat":
        return rng.choice(_CHAT), ""
    return rng.choice(_ASK_DEF).format(w=rng.choice(_DEFINE)), ""


def text_prompts(n: int, seed: int = 0) -> list[tuple[str, str]]:
    """n (question, expected substring or "") pairs, deterministic by seed."""
    rng = random.Random(f"text:{seed}")
    return [one_prompt(rng) for _ in range(n)]
