"""Vouchers (portal/vouchers.py) against the real PostgreSQL: codes, batches, redemption rules,
and redemption under concurrency."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

import accounts.services as accounts
from accounts import audit
from portal import vouchers
from portal.fas import FasClient
from portal.stores import Visit, store_gateway
from portal.vouchers import BatchSpec
from tests.factories import TEST_ACTOR, Tenant, make_tenant


def spec(**changes: object) -> BatchSpec:
    fields: dict[str, object] = {
        "name": "Room cards",
        "store_id": None,
        "minutes": 60,
        "quota_kb": 0,
        "max_devices": 1,
        "valid_until": None,
        "count": 5,
    }
    fields.update(changes)
    return BatchSpec(**fields)  # type: ignore[arg-type]


@pytest.fixture
async def tenant(db: asyncpg.Pool) -> Tenant:
    return await make_tenant(db, with_ad=False)


async def make_codes(db: asyncpg.Pool, tenant: Tenant, **changes: object) -> list[str]:
    batch_id = await vouchers.create_batch(
        db, tenant.merchant_id, spec(**changes), now=datetime.now(UTC)
    )
    return [v.code for v in await vouchers.codes_of_batch(db, tenant.merchant_id, batch_id)]


async def redeem(db: asyncpg.Pool, tenant: Tenant, code: str, device: str) -> vouchers.Redemption:
    return await vouchers.redeem(db, tenant.merchant_id, tenant.store_id, code, device)


def device(n: int) -> str:
    return f"{n:032x}"


# -- codes --------------------------------------------------------------------------------------


def test_new_codes_use_only_the_unambiguous_alphabet() -> None:
    codes = {vouchers.new_code() for _ in range(2000)}
    assert len(codes) == 2000
    letters = set("".join(codes))
    assert letters <= set(vouchers.ALPHABET) and not letters & set("0O1I")
    assert all(len(code) == vouchers.CODE_LENGTH for code in codes)


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("ABCDE23456", "ABCDE23456"),
        ("abcde-23456", "ABCDE23456"),
        (" abc de 234 56 ", "ABCDE23456"),
        ("ＡＢＣＤＥ－２３４５６", "ABCDE23456"),  # full-width, from a Chinese keyboard
        ("abcde\u201423456", "ABCDE23456"),  # an em dash
        ("ab\tcde\n23456", "ABCDE23456"),
    ],
)
def test_typed_codes_are_normalised(typed: str, code: str) -> None:
    assert vouchers.normalize_code(typed) == code


@pytest.mark.parametrize(
    ("typed", "error"),
    [
        ("", vouchers.VoucherMissing),
        (" - - ", vouchers.VoucherMissing),
        ("ABC", vouchers.VoucherMalformed),
        ("ABCDE_23456", vouchers.VoucherMalformed),
        ("ABCDE23456ABCDE23456", vouchers.VoucherMalformed),
        ("券码ABCDE23456", vouchers.VoucherMalformed),
        ("ABCDE23456<script>", vouchers.VoucherMalformed),
    ],
)
def test_bad_typed_codes_are_refused_clearly(typed: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        vouchers.normalize_code(typed)


def test_codes_are_shown_in_groups_of_five() -> None:
    assert vouchers.format_code("ABCDE23456") == "ABCDE-23456"


# -- batches ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": "  "}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"minutes": 0}, "minutes"),
        ({"minutes": 525_601}, "minutes"),
        ({"quota_kb": -1}, "quota_mb"),
        ({"quota_kb": (1_048_576 + 1) * 1024}, "quota_mb"),
        ({"max_devices": 0}, "max_devices"),
        ({"max_devices": 101}, "max_devices"),
        ({"count": 0}, "count"),
        ({"count": 1001}, "count"),
        ({"valid_until": datetime.now(UTC) - timedelta(minutes=1)}, "valid_until"),
    ],
)
async def test_a_bad_batch_is_refused_and_nothing_is_stored(
    db: asyncpg.Pool, tenant: Tenant, changes: dict[str, object], field: str
) -> None:
    now = datetime.now(UTC)
    assert set(vouchers.batch_errors(spec(**changes), now)) == {field}
    with pytest.raises(vouchers.BadBatch):
        await vouchers.create_batch(db, tenant.merchant_id, spec(**changes), now=now)
    assert await vouchers.list_batches(db, tenant.merchant_id) == []


async def test_a_batch_has_its_count_of_unique_codes_and_counts_their_use(
    db: asyncpg.Pool, tenant: Tenant
) -> None:
    now = datetime.now(UTC)
    valid_until = now + timedelta(days=30)
    batch_id = await vouchers.create_batch(
        db,
        tenant.merchant_id,
        spec(count=200, max_devices=2, quota_kb=512 * 1024, valid_until=valid_until),
        now=now,
    )
    codes = await vouchers.codes_of_batch(db, tenant.merchant_id, batch_id)
    assert len({v.code for v in codes}) == 200
    await redeem(db, tenant, codes[0].code, device(1))
    await redeem(db, tenant, codes[0].code, device(2))
    await redeem(db, tenant, codes[1].code, device(3))
    assert await vouchers.revoke_code(
        db, tenant.merchant_id, batch_id, codes[2].code, actor=TEST_ACTOR
    )
    assert not await vouchers.revoke_code(
        db, tenant.merchant_id, batch_id, codes[2].code, actor=TEST_ACTOR
    )
    assert not await vouchers.revoke_code(
        db, tenant.merchant_id, uuid.uuid4(), codes[3].code, actor=TEST_ACTOR
    )
    [batch] = await vouchers.list_batches(db, tenant.merchant_id)
    assert (batch.total, batch.used, batch.revoked, batch.unused) == (200, 2, 1, 197)
    assert (batch.max_devices, batch.quota_kb, batch.valid_until) == (2, 512 * 1024, valid_until)
    shown = {v.code: v for v in await vouchers.codes_of_batch(db, tenant.merchant_id, batch_id)}
    assert shown[codes[0].code].devices == 2 and shown[codes[0].code].first_used_at is not None

    assert await vouchers.revoke_batch(db, tenant.merchant_id, batch_id, actor=TEST_ACTOR) == 199
    batch = await vouchers.get_batch(db, tenant.merchant_id, batch_id)
    assert batch is not None and (batch.revoked, batch.unused) == (200, 0)
    with pytest.raises(vouchers.VoucherRevoked):
        await redeem(db, tenant, codes[0].code, device(1))


async def test_codes_taken_at_the_merchant_are_drawn_again(
    db: asyncpg.Pool, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    [taken] = await make_codes(db, tenant, count=1)
    draws = iter([taken, taken, "ABCDEFGHJK"])
    monkeypatch.setattr(vouchers, "new_code", lambda: next(draws))
    codes = await make_codes(db, tenant, count=1)
    assert codes == ["ABCDEFGHJK"]


async def test_a_batch_of_another_merchant_is_not_listed_or_revoked(
    db: asyncpg.Pool, tenant: Tenant
) -> None:
    other = await make_tenant(db, with_ad=False)
    batch_id = await vouchers.create_batch(db, other.merchant_id, spec(), now=datetime.now(UTC))
    assert await vouchers.get_batch(db, tenant.merchant_id, batch_id) is None
    assert await vouchers.revoke_batch(db, tenant.merchant_id, batch_id, actor=TEST_ACTOR) == 0
    assert await vouchers.codes_of_batch(db, tenant.merchant_id, batch_id) == []


async def test_revokes_are_in_the_audit_log_by_the_batchs_name_without_the_codes(
    db: asyncpg.Pool, tenant: Tenant
) -> None:
    batch_id = await vouchers.create_batch(
        db, tenant.merchant_id, spec(count=3), now=datetime.now(UTC)
    )
    codes = [v.code for v in await vouchers.codes_of_batch(db, tenant.merchant_id, batch_id)]
    assert await vouchers.revoke_code(db, tenant.merchant_id, batch_id, codes[0], actor=TEST_ACTOR)
    assert await vouchers.revoke_batch(db, tenant.merchant_id, batch_id, actor=TEST_ACTOR) == 2
    assert await vouchers.revoke_batch(db, tenant.merchant_id, batch_id, actor=TEST_ACTOR) == 0
    log = await audit.entries(db, tenant.merchant_id)
    assert [(e.action, str(e.target_id), e.target_name, e.after) for e in log] == [
        ("voucher_batch.revoke", str(batch_id), "Room cards", {"codes_revoked": 2}),
        ("voucher_batch.revoke", str(batch_id), "Room cards", {"codes_revoked": 1}),
    ]  # the third revoked nothing: no entry
    assert not any(code in repr(log) for code in codes)


# -- redemption rules ---------------------------------------------------------------------------


async def test_time_runs_from_first_use_and_a_second_device_gets_what_is_left(
    db: asyncpg.Pool, tenant: Tenant
) -> None:
    [code] = await make_codes(db, tenant, count=1, minutes=60, max_devices=2, quota_kb=2048)
    first = await redeem(db, tenant, code, device(1))
    assert (first.minutes_left, first.quota_kb, first.again) == (60, 2048, False)
    await db.execute(
        "UPDATE vouchers SET first_used_at = now() - interval '50 minutes 30 seconds'"
        " WHERE merchant_id = $1 AND code = $2",
        tenant.merchant_id,
        code,
    )
    second = await redeem(db, tenant, code, device(2))
    assert (second.minutes_left, second.again) == (9, False)  # 9.5 minutes left, whole ones
    again = await redeem(db, tenant, code, device(1))  # the first device comes back
    assert (again.minutes_left, again.again) == (9, True)
    with pytest.raises(vouchers.VoucherFull):
        await redeem(db, tenant, code, device(3))
    await db.execute(
        "UPDATE vouchers SET first_used_at = now() - interval '59 minutes 30 seconds'"
        " WHERE merchant_id = $1 AND code = $2",
        tenant.merchant_id,
        code,
    )
    with pytest.raises(vouchers.VoucherTimeUsed):
        await redeem(db, tenant, code, device(1))


async def test_the_same_device_may_redeem_a_single_device_code_again(
    db: asyncpg.Pool, tenant: Tenant
) -> None:
    [code] = await make_codes(db, tenant, count=1)
    assert not (await redeem(db, tenant, code, device(1))).again
    assert (await redeem(db, tenant, code, device(1))).again
    with pytest.raises(vouchers.VoucherFull):
        await redeem(db, tenant, code, device(2))
    rows = await db.fetchval(
        "SELECT count(*) FROM voucher_devices WHERE merchant_id = $1 AND code = $2",
        tenant.merchant_id,
        code,
    )
    assert rows == 1


async def test_valid_until_keeps_new_devices_out_but_not_those_on_the_voucher(
    db: asyncpg.Pool, tenant: Tenant
) -> None:
    soon = datetime.now(UTC) + timedelta(seconds=30)
    [code] = await make_codes(db, tenant, count=1, max_devices=2, valid_until=soon)
    await redeem(db, tenant, code, device(1))
    await db.execute(
        "UPDATE voucher_batches SET valid_until = now() - interval '1 second'"
        " WHERE merchant_id = $1",
        tenant.merchant_id,
    )
    assert (await redeem(db, tenant, code, device(1))).again
    with pytest.raises(vouchers.VoucherExpired):
        await redeem(db, tenant, code, device(2))


async def test_a_code_for_another_store_unknown_or_revoked_lets_no_one_in(
    db: asyncpg.Pool, tenant: Tenant
) -> None:
    other_store = await accounts.create_store(db, tenant.merchant_id, "Other store")
    [elsewhere] = await make_codes(db, tenant, count=1, store_id=other_store)
    [here, any_store, revoked] = await make_codes(db, tenant, count=3)
    [for_this] = await make_codes(db, tenant, count=1, store_id=tenant.store_id)
    with pytest.raises(vouchers.VoucherOtherStore):
        await redeem(db, tenant, elsewhere, device(1))
    with pytest.raises(vouchers.UnknownVoucher):
        await redeem(db, tenant, "ABCDEFGHJK", device(1))
    other_merchant = await make_tenant(db, with_ad=False)
    with pytest.raises(vouchers.UnknownVoucher):  # a code of another merchant is unknown here
        await vouchers.redeem(
            db, other_merchant.merchant_id, other_merchant.store_id, here, device(1)
        )
    batch_id = (await vouchers.list_batches(db, tenant.merchant_id))[1].batch_id
    assert await vouchers.revoke_code(db, tenant.merchant_id, batch_id, revoked, actor=TEST_ACTOR)
    with pytest.raises(vouchers.VoucherRevoked):
        await redeem(db, tenant, revoked, device(1))
    assert (await redeem(db, tenant, any_store, device(1))).minutes_left == 60
    assert (await redeem(db, tenant, for_this, device(2))).minutes_left == 60
    refused = await db.fetchval(
        "SELECT count(*) FROM vouchers WHERE merchant_id = $1 AND first_used_at IS NOT NULL",
        tenant.merchant_id,
    )
    assert refused == 2  # the refused codes' clocks did not start


# -- concurrency --------------------------------------------------------------------------------


async def race(db: asyncpg.Pool, tenant: Tenant, code: str, devices: int) -> list[object]:
    """`devices` different devices redeeming `code` at once, each on its own connection."""
    start = asyncio.Event()

    async def one(n: int) -> object:
        await start.wait()
        try:
            return await redeem(db, tenant, code, device(1000 + n))
        except vouchers.VoucherRefused as refused:
            return refused

    tasks = [asyncio.create_task(one(n)) for n in range(devices)]
    await asyncio.sleep(0)
    start.set()
    return await asyncio.gather(*tasks)


@pytest.mark.parametrize("max_devices", [1, 3])
async def test_concurrent_redemptions_admit_exactly_as_many_devices_as_allowed(
    db: asyncpg.Pool, tenant: Tenant, max_devices: int
) -> None:
    codes = await make_codes(db, tenant, count=5, max_devices=max_devices)
    for code in codes:
        results = await race(db, tenant, code, devices=12)
        won = [r for r in results if isinstance(r, vouchers.Redemption)]
        lost = [r for r in results if not isinstance(r, vouchers.Redemption)]
        assert len(won) == max_devices
        assert all(isinstance(r, vouchers.VoucherFull) for r in lost)
        stored = await db.fetchval(
            "SELECT count(*) FROM voucher_devices WHERE merchant_id = $1 AND code = $2",
            tenant.merchant_id,
            code,
        )
        assert stored == max_devices


# -- guessing -----------------------------------------------------------------------------------


async def test_refused_codes_are_rate_limited_per_device_and_per_ip(
    db: asyncpg.Pool, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    router, portal = await store_gateway(db, tenant.router.router_id)
    portal = dataclasses.replace(portal, login_methods=["click", "voucher"])
    client = FasClient(
        "h" * 64, "10.0.0.2", "aa:bb:cc:00:00:01", "192.168.8.1:2050", None, "", "", "", {}
    )

    def visit(n: int) -> Visit:
        return Visit(router, portal, client, device(n))

    secret = "test-secret"
    [code] = await make_codes(db, tenant, count=1, max_devices=5)

    async def attempt(n: int, typed: str, ip: str = "203.0.113.7") -> object:
        try:
            return await vouchers.voucher_login(
                db, secret, visit(n), typed=typed, accepted_terms=True, ip=ip
            )
        except vouchers.VoucherRefused as refused:
            return refused

    for _ in range(vouchers.DEVICE_REFUSALS.max_hits):
        assert isinstance(await attempt(1, "ZZZZZZZZZZ"), vouchers.UnknownVoucher)
    # The device is held back, even with the right code; another device is not.
    assert isinstance(await attempt(1, code), vouchers.TooManyVoucherTries)
    assert (await attempt(2, code)).voucher_code == code
    ip_limit = dataclasses.replace(
        vouchers.IP_REFUSALS, max_hits=vouchers.DEVICE_REFUSALS.max_hits + 3
    )
    monkeypatch.setattr(vouchers, "IP_REFUSALS", ip_limit)
    for n in range(3, 6):  # new devices from the same IP: the IP's count goes on
        assert isinstance(await attempt(n, "ZZZZZZZZZZ"), vouchers.UnknownVoucher)
    assert isinstance(await attempt(7, code), vouchers.TooManyVoucherTries)
    assert (await attempt(7, code, ip="198.51.100.1")).voucher_code == code
    subjects = await db.fetch(
        "SELECT subject FROM portal_rate_limits WHERE merchant_id = $1", tenant.merchant_id
    )
    assert all("203.0.113.7" not in r["subject"] for r in subjects)  # only keyed hashes
