"""Documents: read a PDF or scans once (text layer or OCR, word boxes), find the pages that answer
a question, ask the model with those pages, and box the words the answer took from them."""
from .cite import CitedWord, cite_boxes, cite_events, citations
from .index import MAX_BYTES, MAX_PAGES, open_document, read_document
from .pages import Document, Page, Word
from .prompt import build_messages
from .render import render_page, thumbnail
from .retrieve import retrieve, score_pages

index_file = open_document

__all__ = ["open_document", "read_document", "index_file", "Document", "Page", "Word", "retrieve", "score_pages",
           "build_messages", "render_page", "thumbnail", "cite_boxes", "cite_events", "citations", "CitedWord", "MAX_PAGES", "MAX_BYTES"]
