"""controller/provisioning.py: install codes are single use, expire, and are rate-limited."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import asyncpg
import pytest

import accounts.services as accounts
from controller import broker_auth, provisioning
from controller.services import find_router
from tests.factories import TEST_ACTOR, make_tenant


async def new_store(db: asyncpg.Pool) -> tuple[uuid.UUID, uuid.UUID]:
    async with db.acquire() as conn:
        merchant_id = await accounts.create_merchant(conn, f"Merchant {uuid.uuid4().hex[:8]}")
        store_id = await accounts.create_store(conn, merchant_id, "Main Street")
    return merchant_id, store_id


async def add(db: asyncpg.Pool, **kwargs: object) -> provisioning.Claim:
    merchant_id, store_id = await new_store(db)
    async with db.acquire() as conn:
        _router, claim = await provisioning.add_router(
            conn,
            merchant_id,
            store_id,
            actor=TEST_ACTOR,
            **kwargs,  # type: ignore[arg-type]
        )
    return claim


def new_ip() -> str:
    """An address of its own per test: the rate limit counts per address."""
    return f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"


async def password_hash(db: asyncpg.Pool, router_id: str) -> str | None:
    rows = await db.fetch(
        "SELECT router_id, mqtt_password_hash FROM routers WHERE router_id = $1", router_id
    )
    return rows[0]["mqtt_password_hash"]


async def test_a_new_router_has_no_password_until_its_code_is_redeemed(db: asyncpg.Pool) -> None:
    claim = await add(db, name="  Front   desk ")

    router = await find_router(db, claim.router_id)
    assert router is not None and router.name == "Front desk" and router.fas_level == 1
    assert provisioning.CLAIM_CODE.match(claim.code)
    assert await password_hash(db, claim.router_id) is None

    redemption = await provisioning.redeem_claim(db, claim.code, new_ip())

    assert redemption.router_id == claim.router_id
    assert redemption.faskey == router.faskey
    stored = await password_hash(db, claim.router_id)
    assert stored is not None and redemption.mqtt_password not in stored
    assert broker_auth.verify_password(redemption.mqtt_password, stored)


async def test_a_code_is_redeemed_once(db: asyncpg.Pool) -> None:
    claim = await add(db)
    await provisioning.redeem_claim(db, claim.code, new_ip())

    with pytest.raises(provisioning.ClaimUsed):
        await provisioning.redeem_claim(db, claim.code, new_ip())


async def test_of_concurrent_redemptions_exactly_one_wins(db: asyncpg.Pool) -> None:
    claim = await add(db)
    ip = new_ip()

    results = await asyncio.gather(
        *(provisioning.redeem_claim(db, claim.code, ip) for _ in range(8)),
        return_exceptions=True,
    )

    won = [r for r in results if isinstance(r, provisioning.Redemption)]
    lost = [r for r in results if not isinstance(r, provisioning.Redemption)]
    assert len(won) == 1
    assert all(isinstance(r, provisioning.ClaimUsed) for r in lost), lost
    stored = await password_hash(db, claim.router_id)
    assert stored is not None and broker_auth.verify_password(won[0].mqtt_password, stored)


@pytest.mark.parametrize(
    ("case", "error"),
    [
        ("unknown", provisioning.ClaimUnknown),
        ("malformed", provisioning.ClaimUnknown),
        ("expired", provisioning.ClaimExpired),
        ("replaced", provisioning.ClaimReplaced),
        ("revoked", provisioning.RouterRevoked),
    ],
)
async def test_codes_that_cannot_be_used_say_why(
    db: asyncpg.Pool, case: str, error: type[provisioning.ClaimFailed]
) -> None:
    merchant_id, store_id = await new_store(db)
    ttl = timedelta(seconds=-1) if case == "expired" else provisioning.CLAIM_TTL
    async with db.acquire() as conn:
        router, claim = await provisioning.add_router(
            conn, merchant_id, store_id, actor=TEST_ACTOR, ttl=ttl
        )
        if case == "replaced":
            await provisioning.issue_claim(conn, merchant_id, router.router_id, actor=TEST_ACTOR)
        if case == "revoked":
            await provisioning.revoke_router(conn, merchant_id, router.router_id, actor=TEST_ACTOR)
    code = {"unknown": "a" * 20, "malformed": "not a code!"}.get(case, claim.code)

    with pytest.raises(error):
        await provisioning.redeem_claim(db, code, new_ip())
    if case != "malformed":
        with pytest.raises(error):
            await provisioning.check_claim(db, code, new_ip())
    assert await password_hash(db, router.router_id) is None


async def test_check_claim_does_not_redeem_and_accepts_a_used_code(db: asyncpg.Pool) -> None:
    claim = await add(db)

    assert await provisioning.check_claim(db, claim.code, new_ip()) == claim.router_id
    assert await password_hash(db, claim.router_id) is None
    await provisioning.redeem_claim(db, claim.code, new_ip())
    # The install command run again on the router that redeemed it: the script still comes.
    assert await provisioning.check_claim(db, claim.code, new_ip()) == claim.router_id


async def test_failed_codes_from_one_address_are_limited(db: asyncpg.Pool) -> None:
    claim = await add(db)
    ip = new_ip()
    for _ in range(provisioning.MAX_FAILED_CLAIMS):
        with pytest.raises(provisioning.ClaimUnknown):
            await provisioning.redeem_claim(db, "b" * 20, ip)

    with pytest.raises(provisioning.TooManyClaims):
        await provisioning.redeem_claim(db, claim.code, ip)  # a good code, too, for a while
    assert await password_hash(db, claim.router_id) is None
    # Another address is not held back by this one's failures.
    assert (await provisioning.redeem_claim(db, claim.code, new_ip())).router_id == claim.router_id


async def test_a_new_code_for_an_installed_router_gives_it_a_new_password(
    db: asyncpg.Pool,
) -> None:
    claim = await add(db)
    first = await provisioning.redeem_claim(db, claim.code, new_ip())
    router = await find_router(db, claim.router_id)
    assert router is not None
    async with db.acquire() as conn:
        again = await provisioning.issue_claim(
            conn, router.merchant_id, router.router_id, actor=TEST_ACTOR
        )

    second = await provisioning.redeem_claim(db, again.code, new_ip())

    stored = await password_hash(db, claim.router_id)
    assert stored is not None
    assert broker_auth.verify_password(second.mqtt_password, stored)
    assert not broker_auth.verify_password(first.mqtt_password, stored)


async def test_a_revoked_router_is_out_of_service(db: asyncpg.Pool) -> None:
    tenant = await make_tenant(db, with_ad=False)
    async with db.acquire() as conn:
        await provisioning.revoke_router(
            conn, tenant.merchant_id, tenant.router.router_id, actor=TEST_ACTOR
        )
        assert await find_router(conn, tenant.router.router_id) is None
        with pytest.raises(provisioning.UnknownRouter):
            await provisioning.revoke_router(
                conn, tenant.merchant_id, tenant.router.router_id, actor=TEST_ACTOR
            )
        with pytest.raises(provisioning.UnknownRouter):
            await provisioning.issue_claim(
                conn, tenant.merchant_id, tenant.router.router_id, actor=TEST_ACTOR
            )
        # Its id stays taken: nothing new may answer to the old router's name.
        with pytest.raises(provisioning.RouterIdTaken):
            await provisioning.add_router(
                conn,
                tenant.merchant_id,
                tenant.store_id,
                actor=TEST_ACTOR,
                router_id=tenant.router.router_id,
            )


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"router_id": "bad id"}, provisioning.InvalidRouter),
        ({"router_id": "portico.controller"}, provisioning.InvalidRouter),
        ({"fas_level": 4}, provisioning.InvalidRouter),
    ],
)
async def test_bad_routers_are_refused(
    db: asyncpg.Pool, kwargs: dict[str, object], error: type[Exception]
) -> None:
    merchant_id, store_id = await new_store(db)
    async with db.acquire() as conn:
        with pytest.raises(error):
            await provisioning.add_router(conn, merchant_id, store_id, actor=TEST_ACTOR, **kwargs)  # type: ignore[arg-type]


async def test_a_store_of_another_merchant_is_refused(db: asyncpg.Pool) -> None:
    mine, _ = await new_store(db)
    _, theirs = await new_store(db)
    async with db.acquire() as conn:
        with pytest.raises(provisioning.UnknownStore):
            await provisioning.add_router(conn, mine, theirs, actor=TEST_ACTOR)
