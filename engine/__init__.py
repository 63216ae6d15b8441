"""Local inference engine. Importing this package is cheap: torch, llama_cpp and friends are
imported by a backend only when a model of that kind is loaded."""
from .api import (Box, Done, Engine, EngineError, EngineInfo, Event, GenParams, Image, Message,
                  NoBox, Region, Stats, Text, Token, collect)
from .backends import BACKENDS, load, pick_backend

__all__ = ["load", "pick_backend", "BACKENDS", "Message", "Text", "Image", "Region", "GenParams",
           "Token", "Box", "NoBox", "Stats", "Done", "Event", "Engine", "EngineInfo", "EngineError", "collect"]
