"""Training data generated on the fly: drawn scenes (shapes, printed words, bar charts, blank
images) with exact annotations, turned into chat Samples per skill, and their graders."""
from .grade import grade
from .palette import COLOURS, SHAPES, SIZES
from .records import Obj, Sample, Scene, iou
from .tasks import MIX, SKILLS, make_sample
from .text_chat import text_prompts
from .words import WORDS

__all__ = ["Sample", "Scene", "Obj", "make_sample", "SKILLS", "MIX", "grade", "text_prompts", "iou",
           "COLOURS", "SHAPES", "SIZES", "WORDS"]
