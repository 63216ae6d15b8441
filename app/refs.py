"""Pointing at `[k]` (a box) or `[pN]` (a page) in the last answer, or clicking a citation card: the Chatbot's own select
event only says which message was clicked, not which word, so a small script finds the reference
under the pointer (hover or click) and sends it through a custom event of an invisible gr.HTML.
The handler redraws the boxes panel with that box emphasised."""
from __future__ import annotations

import gradio as gr

# `props.value` is what the event sends; `trigger('pick')` fires it. The listeners live on the
# document (the chat re-renders its messages while streaming) and are installed once per page.
PICK_JS = r"""
const REF = /\[(p?\d+)\]/g;
function refAt(x, y) {
  const bots = document.querySelectorAll('#chatbot .message.bot');
  const last = bots[bots.length - 1];
  const hit = document.elementFromPoint(x, y);
  if (!last || !hit || !last.contains(hit)) return null;
  const caret = document.caretRangeFromPoint(x, y);
  const node = caret && caret.startContainer;
  if (!node || node.nodeType !== Node.TEXT_NODE) return null;
  for (const m of node.textContent.matchAll(REF)) {
    const r = document.createRange();
    r.setStart(node, m.index);
    r.setEnd(node, m.index + m[0].length);
    for (const b of r.getClientRects())
      if (x >= b.left && x <= b.right && y >= b.top && y <= b.bottom) return m[1];
  }
  return null;
}
window.__vlPick = (ref) => {
  if (ref === window.__vlShown) return;
  window.__vlShown = ref;
  props.value = ref || '';
  trigger('pick');
};
if (!window.__vlRefsOn) {
  window.__vlRefsOn = true;
  document.addEventListener('click', (e) => {
    const card = e.target.closest && e.target.closest('.vl-card');
    const named = card && card.className.match(/vl-ref-(c\d+-\d+)/);
    if (named) { window.__vlShown = undefined; window.__vlPick(named[1]); return; }
    const ref = refAt(e.clientX, e.clientY);
    if (ref !== null) { window.__vlShown = undefined; window.__vlPick(ref); }
  });
  let queued = false;
  document.addEventListener('mousemove', (e) => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      const ref = refAt(e.clientX, e.clientY);
      // a card's page (its name starts with c) stays until another pick: it came by a click
      const hovered = window.__vlShown && !String(window.__vlShown).startsWith('c');
      if (ref !== null || hovered) window.__vlPick(ref);
    });
  });
}
"""


def ref_picker() -> gr.HTML:
    """The invisible component whose `pick` event carries the reference pointed at ("" when the
    pointer left it)."""
    return gr.HTML("", html_template="<span></span>", js_on_load=PICK_JS, elem_id="ref-picker",
                   container=False, padding=False)
