"""Group commit: the writes of many concurrent callers in one round trip.

A caller `add()`s its item and waits. One task writes whatever has gathered with a single call
of `write(items)` (one statement, or one transaction), answers every caller of that batch, and
goes on with what gathered meanwhile. Idle, a lone item is written at once; under load the
batches grow by themselves, so the database round trips per item fall as the load rises.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class GroupCommit(Generic[T]):
    def __init__(
        self, write: Callable[[list[T]], Awaitable[None]], *, name: str, max_batch: int = 500
    ) -> None:
        self._write = write
        self._name = name
        self._max_batch = max_batch
        self._pending: list[tuple[T, asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        self.items = 0

    async def add(self, item: T) -> None:
        """Return once the batch holding `item` is written; raise what its write raised (every
        caller of a failed batch gets the same error: nothing of that batch was written)."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((item, waiter))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name=self._name)
        await waiter

    async def _run(self) -> None:
        while self._pending:
            batch = self._pending[: self._max_batch]
            del self._pending[: self._max_batch]
            try:
                await self._write([item for item, _ in batch])
            except Exception as exc:
                for _, waiter in batch:
                    if not waiter.done():  # a caller that was cancelled meanwhile has gone
                        waiter.set_exception(exc)
                continue
            self.batches += 1
            self.items += len(batch)
            for _, waiter in batch:
                if not waiter.done():
                    waiter.set_result(None)
