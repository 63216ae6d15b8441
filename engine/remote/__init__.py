"""The `openai` backend: any OpenAI-compatible server (vLLM, SGLang, llama.cpp) reached over HTTP."""
