"""Progress: a bar redrawn in place on a terminal, one plain line per finished item otherwise.

On a terminal: `label [#####-------] 5/12 done, 1 failed, 2 running, ETA 40s  last-item`.
Otherwise (a log, CI): `label [5/12] last-item: detail (31s elapsed, ETA 40s)`, one per item.
The ETA counts only the items finished since `start()`: items settled before it (kept from an
earlier run, rejected before grading) take no time and would make it too short.
"""
from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, total: int, label: str, stream=None):
        self.total, self.label, self.stream = total, label, stream or sys.stderr
        self.start_time = time.monotonic()
        self.base = 0     # items already done when the clock started
        self.started = False
        self.failed = 0
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()

    def start(self, done: int = 0, total: int | None = None, running: int = 0) -> None:
        """The timed work starts now, with `done` items already settled."""
        self.total = total or self.total
        self.start_time, self.base, self.started = time.monotonic(), done, True
        if self.tty and done < self.total:
            self._draw(done, running, "")

    def eta(self, done: int) -> float | None:
        timed = done - self.base
        if timed <= 0 or not self.started:
            return None
        return (time.monotonic() - self.start_time) / timed * (self.total - done)

    def update(self, done: int, item: str, ok: bool = True, detail: str = "", total: int | None = None,
               running: int = 0) -> None:
        self.total = total or self.total
        if done == 0:  # the work starts now (the older callers' way of saying start())
            self.start(0, total)
            return
        self.failed += 0 if ok else 1
        if self.tty:
            self._draw(done, running, item)
        else:
            eta = self.eta(done)
            self.stream.write(f"{self.label} [{done}/{self.total}] {item}: {detail} "
                              f"({time.monotonic() - self.start_time:.0f}s elapsed, "
                              f"ETA {'?' if eta is None else f'{eta:.0f}s'})\n")
        self.stream.flush()

    def _draw(self, done: int, running: int, item: str) -> None:
        width = 24
        filled = int(width * done / max(self.total, 1))
        bar = "#" * filled + "-" * (width - filled)
        eta = self.eta(done)
        running_part = f", {running} running" if running else ""
        line = (f"\r{self.label} [{bar}] {done}/{self.total} done, {self.failed} failed{running_part}, "
                f"ETA {'   ?' if eta is None else f'{eta:4.0f}'}s  {item[:30]}\x1b[K")
        self.stream.write(line + ("\n" if done >= self.total else ""))
        self.stream.flush()
