"""Logging helpers."""

from __future__ import annotations

import logging
import time


class Throttled:
    """A warning that hostile or broken clients can trigger at any rate: logged at most once
    per `every` seconds, with how many were left out in between, so a flood of bad requests
    cannot flood the log."""

    def __init__(self, logger: logging.Logger, every: float = 10.0) -> None:
        self._log = logger
        self._every = every
        self._next = 0.0
        self.suppressed = 0

    def warning(self, message: str, *args: object) -> None:
        now = time.monotonic()
        if now < self._next:
            self.suppressed += 1
            return
        if self.suppressed:
            message += " (and %d more like it in the last %.0f s)"
            args = (*args, self.suppressed, self._every)
        self._log.warning(message, *args)
        self._next, self.suppressed = now + self._every, 0
