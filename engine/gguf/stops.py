"""Stop strings over a token stream: text is held back only while it could still be the start
of a stop string, so a stop string never reaches the user even when split across tokens."""
from __future__ import annotations


class StopScanner:
    def __init__(self, stops=()):
        self.stops = [s for s in stops if s]
        self.held = ""

    def feed(self, text: str) -> tuple[str, bool]:
        """Add text; return (text safe to show now, whether a stop string was hit)."""
        if not self.stops:
            return text, False
        buf = self.held + text
        cut = min((i for i in (buf.find(s) for s in self.stops) if i >= 0), default=-1)
        if cut >= 0:
            self.held = ""
            return buf[:cut], True
        keep = max((k for s in self.stops for k in range(1, len(s)) if buf.endswith(s[:k])),
                   default=0)
        self.held = buf[len(buf) - keep:] if keep else ""
        return buf[:len(buf) - keep], False

    def flush(self, text: str = "") -> str:
        out, self.held = self.held + text, ""
        return out
