"""accounts.audit: entries recorded in the change's transaction, read newest first by page."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from accounts import audit
from accounts import services as accounts


async def _merchant(db: asyncpg.Pool) -> uuid.UUID:
    return await accounts.create_merchant(db, f"Audit {uuid.uuid4().hex[:8]}")


async def test_a_change_is_recorded_with_who_what_and_before_and_after(db: asyncpg.Pool) -> None:
    merchant_id = await _merchant(db)
    user_id = await accounts.create_user(
        db, f"a-{uuid.uuid4().hex}@example.com", "Ana", "long enough password"
    )
    store_id = uuid.uuid4()

    await audit.record_change(
        db,
        merchant_id,
        audit.Actor.user(user_id),
        "store.update",
        target_id=store_id,
        target_name="Front",
        before={"name": "Front", "city": None, "hours": {"mon": ["09:00", "18:00"]}},
        after={"name": "Front", "city": "Hangzhou", "hours": {"mon": ["10:00", "18:00"]}},
    )

    [entry] = await audit.entries(db, merchant_id)
    assert entry.actor_id == user_id
    assert entry.actor_name == "Ana"
    assert entry.action == "store.update"
    assert entry.target_id == str(store_id)
    assert entry.changes() == [
        ("city", None, "Hangzhou"),
        ("hours", {"mon": ["09:00", "18:00"]}, {"mon": ["10:00", "18:00"]}),
    ]


async def test_a_change_rolled_back_leaves_no_entry(db: asyncpg.Pool) -> None:
    merchant_id = await _merchant(db)
    async with db.acquire() as conn:
        with pytest.raises(RuntimeError):
            async with conn.transaction():
                await audit.record_change(
                    conn, merchant_id, audit.Actor.system("test"), "store.create", after={}
                )
                raise RuntimeError("the change failed after its entry")
    assert await audit.entries(db, merchant_id) == []


async def test_pages_go_newest_first_and_stay_inside_their_merchant(db: asyncpg.Pool) -> None:
    merchant_id, other_id = await _merchant(db), await _merchant(db)
    for n in range(5):
        await audit.record_change(
            db, merchant_id, audit.Actor.system("test"), "store.create", target_name=f"s{n}"
        )
    await audit.record_change(db, other_id, audit.Actor.system("test"), "store.create")

    first = await audit.entries(db, merchant_id, limit=3)
    rest = await audit.entries(db, merchant_id, older_than=first[-1].entry_id, limit=3)

    assert [e.target_name for e in first] == ["s4", "s3", "s2"]
    assert [e.target_name for e in rest] == ["s1", "s0"]


async def test_malformed_changes_are_refused(db: asyncpg.Pool) -> None:
    merchant_id = await _merchant(db)
    with pytest.raises(ValueError, match="record"):
        await audit.record_change(db, merchant_id, audit.Actor.system("t"), "Store Create")
    with pytest.raises(ValueError, match="label"):
        await audit.record_change(db, merchant_id, audit.Actor(None), "store.create")
    with pytest.raises(TypeError, match="bytes"):
        await audit.record_change(
            db, merchant_id, audit.Actor.system("t"), "store.create", after={"x": b"raw"}
        )
    assert await audit.entries(db, merchant_id) == []
