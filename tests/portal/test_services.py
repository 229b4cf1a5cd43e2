"""What other domains ask of the portal (portal/services.py): marketing's text to a shopper it
knows by identity, through the outbox (one text per message id) or Alibaba Cloud (its
marketing template, the message id as OutId; none without an approved template)."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from accounts import services as accounts
from kernel.config import Settings
from portal import identities, services
from simulators.aliyun_sms import AliyunSmsSim

TEXTS = {"zh-CN": "今天奶茶八折", "en": "20% off milk tea today"}


@pytest.fixture
async def merchant(db: asyncpg.Pool) -> uuid.UUID:
    async with db.acquire() as conn:
        return await accounts.create_merchant(conn, f"Shop {uuid.uuid4().hex[:6]}")


@pytest.fixture
async def aliyun() -> AsyncIterator[AliyunSmsSim]:
    sim = AliyunSmsSim("LTAI5tTestAccessKey", "test-access-key-secret-0123456789")
    await sim.start()
    yield sim
    await sim.stop()


def aliyun_settings(settings: Settings, url: str, marketing_template: str) -> Settings:
    return dataclasses.replace(
        settings,
        sms_provider="aliyun",
        aliyun_sms_access_key_id="LTAI5tTestAccessKey",
        aliyun_sms_access_key_secret="test-access-key-secret-0123456789",
        aliyun_sms_sign_name="波蒂科",
        aliyun_sms_template_code="SMS_1",
        aliyun_sms_marketing_template_code=marketing_template,
        aliyun_sms_endpoint=url,
    )


async def test_a_text_goes_to_the_identitys_proved_number_once_per_message_id(
    db: asyncpg.Pool, settings: Settings, merchant: uuid.UUID
) -> None:
    identity = await identities.remember(
        db, settings.secret_key, merchant, "phone", "+8613811112222", verified=True
    )
    providers = services.SmsProviders(settings, db)
    message = uuid.uuid4()
    for _ in range(2):  # sent again under its id: one text
        await services.text_identity(
            db, providers, settings.secret_key, merchant, identity.hash, message, TEXTS
        )
    rows = await db.fetch(
        "SELECT message_id, body FROM sms_outbox WHERE merchant_id = $1", merchant
    )
    assert [(r["message_id"], r["body"]) for r in rows] == [(message, "今天奶茶八折 回T退订")]


async def test_no_text_to_an_unproved_number_or_an_email_identity(
    db: asyncpg.Pool, settings: Settings, merchant: uuid.UUID
) -> None:
    providers = services.SmsProviders(settings, db)
    unproved = await identities.remember(
        db, settings.secret_key, merchant, "phone", "+8613811113333", verified=False
    )
    email = await identities.remember(
        db, settings.secret_key, merchant, "email", "bo@example.com", verified=False
    )
    for identity in (unproved.hash, email.hash, "0" * 32):
        with pytest.raises(services.NoPhone):
            await services.text_identity(
                db, providers, settings.secret_key, merchant, identity, uuid.uuid4(), TEXTS
            )
    count = "SELECT count(*) FROM sms_outbox WHERE merchant_id = $1"
    assert await db.fetchval(count, merchant) == 0


async def test_alibaba_cloud_sends_the_marketing_template_with_the_message_id_as_outid(
    db: asyncpg.Pool, settings: Settings, merchant: uuid.UUID, aliyun: AliyunSmsSim
) -> None:
    identity = await identities.remember(
        db, settings.secret_key, merchant, "phone", "+8613811114444", verified=True
    )
    providers = services.SmsProviders(aliyun_settings(settings, aliyun.url, "SMS_77"), db)
    message = uuid.uuid4()
    try:
        await services.text_identity(
            db, providers, settings.secret_key, merchant, identity.hash, message, TEXTS
        )
    finally:
        await providers.close()
    [sent] = aliyun.sent
    assert sent["TemplateCode"] == "SMS_77" and sent["OutId"] == message.hex
    assert sent["PhoneNumbers"] == "8613811114444"
    assert json.loads(sent["TemplateParam"]) == {"message": "今天奶茶八折 回T退订"}


async def test_alibaba_cloud_without_a_marketing_template_sends_nothing(
    db: asyncpg.Pool, settings: Settings, merchant: uuid.UUID, aliyun: AliyunSmsSim
) -> None:
    identity = await identities.remember(
        db, settings.secret_key, merchant, "phone", "+8613811115555", verified=True
    )
    providers = services.SmsProviders(aliyun_settings(settings, aliyun.url, ""), db)
    with pytest.raises(services.NoSmsRoute):
        await services.text_identity(
            db, providers, settings.secret_key, merchant, identity.hash, uuid.uuid4(), TEXTS
        )
    assert aliyun.sent == []
