"""The GGUF backend (llama-cpp-python) and GGUF export of our checkpoints.

Importing this package is cheap; llama_cpp is imported only by `engine.load_gguf_engine`."""
