"""accounts.stores: a store's details checked field by field, saved with their audit entry."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from accounts import audit, stores
from accounts import services as accounts

GOOD = {
    "name": "  Jade Tea · West Lake ",
    "address": "1 Nanshan Road",
    "city": "Hangzhou",
    "category": "food",
    "timezone": "Asia/Shanghai",
    "mon_opens": "09:00",
    "mon_closes": "18:30",
    "fri_opens": "18:00",
    "fri_closes": "02:00",  # past midnight
    "sat_opens": "00:00",
    "sat_closes": "00:00",  # all day
}


def test_good_fields_give_the_details() -> None:
    details, _shown, errors = stores.check_fields(GOOD)
    assert errors == {}
    assert details == stores.StoreDetails(
        name="Jade Tea · West Lake",
        address="1 Nanshan Road",
        city="Hangzhou",
        category="food",
        timezone="Asia/Shanghai",
        opening_hours={
            "mon": ("09:00", "18:30"),
            "fri": ("18:00", "02:00"),
            "sat": ("00:00", "00:00"),
        },
    )


@pytest.mark.parametrize(
    ("changed", "field", "message_id"),
    [
        ({"name": "   "}, "name", "st_error_name"),
        ({"name": "x" * 201}, "name", "st_error_name"),
        ({"address": "x" * 301}, "address", "st_error_too_long"),
        ({"city": "Hang\nzhou"}, "city", "st_error_control"),
        ({"city": "x" * 81}, "city", "st_error_too_long"),
        ({"category": "weapons"}, "category", "st_error_category"),
        ({"timezone": "Mars/Olympus"}, "timezone", "st_error_timezone"),
        ({"timezone": "../../etc/passwd"}, "timezone", "st_error_timezone"),
        ({"tue_opens": "09:00"}, "tue_hours", "st_error_hours_pair"),
        ({"mon_closes": "24:00"}, "mon_hours", "st_error_hours_format"),
        ({"mon_opens": "9am"}, "mon_hours", "st_error_hours_format"),
        ({"mon_closes": "09:00"}, "mon_hours", "st_error_hours_same"),
    ],
)
def test_each_bad_field_says_what_is_wrong(
    changed: dict[str, str], field: str, message_id: str
) -> None:
    details, shown, errors = stores.check_fields(GOOD | changed)
    assert details is None
    assert list(errors) == [field]
    assert errors[field][0] == message_id
    assert all(len(v) <= 300 for v in shown.values())


async def test_adding_and_changing_a_store_is_audited(db: asyncpg.Pool) -> None:
    merchant_id = await accounts.create_merchant(db, f"Stores {uuid.uuid4().hex[:8]}")
    actor = audit.Actor.system("test")
    details, _, _ = stores.check_fields(GOOD)
    assert details is not None

    store_id = await stores.add_store(db, merchant_id, details, actor)
    assert await stores.store_details(db, merchant_id, store_id) == details
    assert not await stores.update_store(db, merchant_id, store_id, details, actor)
    moved, _, _ = stores.check_fields(
        GOOD | {"city": "Ningbo", "fri_opens": ""} | {"fri_closes": ""}
    )
    assert moved is not None
    assert await stores.update_store(db, merchant_id, store_id, moved, actor)

    changed, created = await audit.entries(db, merchant_id)
    assert created.action == "store.create" and created.before is None
    assert created.after["opening_hours"]["fri"] == "18:00–02:00"
    assert changed.action == "store.update"
    assert [c[0] for c in changed.changes()] == ["city", "opening_hours"]
    with pytest.raises(stores.UnknownStore):
        await stores.update_store(db, uuid.uuid4(), store_id, moved, actor)
