"""An app served from an event loop in a thread of its own, for tests whose client blocks
(schemathesis calls the API with blocking requests from the test's own thread)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

T = TypeVar("T")
SECONDS = 60  # for the start and the stop, each


@contextlib.contextmanager
def in_a_thread(
    start: Callable[[], Coroutine[Any, Any, T]],
    stop: Callable[[T], Coroutine[Any, Any, None]],
    name: str,
) -> Iterator[T]:
    """`start()` run on the thread's loop, its result handed to the test; `stop(result)` after.
    The loop is closed at the end: left open, its self-pipe (a socketpair) goes to the garbage
    collector, whose ResourceWarning then fails whichever later test it is collected in."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name=name, daemon=True)
    thread.start()
    try:
        started = asyncio.run_coroutine_threadsafe(start(), loop).result(SECONDS)
        try:
            yield started
        finally:
            asyncio.run_coroutine_threadsafe(stop(started), loop).result(SECONDS)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(SECONDS)
        assert not thread.is_alive(), f"the loop of {name} did not stop"
        loop.close()
