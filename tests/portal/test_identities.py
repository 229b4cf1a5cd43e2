"""Shopper identities: normalised, sealed, found by a keyed hash, never stored in the clear."""

from __future__ import annotations

import asyncpg
import pytest

from kernel.privacy import unseal
from portal import identities
from tests.factories import make_tenant


@pytest.mark.parametrize(
    ("typed", "e164"),
    [
        ("13812345678", "+8613812345678"),
        ("+86 138-1234-5678", "+8613812345678"),
        ("+44 7911 123456", "+447911123456"),
    ],
)
def test_phone_numbers_are_normalised(typed: str, e164: str) -> None:
    assert identities.normalize_phone(typed) == e164


@pytest.mark.parametrize(
    "typed", ["", "12345", "010-12345678", "+86 138", "1" * 40, "13812345678<script>"]
)
def test_bad_or_landline_numbers_are_refused(typed: str) -> None:
    with pytest.raises(identities.BadPhoneNumber):
        identities.normalize_phone(typed)


def test_email_addresses_are_normalised_and_checked() -> None:
    assert identities.normalize_email(" Alice@Example.COM ") == "alice@example.com"
    for bad in ("", "alice", "alice@", "a@b@c", "x" * 300 + "@example.com"):
        with pytest.raises(identities.BadEmailAddress):
            identities.normalize_email(bad)


async def test_an_identity_is_sealed_and_found_by_its_hash(db: asyncpg.Pool) -> None:
    secret = "test-secret"
    merchant = (await make_tenant(db)).merchant_id
    first = await identities.remember(
        db, secret, merchant, "phone", "+8613812345678", verified=False
    )
    again = await identities.remember(
        db, secret, merchant, "phone", "+8613812345678", verified=True
    )

    assert first == again and first.masked == "138****5678"
    row = await db.fetchrow(
        "SELECT * FROM shopper_identities WHERE merchant_id = $1 AND identity_hash = $2",
        merchant,
        first.hash,
    )
    assert row["verified_at"] is not None  # the second, verified, sighting marked it
    assert b"13812345678" not in bytes(row["sealed"])
    assert unseal(secret, str(merchant), bytes(row["sealed"])) == "+8613812345678"
    await identities.link_device(db, merchant, "d" * 32, first.hash)
    assert (
        await db.fetchval("SELECT count(*) FROM shopper_devices WHERE merchant_id = $1", merchant)
        == 1
    )
