"""kernel.jobs.every: a job runs again and again; a database hiccup does not end it."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import pytest

from kernel.jobs import every


async def test_a_job_runs_repeatedly_and_outlives_a_transient_failure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls = 0

    async def job() -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError("database is away")

    task = asyncio.create_task(every(0.01, job, logging.getLogger("test.jobs"), "do the job"))
    async with asyncio.timeout(5):
        while calls < 4:
            await asyncio.sleep(0.01)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert "could not do the job; trying again" in caplog.text


async def test_a_bug_in_a_job_is_not_swallowed() -> None:
    async def job() -> None:
        raise KeyError("a bug")

    with pytest.raises(KeyError):
        await asyncio.wait_for(every(0.01, job, logging.getLogger("test.jobs"), "x"), 5)
