"""A small time-bounded cache for hot read paths (splash pages read the same rows all day)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    """Entries live `ttl` seconds; past `max_items` the oldest entry is dropped."""

    def __init__(self, ttl: float, max_items: int = 10_000) -> None:
        self._ttl = ttl
        self._max_items = max_items
        self._entries: dict[K, tuple[float, V]] = {}
        self._loading: dict[K, asyncio.Task[V]] = {}
        self._generation = 0  # bumped by clear(): a load begun before it is not kept

    def get(self, key: K) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, value = entry
        if expires < time.monotonic():
            del self._entries[key]
            return None
        return value

    def put(self, key: K, value: V) -> None:
        self._entries.pop(key, None)
        if len(self._entries) >= self._max_items:
            del self._entries[next(iter(self._entries))]
        self._entries[key] = (time.monotonic() + self._ttl, value)

    def clear(self) -> None:
        self._entries.clear()
        self._loading.clear()
        self._generation += 1

    async def get_or_load(
        self, key: K, load: Callable[[], Awaitable[V]], refresh_ahead: float = 0.0
    ) -> V:
        """The entry, or what `load()` returns (then kept). Callers that miss the same key at
        the same time share one load (rather than one query each, queueing for the database
        pool); a failed load raises in every caller waiting on it and is not kept.

        With `refresh_ahead` > 0, a caller in the last `refresh_ahead` seconds of the entry's
        life also starts loading it again in the background and goes on with the entry, so
        that a hot entry is renewed before it expires and no request waits for the load (the
        value served is still at most `ttl` seconds old)."""
        entry = self._entries.get(key)
        if entry is not None:
            expires, value = entry
            now = time.monotonic()
            if now <= expires:
                if now > expires - refresh_ahead and key not in self._loading:
                    self._start_load(key, load)  # in the background; this caller goes on
                return value
            del self._entries[key]
        task = self._loading.get(key) or self._start_load(key, load)
        return await asyncio.shield(task)  # one caller cancelled does not cancel the others'

    def _start_load(self, key: K, load: Callable[[], Awaitable[V]]) -> asyncio.Task[V]:
        task = asyncio.ensure_future(self._load(key, load, self._generation))
        task.add_done_callback(_retrieve_exception)  # a refresh nobody awaits may fail too
        self._loading[key] = task
        return task

    async def _load(self, key: K, load: Callable[[], Awaitable[V]], generation: int) -> V:
        try:
            value = await load()
            if generation == self._generation:
                self.put(key, value)
            return value
        finally:
            if generation == self._generation:
                self._loading.pop(key, None)


def _retrieve_exception(task: asyncio.Task[object]) -> None:
    if not task.cancelled():
        task.exception()
