"""kernel.batch.GroupCommit: concurrent callers share a write; a failed write fails its batch."""

from __future__ import annotations

import asyncio

import pytest

from kernel.batch import GroupCommit


async def test_concurrent_items_share_one_write_and_a_lone_item_is_written_at_once() -> None:
    writes: list[list[int]] = []

    async def write(items: list[int]) -> None:
        await asyncio.sleep(0.01)  # a round trip
        writes.append(items)

    group = GroupCommit(write, name="test")
    await group.add(0)
    assert writes == [[0]]
    await asyncio.gather(*(group.add(n) for n in range(1, 11)))
    assert writes == [[0], list(range(1, 11))]
    assert (group.batches, group.items) == (2, 11)


async def test_items_that_come_during_a_write_go_in_the_next_batch_and_batches_are_bounded() -> (
    None
):
    writes: list[list[int]] = []
    started = asyncio.Event()

    async def write(items: list[int]) -> None:
        started.set()
        await asyncio.sleep(0.01)
        writes.append(items)

    group = GroupCommit(write, name="test", max_batch=3)
    first = asyncio.create_task(group.add(0))
    await started.wait()
    await asyncio.gather(first, *(group.add(n) for n in range(1, 8)))
    assert writes == [[0], [1, 2, 3], [4, 5, 6], [7]]


async def test_a_failed_write_fails_every_caller_of_its_batch_and_the_next_batch_goes_on() -> None:
    async def write(items: list[int]) -> None:
        if -1 in items:
            raise RuntimeError("constraint violated")

    group = GroupCommit(write, name="test")
    results = await asyncio.gather(
        group.add(1), group.add(-1), group.add(2), return_exceptions=True
    )
    assert [type(r) for r in results] == [RuntimeError] * 3
    await group.add(3)  # the writer goes on
    assert (group.batches, group.items) == (1, 1)


async def test_a_cancelled_caller_does_not_stop_its_batch() -> None:
    written: list[int] = []
    gate = asyncio.Event()

    async def write(items: list[int]) -> None:
        await gate.wait()
        written.extend(items)

    group = GroupCommit(write, name="test")
    caller = asyncio.create_task(group.add(1))
    other = asyncio.create_task(group.add(2))
    await asyncio.sleep(0)
    caller.cancel()
    gate.set()
    await other
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert written == [1, 2]
