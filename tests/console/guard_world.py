"""Two merchants with real data for the console's guards (tests/console/test_guards.py): each
with a store, staff, a router, a voucher batch, a coupon with claimed codes, a POS key with a
lock and a redemption, an advertiser of its own with a campaign, line item, cap and creative,
an approval request, a block, an audit entry, a pending invitation, the owner's session, and
marketing's tag, webhook, trigger, segment and profiles.
Every name carries the tenant's tag, so a page that shows any of B's names shows B's tag."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
from aiohttp.test_utils import TestClient

from accounts import audit, invitations, operators
from accounts import services as accounts
from accounts.email import OutboxEmailProvider
from accounts.web import SESSION_COOKIE
from ads import advertisers, pos_keys
from ads import services as ads
from ads.pos_api import PREFIX as POS_PREFIX
from controller.services import register_router
from kernel.config import Settings
from marketing import segments as marketing_segments
from marketing import tags as marketing_tags
from marketing import triggers as marketing_triggers
from portal import look, vouchers
from portal import stores as portal
from tests.ads.test_advertiser_pages import CAMPAIGN, line_item, png, upload
from tests.console.test_console_app import PASSWORD
from tests.factories import PNG_1X1
from tests.marketing.test_marketing_console import add_webhook


@dataclass
class Principal:
    """A signed-in console user: the session cookie's token and its CSRF token."""

    role: str
    user_id: uuid.UUID
    token: str
    csrf: str

    @property
    def cookie(self) -> dict[str, str]:
        return {"Cookie": f"{SESSION_COOKIE}={self.token}"}


@dataclass
class Tenant:
    tag: str  # in every name of the tenant's records
    merchant_id: uuid.UUID
    store_id: uuid.UUID
    advertiser_id: uuid.UUID  # an advertiser of its own (not the merchant's own one)
    ids: dict[str, str]  # a path parameter's name → this tenant's record of that kind
    fields: dict[str, str]  # a query or form field naming a record → this tenant's
    principals: dict[str, Principal]
    pos_token: str
    secrets: list[str] = field(default_factory=list)  # codes and other texts only B shows
    # A second store, not given to the staff member, with a router and a voucher batch of its
    # own: its ids by path parameter, and the tag in its names.
    hidden_ids: dict[str, str] = field(default_factory=dict)
    hidden_tag: str = ""

    @property
    def advertiser_ids(self) -> list[uuid.UUID]:
        return [uuid.UUID(self.ids["advertiser_id"]), self.advertiser_id]

    @property
    def user_ids(self) -> list[uuid.UUID]:
        return [p.user_id for p in self.principals.values()]


async def signed_in(db: asyncpg.Pool, role: str, user_id: uuid.UUID) -> Principal:
    new = await accounts.start_session(db, user_id)
    session = await accounts.session_for_token(db, new.token)
    assert session is not None
    return Principal(role, user_id, new.token, session.csrf_token)


async def an_operator(db: asyncpg.Pool) -> Principal:
    """A platform operator (as `portico operator add` makes one), member of no merchant."""
    user_id = await accounts.create_user(
        db, f"operator-{uuid.uuid4().hex}@example.com", "Operator", PASSWORD
    )
    await operators.grant(db, user_id)
    return await signed_in(db, "operator", user_id)


async def build_tenant(
    db: asyncpg.Pool, settings: Settings, client: TestClient, letter: str
) -> Tenant:
    tag = f"tenant{letter}{uuid.uuid4().hex[:10]}"
    now = datetime.now(UTC)
    users: dict[str, uuid.UUID] = {}
    for role in ("owner", "staff", "advertiser"):
        users[role] = await accounts.create_user(
            db, f"{role}-{tag}@example.com", f"{role.title()} {tag}", PASSWORD
        )
    async with db.acquire() as conn, conn.transaction():
        merchant_id = await accounts.create_merchant(conn, f"Merchant {tag}")
        # Unlimited: the tenant has two of everything, and the routes add more.
        await operators.change_plan(conn, merchant_id, "premium", audit.Actor.system("guards"))
        store_id = await accounts.create_store(conn, merchant_id, f"Store {tag}")
        await accounts.add_membership(conn, merchant_id, users["owner"], "owner")
        await accounts.add_membership(conn, merchant_id, users["staff"], "staff")
        await portal.upsert_store_portal(
            conn,
            merchant_id,
            store_id,
            brand_name=f"Brand {tag}",
            session_minutes=45,
            up_kbps=1000,
            down_kbps=4000,
            welcome_en=f"Welcome {tag}",
            welcome_zh=f"欢迎 {tag}",
        )
        router = await register_router(
            conn, merchant_id, store_id, f"ap-{uuid.uuid4().hex[:12]}", f"Router {tag}"
        )
        hidden_tag = f"backroom{uuid.uuid4().hex[:10]}"
        hidden_store = await accounts.create_store(conn, merchant_id, f"Store {hidden_tag}")
        hidden_router = await register_router(
            conn, merchant_id, hidden_store, f"ap-{uuid.uuid4().hex[:12]}", f"Router {hidden_tag}"
        )
        await accounts.set_member_stores(conn, merchant_id, users["staff"], [store_id])
        await audit.record_change(
            conn,
            merchant_id,
            audit.Actor.system("guards test"),
            "store.update",
            target_id=store_id,
            target_name=f"Store {tag}",
            before={"name": "Old name"},
            after={"name": f"Store {tag}"},
        )
        own = await ads.create_campaign(
            conn,
            merchant_id,
            advertiser=f"Own advertiser {tag}",
            name=f"Offer {tag}",
            starts_at=now - timedelta(hours=1),
            ends_at=now + timedelta(days=30),
            headline_en=f"Tea {tag}",
            headline_zh=f"茶 {tag}",
            body_en="",
            body_zh="",
            image=PNG_1X1,
            coupon=(f"Coupon {tag}", f"优惠 {tag}", now + timedelta(days=30), 6),
            holdout_share=Decimal(0),
        )
        assert own.coupon_id is not None
        claimed = [
            (await ads.claim_coupon(conn, merchant_id, own.coupon_id, f"dev-{tag}-{i}")).code
            for i in range(3)
        ]
        advertiser_id = await advertisers.create_advertiser(
            conn, f"Advertiser {tag}", category="food"
        )
        await advertisers.add_member(conn, advertiser_id, users["advertiser"], "admin")
    batch_id = await vouchers.create_batch(
        db,
        merchant_id,
        vouchers.BatchSpec(
            name=f"Batch {tag}",
            store_id=store_id,
            minutes=60,
            quota_kb=0,
            max_devices=1,
            valid_until=None,
            count=3,
        ),
        created_by=users["owner"],
        now=now,
    )
    hidden_batch = await vouchers.create_batch(
        db,
        merchant_id,
        vouchers.BatchSpec(f"Batch {hidden_tag}", hidden_store, 60, 0, 1, None, 2),
        created_by=users["owner"],
        now=now,
    )
    key = await pos_keys.create_key(
        db,
        settings.secret_key,
        merchant_id,
        name=f"Till {tag}",
        store_id=None,
        created_by=users["owner"],
    )
    await advertisers.add_block(
        db, merchant_id, advertiser_id=None, category="beauty", created_by=users["owner"]
    )
    principals = {role: await signed_in(db, role, user_id) for role, user_id in users.items()}

    # The POS API: a lock on one claimed code, a redemption of another.
    bearer = {"Authorization": f"Bearer {key.token}"}
    locked = await client.post(
        POS_PREFIX + "/codes/lock", json={"code": claimed[0]}, headers=bearer
    )
    assert locked.status == 200, await locked.text()
    lock_id = (await locked.json())["lock_id"]
    redeemed = await client.post(
        POS_PREFIX + "/codes/redeem",
        json={"code": claimed[1], "store_id": str(store_id)},
        headers={**bearer, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert redeemed.status == 200, await redeemed.text()
    redemption_id = (await redeemed.json())["redemption_id"]

    # The advertiser console: a campaign asking this merchant, a cap, a creative with its file.
    adv = principals["advertiser"]
    base = {"csrf_token": adv.csrf, "advertiser": str(advertiser_id)}
    made = await client.post(
        "/advertiser/campaigns",
        data={**base, **CAMPAIGN, "name": f"Campaign {tag}"},
        headers=adv.cookie,
        allow_redirects=False,
    )
    assert made.status == 303, await made.text()
    (campaign_id,) = [r["campaign_id"] for r in await advertisers.list_campaigns(db, advertiser_id)]
    url = f"/advertiser/campaigns/{campaign_id}"
    for path, form in (
        ("/line-items", line_item(merchant_id, name=f"Line {tag}")),
        (
            "/caps",
            {"scope": "campaign", "scope_id": "", "max_count": "3", "period": "day"},
        ),
    ):
        saved = await client.post(
            url + path, data={**base, **form}, headers=adv.cookie, allow_redirects=False
        )
        assert saved.status == 303, await saved.text()
    uploaded = await client.post(
        url + "/creatives",
        data=upload(base, png(), "tea.png", headline_en=f"Headline {tag}"),
        headers=adv.cookie,
        allow_redirects=False,
    )
    assert uploaded.status == 303, await uploaded.text()
    (item,) = await advertisers.list_line_items(db, advertiser_id, campaign_id)
    (cap,) = await advertisers.list_caps(db, advertiser_id)
    (creative,) = await advertisers.list_creatives(db, advertiser_id, campaign_id)
    (block,) = await advertisers.list_blocks(db, merchant_id)
    # It ran: an impression in the merchant's venue (the merchant's ad reports list it).
    await db.execute(
        "INSERT INTO ad_events (merchant_id, event_id, kind, identity, advertiser_id,"
        " campaign_id, line_item_id, creative_id, occurred_at)"
        " VALUES ($1, $2, 'impression', $3, $4, $5, $6, $7, now())",
        merchant_id,
        uuid.uuid4(),
        f"dev-{tag}",
        advertiser_id,
        campaign_id,
        item["line_item_id"],
        creative["creative_id"],
    )

    logo = await look.save_picture(  # the store's portal logo (portal/look.py)
        db, merchant_id, store_id, f"Store {tag}", "logo", png(), audit.Actor.system("guards")
    )
    assert logo is not None

    # Marketing: a tag of its own (the defaults are every merchant's, same ids), a webhook, a
    # trigger at the store reading the tag, and two shoppers' profiles, one holding the tag.
    # The tag's id is in its pages' paths: not the tenant's tag (pages echo their path).
    tag_id = f"tag_{uuid.uuid4().hex[:12]}"
    await marketing_tags.save_tag(
        db,
        merchant_id,
        tag_id,
        f"标签 {tag}",
        f"Tag {tag}",
        {"fact": "visits_30d", "op": ">=", "value": 2},
    )
    webhook_id = await add_webhook(
        db, settings.secret_key, merchant_id, f"https://hooks.example.com/{tag}", f"secret-{tag}"
    )
    trigger_id = await marketing_triggers.save_trigger(
        db,
        merchant_id,
        marketing_triggers.TriggerSpec(
            name_zh=f"触发 {tag}",
            name_en=f"Trigger {tag}",
            event="dwell",
            dwell_minutes=20,
            store_id=store_id,
            rule={"all": [{"fact": "visits_30d", "op": ">=", "value": 2}, {"tag": tag_id}]},
            channel="portal",
            offer_key=f"offer-{tag}",
            message_zh=f"优惠 {tag}",
            message_en=f"Offer {tag}",
        ),
    )
    segment = await marketing_segments.save_segment(  # shared: the advertisers' page's
        db,
        merchant_id,
        marketing_segments.SegmentSpec(f"人群 {tag}", f"Segment {tag}", {"tag": tag_id}, True),
    )
    for held in ({tag_id: 1}, {}):
        await db.execute(
            "INSERT INTO marketing_profiles (merchant_id, profile_key, created_at, visits_total,"
            " recent_visits, last_seen_at, tags, updated_at)"
            " VALUES ($1, $2, $3, 2, $4, $3, $5, $3)",
            merchant_id,
            "d:" + uuid.uuid4().hex,
            now,
            [now - timedelta(days=3), now],
            held,
        )

    # A pending invitation, and the owner's console session (the Team and Sessions pages).
    invited = await invitations.invite(
        db,
        OutboxEmailProvider(db),
        merchant_id,
        users["owner"],
        email=f"invitee-{tag}@example.com",
        role="staff",
        store_ids=[store_id],
        language="en",
        accept_url=settings.console_url + "/invite",
    )
    assert invited.sent
    invitation_id = invited.invitation_id
    owner_session = await accounts.session_for_token(db, principals["owner"].token)
    assert owner_session is not None

    ids = {
        "merchant_id": str(merchant_id),  # the operator's pages
        "user_id": str(users["staff"]),  # a member, on the Team pages
        "invitation_id": str(invitation_id),
        "session_id": str(owner_session.session_id),
        "store_id": str(store_id),
        "image_id": str(logo.image_id),
        "router_id": router.router.router_id,
        "batch_id": str(batch_id),
        "key_id": str(key.key_id),
        "advertiser_id": str(advertiser_id),
        "campaign_id": str(campaign_id),
        "line_item_id": str(item["line_item_id"]),
        "cap_id": str(cap["cap_id"]),
        "creative_id": str(creative["creative_id"]),
        "file_id": str(creative["file_id"]),
        "block_id": str(block["block_id"]),
        "lock_id": str(lock_id),
        "redemption_id": str(redemption_id),
        "tag_id": tag_id,
        "trigger_id": str(trigger_id),
        "segment_id": str(segment.segment_id),
    }
    fields = {
        "merchant": str(merchant_id),
        "merchant_id": str(merchant_id),
        "store": str(store_id),
        "store_id": str(store_id),
        "advertiser": str(advertiser_id),
        "campaign": str(campaign_id),
        "coupon": str(own.coupon_id),
        "code": claimed[2],
        "redemption": str(redemption_id),
        "lock_id": str(lock_id),
        "webhook": str(webhook_id),
    }
    voucher_codes = await db.fetch(
        "SELECT code FROM vouchers WHERE merchant_id = $1 AND batch_id = $2",
        merchant_id,
        batch_id,
    )
    coupon_codes = await db.fetch(
        "SELECT code FROM coupon_codes WHERE merchant_id = $1", merchant_id
    )
    secrets = [tag, *(r["code"] for r in voucher_codes), *(r["code"] for r in coupon_codes)]
    return Tenant(
        tag,
        merchant_id,
        store_id,
        advertiser_id,
        ids,
        fields,
        principals,
        key.token,
        secrets,
        {
            "store_id": str(hidden_store),
            "router_id": hidden_router.router.router_id,
            "batch_id": str(hidden_batch),
        },
        hidden_tag,
    )
