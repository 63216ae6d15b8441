"""Documents: read a PDF or scans once (text layer or OCR, word boxes, page labels), split its pages
into passages, find the passages that answer a question (BM25, then a small embedding model),
ask the model with those passages, and show them as the answer's evidence."""
from .cite import CitedWord, cite_boxes, cite_events, cite_passages, citations
from .index import MAX_BYTES, MAX_PAGES, open_document, read_document
from .pages import Document, Page, Word
from .passages import Passage, passages, split_page
from .prompt import build_messages
from .quote import Quote, as_shown, grounded, quote_for
from .render import render_page, thumbnail
from .retrieve import Hit, retrieve, retrieve_passages, score_pages

index_file = open_document

__all__ = ["open_document", "read_document", "index_file", "Document", "Page", "Word", "Passage", "passages",
           "split_page", "retrieve", "retrieve_passages", "Hit", "score_pages", "build_messages", "render_page",
           "quote_for", "grounded", "as_shown", "Quote", "thumbnail", "cite_boxes", "cite_events", "cite_passages",
           "citations", "CitedWord", "MAX_PAGES", "MAX_BYTES"]
