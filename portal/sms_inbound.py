"""Shoppers' replies to our texts (上行短信, "mobile originated"): a "T" ends their consent to
marketing SMS (docs/logins.md, "Marketing SMS consent"; every marketing text says "回T退订",
portal/services.py).

Alibaba Cloud pushes the replies it receives to an HTTP address set in its SMS console ("HTTP
批量推送模式", message type SmsUp; help.aliyun.com/zh/sms/developer-reference/smsup-http): a
POST whose JSON body is an array of {phone_number, send_time, content, sign_name, dest_code,
sequence_id}, answered HTTP 200 with {"code": 0, "msg": "接收成功"}; any other answer (or none)
makes it push the batch again after 1, 5 and 10 minutes. The push is not signed, so the address
carries a secret of ours (`/sms/replies/aliyun/<PORTICO_ALIYUN_SMS_INBOUND_TOKEN>`; unset: 404).
simulators/aliyun_sms.py pushes as the service does, for the tests.

An opt-out word (`OPT_OUT_WORDS`: T, TD, R, which Alibaba Cloud's own marketing templates
name, 退订, STOP, …) withdraws every marketing-SMS consent in force of that number at every
merchant (`withdrawn_via = 'sms_reply'`): every merchant's texts go out under the platform's one
sign name, so the shopper cannot tell which one they answer, and an opt-out honoured too widely
harms nobody. Each merchant's withdrawal is told to marketing through the portal's hook, in the
same transaction (a consent event, channel sms). A batch pushed again finds nothing in force and
tells nothing. Any other reply is ignored. The number is never logged.
"""

from __future__ import annotations

import hmac
import json
import logging
import unicodedata
import uuid
from collections import defaultdict

import asyncpg
from aiohttp import web

from kernel.shopper_events import SHOPPER_EVENTS, OnShopperEvents
from kernel.sql import load_queries
from kernel.web import DB, SETTINGS
from portal import identities
from portal.shopper_events import tell_consent_withdrawn

log = logging.getLogger("portico.portal.sms_inbound")
queries = load_queries(__file__, "sms_inbound.sql")
routes = web.RouteTableDef()

OPT_OUT_WORDS = frozenset(
    {"T", "TD", "R", "N", "0000", "STOP", "UNSUBSCRIBE", "退订", "退订短信", "拒收"}
)
MAX_BODY = 256 * 1024  # bytes of one pushed batch (bounds its replies: every one is read)
ACCEPTED = {"code": 0, "msg": "接收成功"}


def is_opt_out(content: str) -> bool:
    """The reply is an opt-out word (full-width letters, case, spaces and a final full stop
    as phones type them are all read as the word)."""
    word = "".join(unicodedata.normalize("NFKC", content[:40]).split()).upper().rstrip(".。!！")
    return word in OPT_OUT_WORDS


async def handle_replies(
    db: asyncpg.Pool,
    secret_key: str,
    replies: list[tuple[str, str]],
    on_events: OnShopperEvents | None = None,
) -> int:
    """(number, text) replies: each opt-out's number has its marketing-SMS consents in force
    withdrawn at every merchant, told to `on_events`; how many consents ended."""
    phones = set()
    for number, content in replies:
        if not is_opt_out(content):
            continue
        try:
            phones.add(identities.normalize_phone(number))
        except identities.BadPhoneNumber:
            log.info("an opt-out reply from something that is not a mobile number: ignored")
    if not phones:
        return 0
    async with db.acquire() as conn, conn.transaction():
        merchants = [
            r["merchant_id"] for r in await conn.fetch(queries.merchants_with_sms_consents)
        ]
        keys = [
            (m, identities.identify(secret_key, m, "phone", phone).hash)
            for m in merchants
            for phone in sorted(phones)
        ]
        rows = await conn.fetch(
            queries.withdraw_sms_consents, [k[0] for k in keys], [k[1] for k in keys]
        )
        ended: dict[tuple[uuid.UUID, str], list[uuid.UUID]] = defaultdict(list)
        for r in rows:
            ended[(r["merchant_id"], r["identity_hash"])].append(r["consent_id"])
        for (merchant_id, identity), ids in sorted(ended.items()):
            await tell_consent_withdrawn(
                conn, on_events, merchant_id, identity, "marketing_sms", ids
            )
    log.info("%d opt-out replies ended %d marketing-SMS consents", len(phones), len(rows))
    return len(rows)


@routes.post("/sms/replies/aliyun/{token}", name="sms_replies_aliyun")
async def aliyun_replies(request: web.Request) -> web.Response:
    """Alibaba Cloud's SmsUp push. A batch we cannot read is answered 400 (the service pushes
    it again, and gives up after three tries); one read is answered 200 whatever it held."""
    settings = request.app[SETTINGS]
    token = settings.aliyun_sms_inbound_token
    if not token or not hmac.compare_digest(request.match_info["token"].encode(), token.encode()):
        raise web.HTTPNotFound()
    if request.content_length is not None and request.content_length > MAX_BODY:
        return web.json_response({"code": 1, "msg": "too large"}, status=413)
    raw = await request.content.read(MAX_BODY + 1)
    try:
        batch = json.loads(raw) if len(raw) <= MAX_BODY else None
    except (ValueError, UnicodeDecodeError):
        batch = None
    if not isinstance(batch, list):
        log.warning("an SmsUp push that is not a JSON array: refused")
        return web.json_response({"code": 1, "msg": "not a JSON array"}, status=400)
    replies = [
        (item["phone_number"], item["content"])
        for item in batch  # all of it: a reply left unread after our 200 is never pushed again
        if isinstance(item, dict)
        and isinstance(item.get("phone_number"), str)
        and isinstance(item.get("content"), str)
    ]
    await handle_replies(
        request.app[DB], settings.secret_key, replies, request.app.get(SHOPPER_EVENTS)
    )
    return web.json_response(ACCEPTED)
