"""How the page looks: CSS, the theme, and the one script run at page load (narrow screens)."""
from __future__ import annotations

import gradio as gr

CSS = """
.vl-status { font-size: 0.9em; }
.vl-status table { width: 100%; margin-top: 4px; }
.vl-status td { padding: 1px 6px; border: none; }
.vl-status td:first-child { opacity: 0.7; white-space: nowrap; }
.vl-bar { width: 100%; height: 10px; display: block; margin-top: 6px; }
#chatbot progress { width: 100%; height: 10px; display: block; }
.vl-error { color: var(--error-text-color); }
.vl-ok { color: #0a8f4f; }
.vl-busy { color: #b25e00; }
#chat-list label, #chat-found label { overflow-wrap: anywhere; }  /* a long name without spaces */
/* the picked model's name wraps above the arrow instead of running under it */
#model-path input { text-overflow: ellipsis; padding-right: 28px; }
/* a document answer's citation cards: click one to see its passage boxed on its page */
.vl-cards { display: flex; flex-direction: column; gap: 6px; margin-top: 8px; }
.vl-card { border: 1px solid var(--border-color-primary); border-radius: 6px; padding: 6px 8px;
           font-size: 0.9em; cursor: pointer; }
.vl-card:hover { border-color: var(--color-accent); }
.vl-card mark { background: #ffe08a; color: inherit; padding: 0 1px; }
#busy-note { font-size: 0.85em; opacity: 0.85; }
/* below 700 px the open sidebar's toggle sat past the screen's edge */
@media (max-width: 700px) {
  .sidebar.open { width: min(320px, 85vw) !important; }
  .sidebar .toggle-button { z-index: 1000; }
}
"""

# At load: below ~700 px the sidebar would cover the chat, so it starts closed there; chat images
# and every other image (figures, gallery thumbnails: a button holding only an image is named by its
# alt) get their file name (the served file's base name, app/blobs.py named) as alt text, which
# Gradio 6.31 leaves empty, and the message box (label hidden) its accessible name.
PAGE_JS = """() => {
  const name = img => decodeURIComponent(img.src.split('?')[0].split('/').pop());
  const label = () => {
    document.querySelectorAll('img:not([alt]), img[alt=""]')  // chat, figures and galleries alike
      .forEach(img => { img.alt = name(img); });
    const box = document.querySelector('#message textarea');  // its label is hidden: named here
    if (box && !box.getAttribute('aria-label')) box.setAttribute('aria-label', 'Message');
  };
  label();
  new MutationObserver(label).observe(document.body, {subtree: true, childList: true, attributes: true,
                                                      attributeFilter: ['src']});
  if (window.innerWidth >= 700) return;
  const bar = document.querySelector('.sidebar.open');
  const toggle = bar && bar.querySelector('.toggle-button');
  if (toggle) toggle.click();
}"""

# System fonts only: the app works offline, so nothing is fetched from a font server.
THEME = gr.themes.Soft(font=["ui-sans-serif", "system-ui", "sans-serif"],
                       font_mono=["ui-monospace", "monospace"])
