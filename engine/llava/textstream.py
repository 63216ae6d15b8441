"""Token ids -> text pieces, safe for multi-byte characters and stop strings."""
from __future__ import annotations


class TextStream:
    def __init__(self, tokenizer, stop: tuple[str, ...] = ()):
        self.tok, self.stop = tokenizer, [s for s in stop if s]
        self.ids: list[int] = []
        self.emitted = 0        # characters of the decoded text already handed out
        self.stopped = False

    def _text(self) -> str:
        return self.tok.decode(self.ids, skip_special_tokens=True)

    def push(self, token_id: int) -> str:
        """Add one token; return the text that is now safe to show (maybe empty)."""
        self.ids.append(token_id)
        text = self._text()
        if text.endswith("\ufffd"):      # half of a multi-byte character: wait for the rest
            return ""
        for s in self.stop:
            at = text.find(s, max(0, self.emitted - len(s)))
            if at >= 0:
                self.stopped = True
                out, self.emitted = text[self.emitted:at], max(self.emitted, at)
                return out
        # Hold back a tail that could still grow into a stop string.
        hold = max((k for s in self.stop for k in range(1, len(s)) if text.endswith(s[:k])), default=0)
        out = text[self.emitted:len(text) - hold]
        self.emitted += len(out)
        return out

    def flush(self) -> str:
        if self.stopped:
            return ""
        text = self._text().rstrip("\ufffd")
        out, self.emitted = text[self.emitted:], len(text)
        return out
