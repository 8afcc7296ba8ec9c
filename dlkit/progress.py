"""A progress line: redrawn in place on a terminal, one plain line per item otherwise."""
from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, total: int, label: str, stream=None):
        self.total, self.label, self.stream = total, label, stream or sys.stderr
        self.start = time.monotonic()
        self.failed = 0
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()

    def update(self, done: int, item: str, ok: bool = True, detail: str = "", total: int | None = None) -> None:
        self.total = total or self.total
        if done == 0:  # the work starts now
            self.start, self.failed = time.monotonic(), 0
            return
        self.failed += 0 if ok else 1
        elapsed = time.monotonic() - self.start
        eta = elapsed / done * (self.total - done) if done else 0.0
        if self.tty:
            width = 24
            filled = int(width * done / max(self.total, 1))
            bar = "#" * filled + "-" * (width - filled)
            line = (f"\r{self.label} [{bar}] {done}/{self.total} done, {self.failed} failed, "
                    f"ETA {eta:4.0f}s  {item[:30]:<30}")
            self.stream.write(line + ("\n" if done == self.total else ""))
        else:
            self.stream.write(f"{self.label} [{done}/{self.total}] {item}: {detail} "
                              f"({elapsed:.0f}s elapsed, ETA {eta:.0f}s)\n")
        self.stream.flush()
