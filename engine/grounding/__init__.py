"""Boxes from text: other models' box markup parsed while streaming, mapped to the original image."""
from .formats import FORMATS, BoxFormat, format_for_model
from .geometry import (Frame, clip_box, original_to_padded, pad_offsets, padded_to_original,
                       smart_resize)
from .regions import region_text
from .stream import BoxTextStream, ground_stream

__all__ = ["BoxTextStream", "ground_stream", "FORMATS", "BoxFormat", "format_for_model", "Frame",
           "clip_box", "smart_resize", "pad_offsets", "padded_to_original", "original_to_padded", "region_text"]
