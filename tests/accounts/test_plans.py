"""accounts.plans: the plans' limits are data; a store, an invitation or an acceptance over the
merchant's plan is refused and nothing is stored; and two at once at the limit, on connections
of their own against the real PostgreSQL, never both get through."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest

from accounts import audit, invitations, operators, plans, stores
from accounts import services as accounts
from accounts.email import OutboxEmailProvider
from accounts.messages_plans import PLANS
from kernel.i18n import LANGUAGES, translator
from tests.console.test_console_app import PASSWORD
from tests.factories import TEST_ACTOR

WAIT = 10.0  # seconds for the creations to queue on the merchant's lock


async def new_merchant(db: asyncpg.Pool, *, stores: int = 0, plan: str = "free") -> uuid.UUID:
    merchant_id = await accounts.create_merchant(db, f"Plan Merchant {uuid.uuid4().hex[:8]}")
    for number in range(stores):
        await accounts.create_store(db, merchant_id, f"Store {number}")
    await set_plan(db, merchant_id, plan)
    return merchant_id


async def set_plan(db: asyncpg.Pool, merchant_id: uuid.UUID, plan: str) -> None:
    async with db.acquire() as conn:
        await operators.change_plan(conn, merchant_id, plan, TEST_ACTOR)


Hold = Callable[[asyncpg.Connection], Awaitable[object]]


async def at_once(
    db: asyncpg.Pool, hold: Hold, *creations: Callable[[], Awaitable[object]]
) -> list[object]:
    """Start `creations` together, each on a connection of its own, hold them (`hold` locks
    what they need, in a transaction of its own) until every one waits, then let them go:
    what each returned, or raised."""
    tasks: list[asyncio.Task[object]] = []
    try:
        async with db.acquire() as holder, holder.transaction():
            await hold(holder)
            tasks = [asyncio.create_task(make()) for make in creations]  # type: ignore[arg-type]
            await _until_waiting(db, holder.get_server_pid(), tasks)
    finally:
        results = await asyncio.gather(*tasks, return_exceptions=True)
    return list(results)


async def _until_waiting(
    db: asyncpg.Pool, holder_pid: int, tasks: list[asyncio.Task[object]]
) -> None:
    """Until every task waits on another session, or is done (it did not wait for the
    merchant's lock: the caller's counts then show what got through)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    count = len(tasks)
    while not all(task.done() for task in tasks):
        waiting = await db.fetchval(
            # The first waits on the holder, the next on the first (its tuple lock): any
            # session of this test run's database that waits on another.
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> $1 AND cardinality(pg_blocking_pids(pid)) > 0",
            holder_pid,
        )
        if waiting >= count:
            return
        assert loop.time() < deadline, f"{waiting} of {count} creations wait on the merchant"
        await asyncio.sleep(0.02)


def merchant_lock(merchant_id: uuid.UUID) -> Hold:
    """Hold the lock every capped creation takes first."""
    return lambda conn: plans.lock_plan(conn, merchant_id)


def refused(results: list[object]) -> list[plans.PlanLimitReached]:
    errors = [r for r in results if isinstance(r, BaseException)]
    assert all(isinstance(e, plans.PlanLimitReached) for e in errors), errors
    return errors  # type: ignore[return-value]


async def test_the_plans_and_their_limits_are_data_and_named_in_both_languages(
    db: asyncpg.Pool,
) -> None:
    found = await plans.all_plans(db)
    assert [(p.plan, p.max_stores, p.max_routers, p.max_seats) for p in found] == [
        ("free", 1, 2, 3),
        ("standard", 5, 20, 10),
        ("premium", None, None, None),  # unlimited
    ]
    for plan in found:
        assert set(PLANS[f"plan_{plan.plan}"]) == set(LANGUAGES)
    merchant_id = await accounts.create_merchant(db, "A new merchant")
    assert (await plans.plan_of(db, merchant_id)).plan == "free"  # until an operator says else


async def test_a_store_over_the_plan_is_refused_with_the_plan_named_and_nothing_stored(
    db: asyncpg.Pool,
) -> None:
    merchant_id = await new_merchant(db, stores=1)
    details = stores.StoreDetails(name="One too many")
    logged = len(await audit.entries(db, merchant_id))

    with pytest.raises(plans.PlanLimitReached) as caught:
        await stores.add_store(db, merchant_id, details, TEST_ACTOR)

    assert caught.value.status == 409 and caught.value.message_id == "error_plan_stores"
    en, zh = (plans.message(caught.value, translator(PLANS, lang)) for lang in ("en", "zh-CN"))
    assert en.startswith("Store limit reached: the Free plan allows 1. The store was not added")
    assert zh.startswith("门店数量已达上限：免费版套餐最多 1 家。门店未添加")
    assert len(await accounts.list_stores(db, merchant_id)) == 1
    assert len(await audit.entries(db, merchant_id)) == logged

    await set_plan(db, merchant_id, "standard")
    await stores.add_store(db, merchant_id, details, TEST_ACTOR)
    await set_plan(db, merchant_id, "free")  # lower than what it has: nothing is removed
    usage = await plans.usage(db, merchant_id)
    assert (usage.stores, usage.over()) == (2, ["stores"])
    with pytest.raises(plans.PlanLimitReached):
        await stores.add_store(db, merchant_id, details, TEST_ACTOR)


async def test_two_stores_at_once_for_the_last_place_add_one(db: asyncpg.Pool) -> None:
    merchant_id = await new_merchant(db)  # Free: one store

    def add(name: str) -> Callable[[], Awaitable[object]]:
        return lambda: stores.add_store(db, merchant_id, stores.StoreDetails(name), TEST_ACTOR)

    results = await at_once(db, merchant_lock(merchant_id), add("North"), add("South"))

    assert len(refused(results)) == 1
    assert len(await accounts.list_stores(db, merchant_id)) == 1
    assert [e.action for e in await audit.entries(db, merchant_id)] == ["store.create"]


async def _owner(db: asyncpg.Pool, merchant_id: uuid.UUID) -> uuid.UUID:
    email = f"owner-{uuid.uuid4().hex[:10]}@example.com"
    user_id = await accounts.create_user(db, email, "Owner", PASSWORD)
    await accounts.add_membership(db, merchant_id, user_id, "owner")
    return user_id


async def _invite(db: asyncpg.Pool, merchant_id: uuid.UUID, owner: uuid.UUID, email: str) -> str:
    """Invite `email` as an owner; the token of its link (from the outbox)."""
    await invitations.invite(
        db,
        OutboxEmailProvider(db),
        merchant_id,
        owner,
        email=email,
        role="owner",
        store_ids=[],
        language="en",
        accept_url="http://console.test/invite",
    )
    body = await db.fetchval(
        "SELECT body FROM email_outbox WHERE to_address = $1 ORDER BY created_at DESC LIMIT 1",
        accounts.normalize_email(email),
    )
    return body.split("token=")[1].split()[0]


def _address() -> str:
    return f"seat-{uuid.uuid4().hex[:10]}@example.com"


async def test_seats_count_members_and_pending_invitations(db: asyncpg.Pool) -> None:
    merchant_id = await new_merchant(db)  # Free: three seats
    owner = await _owner(db, merchant_id)
    first, second, third = _address(), _address(), _address()
    await _invite(db, merchant_id, owner, first)
    await _invite(db, merchant_id, owner, second)

    with pytest.raises(plans.PlanLimitReached) as caught:
        await _invite(db, merchant_id, owner, third)
    assert caught.value.message_id == "error_plan_seats"
    assert plans.message(caught.value, translator(PLANS, "en")).startswith(
        "Seat limit reached: the Free plan allows 3, counting members and pending invitations."
    )
    assert {i.email for i in await invitations.pending(db, merchant_id)} == {first, second}
    await _invite(db, merchant_id, owner, first.upper())  # again: it replaces its own seat
    [pending] = [i for i in await invitations.pending(db, merchant_id) if i.email == second]
    await invitations.revoke(db, merchant_id, pending.invitation_id, owner)
    await _invite(db, merchant_id, owner, third)  # the revoked one's seat
    assert (await plans.usage(db, merchant_id)).seats == 3


async def test_two_invitations_at_once_for_the_last_seat_send_one(db: asyncpg.Pool) -> None:
    merchant_id = await new_merchant(db)
    owner = await _owner(db, merchant_id)
    await _invite(db, merchant_id, owner, _address())  # two seats of three taken

    results = await at_once(
        db,
        merchant_lock(merchant_id),
        lambda: _invite(db, merchant_id, owner, _address()),
        lambda: _invite(db, merchant_id, owner, _address()),
    )

    assert len(refused(results)) == 1
    assert len(await invitations.pending(db, merchant_id)) == 2


async def _accept(db: asyncpg.Pool, token: str) -> accounts.User:
    return await invitations.accept(
        db, token, password="a long password", display_name="New Member", client="test"
    )


async def test_an_acceptance_over_a_lowered_plan_is_refused_and_the_link_kept(
    db: asyncpg.Pool,
) -> None:
    merchant_id = await new_merchant(db, plan="standard")
    owner = await _owner(db, merchant_id)
    tokens = [await _invite(db, merchant_id, owner, _address()) for _ in range(3)]
    for token in tokens[:2]:
        await _accept(db, token)
    await set_plan(db, merchant_id, "free")  # three members of three seats, one pending

    with pytest.raises(plans.PlanLimitReached) as caught:
        await _accept(db, tokens[2])

    assert caught.value.message_id == "error_plan_seats_accept"
    link = await invitations.invitation_for_token(db, tokens[2])
    assert link is not None and not link.has_account  # kept, and no account made
    assert await accounts.member_count(db, merchant_id, "owner") == 3
    await set_plan(db, merchant_id, "standard")
    await _accept(db, tokens[2])
    assert await accounts.member_count(db, merchant_id, "owner") == 4


async def test_two_acceptances_at_once_for_the_last_seat_let_one_in(db: asyncpg.Pool) -> None:
    merchant_id = await new_merchant(db, plan="standard")
    owner = await _owner(db, merchant_id)
    tokens = [await _invite(db, merchant_id, owner, _address()) for _ in range(3)]
    await _accept(db, tokens[0])
    await set_plan(db, merchant_id, "free")  # two members, three seats, two pending

    async def invitations_locked(conn: asyncpg.Connection) -> None:
        # Not the merchant: the invitations each acceptance takes, so that both overlap
        # whatever lock the acceptance takes first (a slower password hash would not).
        await conn.execute("SELECT FROM invitations WHERE merchant_id = $1 FOR UPDATE", merchant_id)

    results = await at_once(
        db, invitations_locked, lambda: _accept(db, tokens[1]), lambda: _accept(db, tokens[2])
    )

    assert len(refused(results)) == 1
    assert await accounts.member_count(db, merchant_id, "owner") == 3


# A plan's limits changed by an operator (accounts/operators.py set_limits) --------------------


@contextlib.asynccontextmanager
async def a_plan(db: asyncpg.Pool, stores: int, routers: int, seats: int) -> AsyncIterator[str]:
    """A plan of the test's own (the plans are shared by the run's tests), gone afterwards: its
    merchants go back to Free."""
    plan = f"test_{uuid.uuid4().hex[:12]}"
    rank = await db.fetchval("SELECT max(rank) + 1 FROM plans")
    await db.execute(
        "INSERT INTO plans (plan, rank, max_stores, max_routers, max_seats)"
        " VALUES ($1, $2, $3, $4, $5)",
        plan,
        rank,
        stores,
        routers,
        seats,
    )
    try:
        yield plan
    finally:
        await db.execute("UPDATE merchants SET plan = 'free' WHERE plan = $1", plan)
        await db.execute("DELETE FROM plans WHERE plan = $1", plan)


def test_a_plans_limits_are_whole_numbers_from_one_or_unlimited() -> None:
    form = {
        "max_stores": " 3 ",
        "max_routers": "２０",  # full-width digits, as a Chinese keyboard may type them
        "max_seats": "7",
        "unlimited_seats": "1",  # ticked: its number is not read
    }
    limits, shown, errors = operators.check_limits(form)
    assert limits == {"stores": 3, "routers": 20, "seats": None} and not errors
    assert (shown["max_seats"], shown["unlimited_seats"]) == ("", "1")
    assert operators.check_limits({f"unlimited_{k}": "1" for k in plans.KINDS})[0] == dict.fromkeys(
        plans.KINDS
    )
    good = {"max_stores": "1", "max_routers": "2", "max_seats": str(operators.MAX_LIMIT)}
    assert operators.check_limits(good)[0] == {"stores": 1, "routers": 2, "seats": 100_000}
    for bad in ("0", "-1", "2.5", "1e3", "abc", "", "  ", "100001", "1 000", "+4", "0x10"):
        limits, shown, errors = operators.check_limits(good | {"max_routers": bad})
        assert limits is None, bad
        assert errors == {"max_routers": ("opp_error_limit", {"max": operators.MAX_LIMIT})}, bad
        assert shown["max_routers"] == bad.strip()[:12]  # shown back as typed
    limits, _shown, errors = operators.check_limits({"max_stores": "2"})  # the others missing
    assert limits is None and set(errors) == {"max_routers", "max_seats"}


async def test_lowering_a_plans_limits_removes_nothing_and_refuses_more(
    db: asyncpg.Pool,
) -> None:
    """Every merchant on the plan gets the new limits at once and an audit entry by the
    operator; one over them keeps all it has and adds no more; others are untouched."""
    operator = await accounts.create_user(
        db, f"ops-{uuid.uuid4().hex[:8]}@example.com", "Ops", PASSWORD
    )
    async with a_plan(db, 5, 20, 10) as plan:
        full = await new_merchant(db, stores=3, plan=plan)
        roomy = await new_merchant(db, stores=1, plan=plan)
        at_limits = await new_merchant(db, stores=2, plan=plan)
        elsewhere = await new_merchant(db, stores=1)
        routers = {roomy: 15, at_limits: 10}  # routers in service, as the controller counts
        assert (await plans.merchants_by_plan(db, routers))[plan] == plans.PlanMerchants(3, 0)
        logged = {m: len(await audit.entries(db, m)) for m in (full, roomy, elsewhere)}

        lowered = {"stores": 2, "routers": 10, "seats": None}
        assert await operators.set_limits(db, plan, lowered, operator)

        assert await plans.plan_of(db, full) == plans.Plan(plan, 2, 10, None)
        assert len(await accounts.list_stores(db, full)) == 3  # nothing removed
        assert (await plans.usage(db, full)).over() == ["stores"]
        details = stores.StoreDetails(name="One more")
        with pytest.raises(plans.PlanLimitReached) as caught:
            await stores.add_store(db, full, details, TEST_ACTOR)
        assert caught.value.values["limit"] == 2
        await stores.add_store(db, roomy, details, TEST_ACTOR)  # 2 of 2: still allowed
        with pytest.raises(plans.PlanLimitReached):
            await stores.add_store(db, roomy, details, TEST_ACTOR)
        # Over: the full one's stores, the roomy one's routers (15 of 10); not the one at them.
        assert (await plans.merchants_by_plan(db, routers))[plan] == plans.PlanMerchants(3, 2)

        for merchant in (full, roomy):
            (entry,) = [e for e in await audit.entries(db, merchant) if e.action == "plan.limits"]
            assert (entry.target_id, entry.actor_id) == (plan, operator)
            assert entry.before == {"max_stores": 5, "max_routers": 20, "max_seats": 10}
            assert entry.after == {"max_stores": 2, "max_routers": 10, "max_seats": "unlimited"}
        assert len(await audit.entries(db, elsewhere)) == logged[elsewhere]

        assert not await operators.set_limits(db, plan, lowered, operator)  # the same: nothing
        assert len(await audit.entries(db, full)) == logged[full] + 1  # its store refused: none
        with pytest.raises(operators.InvalidPlan):
            await operators.set_limits(db, "no_such_plan", lowered, operator)
