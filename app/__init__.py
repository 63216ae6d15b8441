"""The chat app: a Gradio page over engine/ (never torch or llama_cpp directly)."""
import os

# No analytics, no version check phoning home: this app runs offline on the user's machine.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
