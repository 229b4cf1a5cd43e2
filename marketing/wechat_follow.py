"""The "Follow us on WeChat for offers" code on the shopper's "you're online" page: a temporary
parametric QR code (带参数的二维码) of the merchant's Official Account whose scene names the
shopper (docs/marketing.md, "WeChat: following the account").

The portal asks for it through the hook the composition root wires (portico/runtime.py,
`portal.online.OfferHooks.wechat`; the portal never imports marketing) and draws the code
itself from what it holds (portal/qr.py): nothing on the page comes from WeChat's hosts. A
code is made only when

- the merchant has an Official Account set (marketing_wechat_accounts), and
- the shopper has a marketing identity: the session logged in with a phone number, an email
  address or a voucher (its identity's profile, 'i:' + the keyed hash marketing keys profiles
  by), or the device was linked to one at an earlier login; a device alone gets no code (its
  'd:' profile is merged away at its first login, which would lose the link), and
- the shopper has not opted out and does not follow through a code already (consent_wechat).

The scene is random (`secrets`, 32 characters), stored with the merchant, the profile and the
code's end (marketing_wechat_scenes); WeChat pushes it back when the shopper follows
(marketing/wechat_events.py). The same code is shown again while it has more than REUSE_MARGIN
left; then a new one is made. The code is made through the API while the page is being answered,
under a short time limit: any failure (WeChat refusing, busy or unreachable; the AppSecret not
opening) shows no code, is logged, and keeps this process from asking again for that merchant
for BACKOFF seconds, so a broken account does not slow every page down.
"""

from __future__ import annotations

import logging
import secrets
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import aiohttp
import asyncpg
from cryptography.exceptions import InvalidTag

from marketing import profiles, wechat
from marketing.wechat import AccessTokens, WeChatClient, WeChatError, WeChatUnreachable

log = logging.getLogger("portico.marketing.wechat_follow")
queries = wechat.queries

LIFETIME = 7 * 86_400  # seconds a code lives (WeChat allows 30 days)
REUSE_MARGIN = timedelta(days=1)  # a code with less left than this is made anew
TIMEOUT = 3.0  # seconds for each WeChat call made while a page waits
BACKOFF = 60.0  # seconds without asking WeChat for a merchant whose last try failed


class FollowCodes:
    """Makes and keeps the follow codes for the portal's online page. `http` may be left out:
    a session is opened at the first code made and closed by `close` (the portal app's
    cleanup)."""

    def __init__(
        self,
        db: asyncpg.Pool,
        api_url: str,
        secret_key: str,
        *,
        http: aiohttp.ClientSession | None = None,
        timeout: float = TIMEOUT,
        lifetime: int = LIFETIME,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = db
        self._api_url = api_url
        self._secret_key = secret_key
        self._http = http
        self._own_http = http is None
        self._timeout = timeout
        self._lifetime = lifetime
        self._clock = clock
        self._tokens: AccessTokens | None = None
        self._failed: dict[uuid.UUID, float] = {}  # merchant -> when asking again is allowed

    async def close(self) -> None:
        if self._own_http and self._http is not None:
            await self._http.close()
            self._http = None
            self._tokens = None

    async def code_for(
        self, merchant_id: uuid.UUID, identity_hash: str | None, device_hash: str
    ) -> str | None:
        """What the shopper's follow code holds (WeChat's `url`), or None: no account, no
        identity, opted out, following already, or WeChat failed (logged)."""
        if not await self._db.fetchval(queries.has_account, merchant_id):
            return None
        if identity_hash:
            key = profiles.identity_key(identity_hash)
        else:
            key = await self._db.fetchval(queries.device_identity, merchant_id, device_hash)
            if key is None:
                return None
        state = await self._db.fetchrow(queries.follow_state, merchant_id, key)
        if state is not None and (state["opted_out_at"] is not None or state["consent_wechat"]):
            return None
        kept = await self._db.fetchrow(queries.usable_scene, merchant_id, key, REUSE_MARGIN)
        if kept is not None:
            return kept["url"]
        if self._clock() < self._failed.get(merchant_id, 0.0):
            return None
        return await self._make(merchant_id, key)

    async def _make(self, merchant_id: uuid.UUID, key: str) -> str | None:
        scene = secrets.token_urlsafe(24)  # 32 characters of [A-Za-z0-9_-]
        tokens = self._token_source()
        client = tokens.client
        try:
            code = await tokens.call(
                merchant_id, lambda token: client.create_qr(token, scene, self._lifetime)
            )
        except (WeChatError, WeChatUnreachable, InvalidTag) as exc:
            self._failed[merchant_id] = self._clock() + BACKOFF
            what = "the AppSecret does not open" if isinstance(exc, InvalidTag) else str(exc)
            log.warning(
                "merchant %s: no WeChat follow code (%s); none asked for %.0f s",
                merchant_id,
                what,
                BACKOFF,
            )
            return None
        self._failed.pop(merchant_id, None)
        expires_at = datetime.now(UTC) + timedelta(seconds=code.expire_seconds)
        async with self._db.acquire() as conn, conn.transaction():
            await conn.execute(queries.delete_expired_scenes, merchant_id)
            await conn.execute(queries.ensure_profile, merchant_id, key)
            await conn.execute(queries.save_scene, merchant_id, scene, key, code.url, expires_at)
        return code.url

    def _token_source(self) -> AccessTokens:
        if self._tokens is None:
            if self._http is None:
                self._http = aiohttp.ClientSession()
            client = WeChatClient(self._http, self._api_url, timeout=self._timeout)
            self._tokens = AccessTokens(self._db, client, self._secret_key)
        return self._tokens
