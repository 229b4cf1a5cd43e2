"""Advertisers, campaigns, line items, creatives and caps for the ad decision's tests.

Written straight into migration 0029's tables: the advertiser console's services that will
create them (ads-model branch) are not on this branch yet. Switch to them once merged."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

import accounts.services as accounts
from tests.factories import PNG_1X1


@dataclass(frozen=True)
class Made:
    advertiser_id: uuid.UUID
    campaign_id: uuid.UUID
    line_item_id: uuid.UUID
    creative_id: uuid.UUID


class AdRows:
    def __init__(self, db: asyncpg.Pool) -> None:
        self.db = db

    async def merchant(self, timezone: str = "Asia/Shanghai") -> tuple[uuid.UUID, uuid.UUID]:
        async with self.db.acquire() as conn:
            merchant_id = await accounts.create_merchant(conn, f"M {uuid.uuid4().hex[:8]}")
            store_id = await accounts.create_store(conn, merchant_id, "Store", timezone)
        return merchant_id, store_id

    async def line_item(
        self,
        merchant_id: uuid.UUID,
        *,
        tier: str = "house",
        pricing: str = "cpm",
        bid_fen: int = 0,
        goal: int | None = None,
        budget_fen: int | None = None,
        holdout: float = 0.0,
        landing_url: str | None = "https://example.com/offer?a=1",
        kind: str = "image",
        caps: list[tuple[str, int, str]] = (),  # type: ignore[assignment]
        own: bool = True,
    ) -> Made:
        """One campaign with one line item and one creative shown at `merchant_id` (its own
        advertiser's, or another advertiser's approved there)."""
        now = datetime.now(UTC)
        adv, camp, li, cr, file_id = (uuid.uuid4() for _ in range(5))
        async with self.db.acquire() as conn, conn.transaction():
            existing = (
                await conn.fetchval(
                    "SELECT advertiser_id FROM advertisers WHERE merchant_id = $1", merchant_id
                )
                if own
                else None
            )
            if existing:
                adv = existing
            else:
                await conn.execute(
                    "INSERT INTO advertisers (advertiser_id, name, merchant_id)"
                    " VALUES ($1, $2, $3)",
                    adv,
                    "Acme Tea",
                    merchant_id if own else None,
                )
            await conn.execute(
                "INSERT INTO ad_campaigns (advertiser_id, campaign_id, name, starts_at, ends_at,"
                " status, holdout_share) VALUES ($1, $2, 'C', $3, $4, 'active', $5)",
                adv,
                camp,
                now - timedelta(hours=1),
                now + timedelta(days=1),
                holdout,
            )
            await conn.execute(
                "INSERT INTO ad_line_items (advertiser_id, line_item_id, campaign_id, name, tier,"
                " pricing, bid_fen, goal_impressions, budget_fen, starts_at, ends_at)"
                " VALUES ($1, $2, $3, 'L', $4, $5, $6, $7, $8, $9, $10)",
                adv,
                li,
                camp,
                tier,
                pricing,
                bid_fen,
                goal,
                budget_fen,
                now - timedelta(hours=1),
                now + timedelta(days=1),
            )
            video = kind == "video"
            await conn.execute(
                "INSERT INTO creative_files (advertiser_id, file_id, kind, content_type, data,"
                " byte_size, width, height, duration_ms, sha256)"
                " VALUES ($1, $2, $3, $4, $5, $6, 1, 1, $7, $8)",
                adv,
                file_id,
                kind,
                "video/mp4" if video else "image/png",
                PNG_1X1,
                len(PNG_1X1),
                5000 if video else None,
                hashlib.sha256(PNG_1X1).digest(),
            )
            await conn.execute(
                "INSERT INTO ad_creatives (advertiser_id, creative_id, campaign_id, kind,"
                " headline_zh, headline_en, landing_url, file_id, countdown_seconds)"
                " VALUES ($1, $2, $3, $4, '为你奉茶', 'Tea for you', $5, $6, $7)",
                adv,
                cr,
                camp,
                kind,
                landing_url,
                file_id,
                5 if video else None,
            )
            await conn.execute(
                "INSERT INTO ad_approvals (merchant_id, campaign_id, advertiser_id, status,"
                " decided_at) VALUES ($1, $2, $3, 'approved', now())",
                merchant_id,
                camp,
                adv,
            )
            scope_ids = {"line_item": li, "campaign": camp, "advertiser": adv, "creative": cr}
            for scope, max_count, period in caps:
                await conn.execute(
                    "INSERT INTO ad_frequency_caps (advertiser_id, cap_id, scope, scope_id,"
                    " max_count, period, window_seconds) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    adv,
                    uuid.uuid4(),
                    scope,
                    scope_ids[scope],
                    max_count,
                    period,
                    3600 if period == "window" else None,
                )
        return Made(adv, camp, li, cr)
