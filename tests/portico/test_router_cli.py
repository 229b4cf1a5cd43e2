"""`portico router …` (portico/routers.py): which store, what is printed, what is refused."""

from __future__ import annotations

import io
import uuid

import asyncpg
import pytest

import accounts.services as accounts
from accounts import audit
from controller import provisioning
from controller.services import find_router, list_routers, router_count
from kernel.config import Settings
from portico import cli, routers
from tests.accounts.test_plans import at_once, merchant_lock


async def new_merchant(db: asyncpg.Pool, *stores: str) -> tuple[str, list[uuid.UUID]]:
    name = f"CLI Merchant {uuid.uuid4().hex[:8]}"
    merchant_id = await accounts.create_merchant(db, name)
    return name, [await accounts.create_store(db, merchant_id, store) for store in stores]


async def test_add_prints_the_install_command_and_a_qr_code(
    db: asyncpg.Pool, settings: Settings
) -> None:
    store = f"Harbour {uuid.uuid4().hex[:8]}"
    _merchant, [store_id] = await new_merchant(db, store)
    out = io.StringIO()

    claim = await routers.add(db, settings, out, store=store, name="Till 2", fas_level=2)

    text = out.getvalue()
    assert f"Router {claim.router_id} added to {store}" in text
    assert "openNDS FAS level 2" in text
    assert f"  wget -qO- {settings.portal_url}/i/{claim.code} | sh\n" in text
    assert "█" in text  # the QR code
    router = await find_router(db, claim.router_id)
    assert router is not None and router.store_id == store_id and router.name == "Till 2"


async def test_a_store_is_found_by_id_too_and_names_may_need_the_merchant(
    db: asyncpg.Pool, settings: Settings
) -> None:
    store = f"Twin {uuid.uuid4().hex[:8]}"
    first, [first_store] = await new_merchant(db, store)
    _second, [second_store] = await new_merchant(db, store)

    with pytest.raises(routers.CommandError, match=f"2 stores are called '{store}'"):
        await routers.add(db, settings, io.StringIO(), store=store)
    claim = await routers.add(db, settings, io.StringIO(), store=store, merchant=first)
    by_id = await routers.add(db, settings, io.StringIO(), store=str(second_store))

    assert (await find_router(db, claim.router_id)).store_id == first_store  # type: ignore[union-attr]
    assert (await find_router(db, by_id.router_id)).store_id == second_store  # type: ignore[union-attr]
    with pytest.raises(routers.CommandError, match="no store with the id or name 'Nowhere'"):
        await routers.add(db, settings, io.StringIO(), store="Nowhere")


async def test_code_and_revoke(db: asyncpg.Pool, settings: Settings) -> None:
    store = f"Pier {uuid.uuid4().hex[:8]}"
    merchant, _stores = await new_merchant(db, store)
    first = await routers.add(db, settings, io.StringIO(), store=store)
    out = io.StringIO()

    second = await routers.new_code(db, settings, out, first.router_id)

    assert "earlier codes no longer work" in out.getvalue()
    with pytest.raises(provisioning.ClaimReplaced):
        await provisioning.redeem_claim(db, first.code, "192.0.2.80")
    await routers.revoke(db, out, first.router_id)
    assert f"Router {first.router_id} is revoked" in out.getvalue()
    assert await find_router(db, first.router_id) is None
    with pytest.raises(provisioning.RouterRevoked):
        await provisioning.redeem_claim(db, second.code, "192.0.2.80")
    with pytest.raises(routers.CommandError, match="no router"):
        await routers.revoke(db, out, first.router_id)
    # The merchant's audit log has all three, by the command line, and never a code.
    merchant_id = await accounts.merchant_named(db, merchant)
    assert merchant_id is not None
    log = await audit.entries(db, merchant_id)
    assert [(e.action, e.actor_id, e.actor_label) for e in log] == [
        ("router.revoke", None, "portico router revoke"),
        ("router.new_code", None, "portico router code"),
        ("router.create", None, "portico router add"),
    ]
    assert not any(code in repr(log) for code in (first.code, second.code))
    assert log[0].target_name and log[0].target_name == log[2].target_name  # the router's name


async def test_add_over_the_plan_is_refused_with_the_consoles_message(
    db: asyncpg.Pool, settings: Settings
) -> None:
    store = f"Quay {uuid.uuid4().hex[:8]}"
    merchant, [store_id] = await new_merchant(db, store)  # Free: two routers
    for _ in range(2):
        await routers.add(db, settings, io.StringIO(), store=store)

    with pytest.raises(routers.CommandError) as caught:
        await routers.add(db, settings, io.StringIO(), store=store)

    assert str(caught.value) == (
        f"{merchant}: Router limit reached: the Free plan allows 2 in service. The router was "
        "not added; revoke one, or ask Portico to change the plan.\n"
        "路由器数量已达上限：免费版套餐最多 2 台在用。路由器未添加；"
        "请吊销一台，或联系 Portico 更改套餐。"
    )
    merchant_id = await accounts.merchant_named(db, merchant)
    assert merchant_id is not None
    assert await router_count(db, merchant_id) == 2
    first = (await list_routers(db, merchant_id))[0]
    await routers.revoke(db, io.StringIO(), first["router_id"])  # revoked: out of service
    await routers.add(db, settings, io.StringIO(), store=str(store_id))
    assert await router_count(db, merchant_id) == 2


async def test_two_adds_at_once_for_the_last_router_add_one(
    db: asyncpg.Pool, settings: Settings
) -> None:
    store = f"Wharf {uuid.uuid4().hex[:8]}"
    merchant, _stores = await new_merchant(db, store)
    await routers.add(db, settings, io.StringIO(), store=store)  # one of two
    merchant_id = await accounts.merchant_named(db, merchant)
    assert merchant_id is not None

    results = await at_once(
        db,
        merchant_lock(merchant_id),
        lambda: routers.add(db, settings, io.StringIO(), store=store),
        lambda: routers.add(db, settings, io.StringIO(), store=store),
    )

    errors = [r for r in results if isinstance(r, BaseException)]
    assert len(errors) == 1 and "Router limit reached" in str(errors[0])
    assert await router_count(db, merchant_id) == 2


@pytest.fixture
async def full_store(db: asyncpg.Pool, settings: Settings) -> str:
    """A store of a Free merchant with its two routers."""
    store = f"Full {uuid.uuid4().hex[:8]}"
    await new_merchant(db, store)
    for _ in range(2):
        await routers.add(db, settings, io.StringIO(), store=store)
    return store


def test_the_command_exits_1_over_the_plan(
    full_store: str,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """As typed: `portico router add --store …` (portico/cli.py)."""
    monkeypatch.setenv("DATABASE_URL", settings.database_url)

    code = cli.main(["router", "add", "--store", full_store])

    out, err = capsys.readouterr()
    assert code == 1 and "added" not in out
    assert "portico: CLI Merchant" in err and "the Free plan allows 2 in service" in err
    assert "免费版套餐最多 2 台在用" in err
