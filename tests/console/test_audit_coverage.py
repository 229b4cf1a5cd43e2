"""Every change to a merchant's data made on the console is in its audit log (docs/console.md,
"Audit log"), generated from the route table as tests/console/test_guards.py is.

Each state-changing route (POST, PUT, PATCH, DELETE) of `make_console_app(...).router` is either
in CHANGES, which makes one valid change through it as the user who would (the owner, staff,
an advertiser's member, the platform operator, a visitor signing up) and expects a new entry in
that merchant's log, or in EXEMPT, which says why it changes no merchant's data. A route in
neither fails test_every_state_changing_route_is_audited_or_exempt by name, so a new route that
forgets its audit entry, or its exemption, is found.

One tenant of tests/console/guard_world.py is built for the module; the changes run in the
order written (the removals last).
"""

from __future__ import annotations

import dataclasses
import html
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from accounts import services as accounts
from accounts.web import CATALOG
from ads import advertisers
from kernel.config import Settings
from kernel.i18n import LANGUAGES
from portico.console_app import make_console_app
from portico.route_table import STATE_CHANGING, Route, route_table
from tests.ads.test_advertiser_pages import CAMPAIGN, line_item, png
from tests.ads.test_redemption import coupon_codes
from tests.console.guard_world import Principal, Tenant, an_operator, build_tenant
from tests.console.test_console_app import PASSWORD, csrf_token
from tests.console.test_guards import EN, forms_of

# Routes that change no merchant's data, and why. Everything else must record an entry.
EXEMPT: dict[str, str] = {
    "POST /sms-outbox/reply": "a shopper's reply, simulated in development (the outbox provider"
    " only): recorded where a pushed reply is, the consent it ends (shopper_consents)",
    "POST /login": "signing in changes no merchant's records",
    "POST /logout": "signing out",
    "POST /signup": "a sign-up request: the merchant is made at /signup/verify",
    "POST /password/forgot": "a reset mail: the same answer whatever the address",
    "POST /password/reset": "the user's own password, no merchant's record",
    "POST /account/sessions/end-others": "the user's own sign-ins",
    "POST /account/sessions/{session_id}/end": "the user's own sign-ins",
    # A sale at the till: the redemption is a row of its own ledger naming the user; its undo
    # and a void are corrections, recorded (below).
    "POST /till/redeem": "a sale, in the redemptions ledger with who made it",
    # The POS API (a key, no console user): each lock, redemption and rollback is a ledger row
    # naming its key; validate only reads.
    "POST /api/pos/v1/codes/validate": "reads a code",
    "POST /api/pos/v1/codes/lock": "a hold in the ledger, by its key",
    "POST /api/pos/v1/locks/{lock_id}/release": "a hold's end in the ledger, by its key",
    "POST /api/pos/v1/codes/redeem": "a sale in the ledger, by its key",
    "POST /api/pos/v1/redemptions/{redemption_id}/rollback": "the ledger's rollback, by its key",
    # An advertiser's own records (campaigns, caps, creatives) are no merchant's: the requests
    # its line items make at a merchant are (POST .../line-items, below).
    "POST /advertiser/campaigns": "the advertiser's own campaign",
    "POST /advertiser/campaigns/{campaign_id}": "the advertiser's own campaign",
    "POST /advertiser/campaigns/{campaign_id}/caps": "the advertiser's own frequency cap",
    "POST /advertiser/campaigns/{campaign_id}/caps/{cap_id}/delete": "the advertiser's own cap",
    "POST /advertiser/campaigns/{campaign_id}/creatives": "the advertiser's own creative",
    "POST /advertiser/campaigns/{campaign_id}/creatives/{creative_id}/file": "its creative",
}


@dataclass
class World:
    client: TestClient  # no cookie jar: each request carries its principal's cookie
    browser: TestClient  # a cookie jar: the anonymous flows' double-submit CSRF cookie
    db: asyncpg.Pool
    tenant: Tenant
    operator: Principal

    @property
    def merchant(self) -> str:
        return str(self.tenant.merchant_id)

    def principal(self, role: str) -> Principal:
        return self.operator if role == "operator" else self.tenant.principals[role]

    async def post(
        self,
        role: str,
        path: str,
        data: Mapping[str, str] | list[tuple[str, str]],
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
    ) -> int:
        who = self.principal(role)
        form = aiohttp.FormData([("csrf_token", who.csrf), *_pairs(data)])
        for name, (filename, body, kind) in (files or {}).items():
            form.add_field(name, body, filename=filename, content_type=kind)
        answer = await self.client.post(
            path, data=form, headers={**EN, **who.cookie}, allow_redirects=False
        )
        text = await answer.text()
        assert answer.status < 400, f"{path}: {answer.status} {_errors(text)}"
        return answer.status

    async def page(self, role: str, path: str) -> str:
        who = self.principal(role)
        answer = await self.client.get(path, headers={**EN, **who.cookie})
        assert answer.status == 200, f"{path}: {answer.status}"
        return await answer.text()

    async def form_post(
        self,
        role: str,
        page: str,
        action: str,
        change: Mapping[str, str],
        pick: Mapping[str, str] | None = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
    ) -> int:
        """Submit the form of `page` that posts to `action` (and has `pick`'s values), as a
        browser would, with `change`'s fields in place of its own."""
        found = [
            f
            for f in forms_of(page, await self.page(role, page))
            if f.method == "POST"
            and f.action.split("?")[0] == action
            and all((k, v) in f.fields for k, v in (pick or {}).items())
        ]
        assert found, f"no form of {page} posts to {action} with {pick}"
        fields = [(n, v) for n, v in found[0].fields if n not in change and n != "csrf_token"]
        return await self.post(role, found[0].action, [*fields, *change.items()], files)


_ERROR = re.compile(r'class="[^"]*(?:error|notice)[^"]*"[^>]*>\s*([^<]+)')


def _errors(page: str) -> list[str]:
    """The error texts a page shows (a failure's message)."""
    return [html.unescape(t.strip()) for t in _ERROR.findall(page)] or [page[:300]]


def _pairs(data: Mapping[str, str] | list[tuple[str, str]]) -> list[tuple[str, str]]:
    return list(data.items()) if isinstance(data, Mapping) else list(data)


Change = Callable[[World], Awaitable[uuid.UUID | None]]  # the merchant (None: the tenant's)
CHANGES: dict[str, Change] = {}


def change(route: str) -> Callable[[Change], Change]:
    def register(fn: Change) -> Change:
        assert route not in CHANGES, f"{route} twice"
        CHANGES[route] = fn
        return fn

    return register


PNG = ("logo.png", png(), "image/png")


@change("POST /stores/{store_id}")
async def _store_update(w: World) -> None:
    path = f"/stores/{w.tenant.store_id}"
    await w.form_post("owner", path, path, {"city": "Audited City", "timezone": "Asia/Shanghai"})


@change("POST /stores/new")
async def _store_create(w: World) -> None:
    fields = {"name": "Audited Store", "category": "grocery", "timezone": "Asia/Shanghai"}
    await w.form_post("owner", f"/stores/new?merchant={w.merchant}", "/stores/new", fields)


@change("POST /portal")
async def _portal(w: World) -> None:
    page = f"/portal?merchant={w.merchant}&store={w.tenant.store_id}"
    await w.form_post("owner", page, "/portal", {"brand_name": "Audited Brand"})


@change("POST /portal/pictures")
async def _portal_picture(w: World) -> None:
    page = f"/portal?merchant={w.merchant}&store={w.tenant.store_id}"
    await w.form_post("owner", page, "/portal/pictures", {}, files={"picture": PNG})


@change("POST /logins")
async def _logins(w: World) -> None:
    page, days = f"/logins?merchant={w.merchant}", {"returning_days": "17"}
    await w.form_post("owner", page, "/logins", days, pick={"form": "methods"})


@change("POST /footfall/settings")
async def _footfall(w: World) -> None:
    page = f"/footfall/settings?merchant={w.merchant}&store={w.tenant.store_id}"
    numbers = {"inside_rssi": "-66", "detected_rssi": "-81", "visit_gap": "660"}
    await w.form_post("owner", page, "/footfall/settings", numbers, pick={"form": "metrics"})


@change("POST /routers/add")
async def _router_add(w: World) -> None:
    fields = {"name": "Audited AP", "store_id": str(w.tenant.store_id), "fas_level": "1"}
    await w.form_post("owner", f"/routers?merchant={w.merchant}", "/routers/add", fields)


@change("POST /routers/{router_id}/code")
async def _router_code(w: World) -> None:
    await w.post("owner", f"/routers/{w.tenant.ids['router_id']}/code", {})


@change("POST /routers/{router_id}/reboot")
async def _router_reboot(w: World) -> None:
    await w.post("owner", f"/routers/{w.tenant.ids['router_id']}/reboot", {})


@change("POST /routers/{router_id}/reapply")
async def _router_reapply(w: World) -> None:
    await w.post("owner", f"/routers/{w.tenant.ids['router_id']}/reapply", {})


@change("POST /vouchers")
async def _voucher_batch(w: World) -> None:
    fields = {"name": "Audited batch", "count": "2"}
    await w.form_post("owner", f"/vouchers?merchant={w.merchant}", "/vouchers", fields)


@change("POST /vouchers/{batch_id}/revoke")
async def _voucher_revoke(w: World) -> None:
    path = f"/vouchers/{w.tenant.ids['batch_id']}/revoke?merchant={w.merchant}"
    await w.post("owner", path, {})


@change("POST /till/undo")
async def _till_undo(w: World) -> None:
    redemption = w.tenant.ids["redemption_id"]
    await w.post("staff", "/till/undo", {"merchant": w.merchant, "redemption": redemption})


@change("POST /till/void")
async def _till_void(w: World) -> None:
    await w.post("owner", "/till/void", {"merchant": w.merchant, "code": w.tenant.fields["code"]})


@change("POST /till/api-keys")
async def _pos_key(w: World) -> None:
    await w.post("owner", "/till/api-keys", {"merchant": w.merchant, "name": "Audited till"})


@change("POST /till/import")
async def _code_import(w: World) -> None:
    coupon_id, _ = await coupon_codes(w.db, w.tenant.merchant_id, count=0, pool="imported")
    fields = {"merchant": w.merchant, "coupon": str(coupon_id)}
    codes = f"AUDIT{uuid.uuid4().hex[:8].upper()}\n".encode()
    await w.post("owner", "/till/import", fields, files={"file": ("c.csv", codes, "text/csv")})


@change("POST /approvals/{campaign_id}")
async def _approval(w: World) -> None:
    path = f"/approvals/{w.tenant.ids['campaign_id']}"
    await w.post("owner", path, {"merchant": w.merchant, "decision": "approved", "reason": ""})


@change("POST /approvals/blocks")
async def _block(w: World) -> None:
    await w.post("owner", "/approvals/blocks", {"merchant": w.merchant, "category": "electronics"})


@change("POST /approvals/blocks/{block_id}/delete")
async def _unblock(w: World) -> None:
    path = f"/approvals/blocks/{w.tenant.ids['block_id']}/delete"
    await w.post("owner", path, {"merchant": w.merchant})


@change("POST /marketing/tags/new")
async def _marketing_tag_new(w: World) -> None:
    fields = {"tag_id": "audited", "name_zh": "审计", "name_en": "Audited", "action": "save"}
    await w.form_post(
        "owner", f"/marketing/tags/new?merchant={w.merchant}", "/marketing/tags/new", fields
    )


@change("POST /marketing/tags/{tag_id}")
async def _marketing_tag(w: World) -> None:
    path = f"/marketing/tags/{w.tenant.ids['tag_id']}"
    fields = {"name_en": "Audited tag", "action": "save"}
    await w.form_post("owner", f"{path}?merchant={w.merchant}", path, fields)


@change("POST /marketing/triggers/new")
async def _marketing_trigger_new(w: World) -> None:
    fields = {"name_zh": "审计", "name_en": "Audited", "offer_key": "audited", "action": "save"}
    page = f"/marketing/triggers/new?merchant={w.merchant}"
    await w.form_post("owner", page, "/marketing/triggers/new", fields)


@change("POST /marketing/triggers/{trigger_id}")
async def _marketing_trigger(w: World) -> None:
    path = f"/marketing/triggers/{w.tenant.ids['trigger_id']}"
    fields = {"offer_key": "audited-offer", "action": "save"}
    await w.form_post("owner", f"{path}?merchant={w.merchant}", path, fields)


@change("POST /marketing/budget")
async def _marketing_budget(w: World) -> None:
    fields = {"max_per_week": "4"}
    await w.form_post(
        "owner", f"/marketing/budget?merchant={w.merchant}", "/marketing/budget", fields
    )


@change("POST /marketing/segments/new")
async def _marketing_segment_new(w: World) -> None:
    fields = {"name_zh": "审计", "name_en": "Audited", "action": "save"}
    page = f"/marketing/segments/new?merchant={w.merchant}"
    await w.form_post("owner", page, "/marketing/segments/new", fields)


@change("POST /marketing/segments/{segment_id}")
async def _marketing_segment(w: World) -> None:
    path = f"/marketing/segments/{w.tenant.ids['segment_id']}"
    fields = {"name_en": "Audited segment", "action": "save"}
    await w.form_post("owner", f"{path}?merchant={w.merchant}", path, fields)


async def _new_campaign(w: World) -> str:
    """A campaign of the tenant's advertiser asking no merchant yet (an exempt route)."""
    advertiser = str(w.tenant.advertiser_id)
    before = {c["campaign_id"] for c in await advertisers.list_campaigns(w.db, advertiser)}
    fields = {**CAMPAIGN, "advertiser": advertiser, "name": f"Audited {uuid.uuid4().hex[:6]}"}
    await w.post("advertiser", "/advertiser/campaigns", fields)
    after = {c["campaign_id"] for c in await advertisers.list_campaigns(w.db, advertiser)}
    (made,) = after - before
    return str(made)


@change("POST /advertiser/campaigns/{campaign_id}/line-items")
async def _line_item(w: World) -> None:
    campaign = await _new_campaign(w)
    fields = {"advertiser": str(w.tenant.advertiser_id), **line_item(w.tenant.merchant_id)}
    await w.post("advertiser", f"/advertiser/campaigns/{campaign}/line-items", fields)


@change("POST /advertiser/campaigns/{campaign_id}/line-items/{line_item_id}")
async def _line_item_update(w: World) -> None:
    campaign = await _new_campaign(w)
    base = f"/advertiser/campaigns/{campaign}/line-items"
    advertiser = {"advertiser": str(w.tenant.advertiser_id)}
    await w.post("advertiser", base, {**advertiser, **line_item("")})  # asks no merchant
    (item,) = await advertisers.list_line_items(w.db, w.tenant.advertiser_id, campaign)
    fields = {**advertiser, **line_item(w.tenant.merchant_id)}
    await w.post("advertiser", f"{base}/{item['line_item_id']}", fields)


@change("POST /operator/merchants/{merchant_id}/plan")
async def _plan(w: World) -> None:
    path = f"/operator/merchants/{w.merchant}/plan"
    await w.post("operator", path, {"plan": "standard"})
    await w.post("operator", path, {"plan": "premium"})  # back: the tenant's routes add more


@change("POST /operator/merchants/{merchant_id}/suspension")
async def _suspension(w: World) -> None:
    path = f"/operator/merchants/{w.merchant}/suspension"
    await w.post("operator", path, {"suspended": "1"})
    await w.post("operator", path, {"suspended": "0"})


@change("POST /operator/plans")
async def _plan_limits(w: World) -> None:
    """The tenant's plan (Premium) given a store limit on its own form, then made unlimited
    again: the run's other tests share the plans, and the tenant's routes add more."""
    await w.form_post(
        "operator",
        "/operator/plans",
        "/operator/plans",
        {"max_stores": "500", "unlimited_stores": ""},
        pick={"plan": "premium"},
    )
    await w.form_post(
        "operator",
        "/operator/plans",
        "/operator/plans",
        {"unlimited_stores": "1"},
        pick={"plan": "premium"},
    )


_INVITE_LINK = re.compile(r"http://\S+(/invite\?token=[A-Za-z0-9_-]+)")
_SIGNUP_LINK = re.compile(r"http://\S+(/signup/verify\?token=[A-Za-z0-9_-]+)")


async def _mailed(w: World, address: str, link: re.Pattern[str]) -> str:
    body = await w.db.fetchval(
        "SELECT body FROM email_outbox WHERE to_address = $1 ORDER BY created_at DESC LIMIT 1",
        address,
    )
    found = link.search(body or "")
    assert found, f"no link in the mail to {address}"
    return html.unescape(found.group(1))


async def _invite(w: World, address: str) -> None:
    fields = [
        ("merchant", w.merchant),
        ("email", address),
        ("role", "staff"),
        ("store", str(w.tenant.store_id)),
    ]
    await w.post("owner", "/team/invite", fields)


@change("POST /team/invite")
async def _team_invite(w: World) -> None:
    await _invite(w, f"audited-{uuid.uuid4().hex[:8]}@example.com")


@change("POST /invite")
async def _accept(w: World) -> None:
    address = f"joiner-{uuid.uuid4().hex[:8]}@example.com"
    await _invite(w, address)
    link = await _mailed(w, address, _INVITE_LINK)
    page = await w.browser.get(link, headers=EN)
    assert page.status == 200
    form = {
        "csrf_token": csrf_token(await page.text()),
        "token": link.partition("token=")[2],
        "display_name": "Joiner",
        "password": PASSWORD,
    }
    answer = await w.browser.post("/invite", data=form, headers=EN, allow_redirects=False)
    assert answer.status < 400, await answer.text()
    w.browser.session.cookie_jar.clear()


@change("POST /signup/verify")
async def _signup(w: World) -> uuid.UUID:
    address = f"founder-{uuid.uuid4().hex[:8]}@example.com"
    token = csrf_token(await (await w.browser.get("/signup", headers=EN)).text())
    form = {"email": address, "password": PASSWORD, "merchant_name": "Audited Café"}
    sent = await w.browser.post("/signup", data={**form, "csrf_token": token}, headers=EN)
    assert sent.status < 400
    link = await _mailed(w, address, _SIGNUP_LINK)
    page = await w.browser.get(link, headers=EN)
    form = {"csrf_token": csrf_token(await page.text()), "token": link.rsplit("=", 1)[1]}
    done = await w.browser.post("/signup/verify", data=form, allow_redirects=False)
    assert done.status == 303, await done.text()
    w.browser.session.cookie_jar.clear()
    user_id = await accounts.user_id_by_email(w.db, address)
    (membership,) = await accounts.memberships_of(w.db, user_id)
    return membership.merchant_id


@change("POST /team/invitations/{invitation_id}/resend")
async def _invitation_resend(w: World) -> None:
    path = f"/team/invitations/{w.tenant.ids['invitation_id']}/resend"
    await w.post("owner", path, {"merchant": w.merchant})


@change("POST /team/invitations/{invitation_id}/revoke")
async def _invitation_revoke(w: World) -> None:
    path = f"/team/invitations/{w.tenant.ids['invitation_id']}/revoke"
    await w.post("owner", path, {"merchant": w.merchant})


@change("POST /team/members/{user_id}")
async def _member_update(w: World) -> None:
    second = await w.db.fetchval(
        "SELECT store_id FROM stores WHERE merchant_id = $1 AND store_id <> $2 LIMIT 1",
        w.tenant.merchant_id,
        w.tenant.store_id,
    )
    fields = [
        ("merchant", w.merchant),
        ("role", "staff"),
        ("store", str(w.tenant.store_id)),
        ("store", str(second)),
    ]
    await w.post("owner", f"/team/members/{w.tenant.ids['user_id']}", fields)


# The removals, last: the tenant's router, POS key and staff member go.
@change("POST /routers/{router_id}/revoke")
async def _router_revoke(w: World) -> None:
    await w.post("owner", f"/routers/{w.tenant.ids['router_id']}/revoke", {})


@change("POST /till/api-keys/{key_id}/revoke")
async def _pos_key_revoke(w: World) -> None:
    path = f"/till/api-keys/{w.tenant.ids['key_id']}/revoke"
    await w.post("owner", path, {"merchant": w.merchant})


@change("POST /marketing/segments/{segment_id}/delete")
async def _marketing_segment_delete(w: World) -> None:
    path = f"/marketing/segments/{w.tenant.ids['segment_id']}"
    await w.form_post("owner", f"{path}?merchant={w.merchant}", path + "/delete", {})


@change("POST /team/members/{user_id}/remove")
async def _member_remove(w: World) -> None:
    path = f"/team/members/{w.tenant.ids['user_id']}/remove"
    await w.post("owner", path, {"merchant": w.merchant})


# Fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def world(settings: Settings, db: asyncpg.Pool) -> AsyncIterator[World]:
    # A secret of its own: this module's sign-up gets a rate-limit counter of its own.
    own = dataclasses.replace(settings, secret_key=f"audit-{uuid.uuid4().hex}" + "x" * 32)
    app, browser_app = make_console_app(own, db), make_console_app(own, db)
    async with (
        TestClient(TestServer(app), cookie_jar=aiohttp.DummyCookieJar()) as client,
        TestClient(TestServer(browser_app)) as browser,
    ):
        tenant = await build_tenant(db, own, client, "a")
        yield World(client, browser, db, tenant, await an_operator(db))


def _state_changing(world: World) -> list[Route]:
    app = world.client.server.app
    return [r for r in route_table(app) if r.method in STATE_CHANGING and not r.catch_all]


# Tests -------------------------------------------------------------------------------------


async def test_every_state_changing_route_is_audited_or_exempt(world: World) -> None:
    routes = {str(r) for r in _state_changing(world)}
    missing = sorted(routes - CHANGES.keys() - EXEMPT.keys())
    assert not missing, f"routes with no audited change and no exemption: {missing}"
    both = sorted(CHANGES.keys() & EXEMPT.keys())
    assert not both, f"routes both audited and exempt: {both}"
    gone = sorted((CHANGES.keys() | EXEMPT.keys()) - routes)
    assert not gone, f"routes listed here that the console no longer has: {gone}"


async def test_each_change_adds_an_entry_to_the_merchants_audit_log(world: World) -> None:
    failures = []
    for route, make in CHANGES.items():
        mark = await world.db.fetchval("SELECT coalesce(max(entry_id), 0) FROM audit_log")
        try:
            merchant_id = await make(world) or world.tenant.merchant_id
        except AssertionError as exc:
            failures.append(f"{route}: the change failed: {exc}")
            continue
        added = await world.db.fetch(
            "SELECT action FROM audit_log WHERE merchant_id = $1 AND entry_id > $2",
            merchant_id,
            mark,
        )
        if not added:
            failures.append(route)
    assert not failures, "changes with no entry in the merchant's audit log:\n" + "\n".join(
        failures
    )


async def test_the_audit_page_names_every_kind_of_entry_in_both_languages(world: World) -> None:
    """After the changes above: each action and field of the tenants' entries has its label in
    both languages, and the page shows the labels, not the codes."""
    catalog = world.client.server.app[CATALOG]
    rows = await world.db.fetch(
        "SELECT DISTINCT action, before, after FROM audit_log WHERE merchant_id = $1",
        world.tenant.merchant_id,
    )
    actions = {r["action"] for r in rows}
    assert {"router.create", "voucher_batch.create", "pos_key.revoke"} <= actions  # it ran
    fields = {
        name for r in rows for record in (r["before"], r["after"]) if record for name in record
    }
    wanted = [f"au_action_{a.replace('.', '_')}" for a in actions]
    wanted += [f"au_field_{name}" for name in fields]
    missing = [m for m in wanted for lang in LANGUAGES if lang not in catalog.get(m, {})]
    assert not missing, f"audit labels missing: {sorted(set(missing))}"
    for lang in LANGUAGES:
        owner = world.principal("owner")
        answer = await world.client.get(
            f"/audit?merchant={world.merchant}",
            headers={"Accept-Language": lang, **owner.cookie},
        )
        page = await answer.text()
        assert answer.status == 200
        assert catalog["au_action_router_create"][lang] in page
        shown = [a for a in actions if f">{a}<" in page]
        assert not shown, f"{lang}: actions shown by their codes: {shown}"


async def test_no_entry_holds_a_code_or_a_key(world: World) -> None:
    """The entries of all those changes hold none of the tenant's voucher or coupon codes, nor
    its POS key (docs/console.md: never a secret)."""
    log = await world.db.fetchval(
        "SELECT string_agg(concat_ws(' ', target_id, target_name, before, after), ' ')"
        " FROM audit_log WHERE merchant_id = $1",
        world.tenant.merchant_id,
    )
    codes = [s for s in world.tenant.secrets if s != world.tenant.tag]
    assert codes, "the world has codes to look for"
    held = [s for s in [*codes, world.tenant.pos_token] if s in log]
    assert not held, f"audit entries hold secrets: {held}"
