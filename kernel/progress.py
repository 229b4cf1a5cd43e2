"""A one-line progress bar for long commands (import, rebuild, accuracy) on a terminal."""

from __future__ import annotations

from typing import TextIO

WIDTH = 30


class ProgressBar:
    """`label [#####-----] detail`, redrawn in place (carriage return) when `out` is a
    terminal; silent otherwise (the commands log a line per meaningful step instead)."""

    def __init__(self, label: str, total: int, out: TextIO | None) -> None:
        self.label = label
        self.total = max(total, 1)
        self.out = out if out is not None and out.isatty() else None
        self.done = 0

    @property
    def on_terminal(self) -> bool:
        return self.out is not None

    def show(self, done: int, detail: str = "") -> None:
        self.done = done
        if self.out is None:
            return
        filled = WIDTH * min(done, self.total) // self.total
        self.out.write(f"\r{self.label} [{'#' * filled}{'-' * (WIDTH - filled)}] {detail}")
        self.out.flush()

    def step(self, detail: str = "") -> None:
        self.show(self.done + 1, detail)

    def close(self) -> None:
        if self.out is not None and self.done:
            self.out.write("\n")
            self.out.flush()
