"""The project's own EE-MLLM: its trained parts ship as one safetensors under assets/; at first use
they are joined with the installed SmolLM2 GGUF into a LLaVA-layout folder that the torch engine
loads like any other checkpoint (ARCHITECTURE.md: "The own model")."""
from .build import PARTS_FILE, base_gguf, own_model_folder

__all__ = ["PARTS_FILE", "base_gguf", "own_model_folder"]
