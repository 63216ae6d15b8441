"""The chat app: a Gradio page over engine/ (never torch or llama_cpp directly)."""
import os

# No analytics, no version check phoning home: this app runs offline on the user's machine.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
# huggingface_hub (under gradio and transformers) otherwise looks up an "agent" list on huggingface.co
# when it builds request headers: a pull (engine.hub) is the only network use, and only when asked.
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
