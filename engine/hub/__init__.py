"""Models from the Hugging Face hub (or any hub-compatible server, HF_ENDPOINT): the only part of
the project that uses the network, and only when the user asks for a pull. huggingface_hub is
imported when a pull starts, not with this package."""
from .errors import Cancelled, PullError
from .progress import Progress
from .pulling import default_models_dir, local_model, pull
from .spec import HubSpec, parse_spec

__all__ = ["pull", "local_model", "default_models_dir", "parse_spec", "HubSpec", "Progress",
           "PullError", "Cancelled"]
