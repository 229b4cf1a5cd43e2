"""The console's guards, generated from its route table (docs/console.md, "Guards").

Nothing here lists the console's routes: they are read from `make_console_app(...).router`
(sub-applications included; portico/route_table.py), so a route any package adds is covered by
every test below. A path parameter is filled by its name (guard_world.Tenant.ids,
route_table.NON_ID_PARAMS); a route with a parameter of a kind this file cannot fill fails
test_every_path_parameter_can_be_filled, naming it. The only hand-written list is
route_table.PUBLIC: the few routes anyone may open.

- Tenant isolation: merchant A's owner, A's staff and A's advertiser member ask every route
  with B's ids in its path (all of them, and one at a time among A's own): refused (403/404,
  or what an unknown id gets). B's ids in the fields that name records (`?merchant=`,
  `store=`, … and every one A's pages fill with A's ids) are answered as unknown ids. Every
  form of A's pages is replayed, complete, with B's records in place of A's. No answer shows
  B's names or codes; B's rows are unchanged. A's POS key gets nothing of B's; A's staff
  nothing of the store they are not given; anonymous requests are refused.
- CSRF: every state-changing route (POST, PUT, PATCH, DELETE) refuses a signed-in request
  without the session's token and with a wrong one (403, nothing changed). Routes of a
  sub-application marked SESSIONLESS (the POS API, authenticated by its keys) are exempt by
  that rule; a console cookie gets nothing from them.
- Suspension: with A suspended, every state-changing route asked by A's owner and staff is
  403 with the suspension's message (with `merchant=` A and with only the path's ids), nothing
  of A's changed; but their own account's routes and the other roles' consoles.
- Every answer has the security headers (kernel.web.SECURITY_HEADERS) and is no 5xx; no HTML
  page names another host.

Two merchants are built once for the module (guard_world.build_tenant), about 10 s in all;
the tests run in the order written: the pages first, then CSRF, then isolation, whose valid
posts may change A's rows.
"""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from accounts import operators
from accounts.messages import MESSAGES as ACCOUNT_MESSAGES
from accounts.messages_operator import OPERATOR as OPERATOR_MESSAGES
from accounts.web import ANONYMOUS_FORMS, CSRF_FIELD
from ads import pos_keys, pos_openapi
from ads.creative_files import CONTENT_SECURITY_POLICY as FILE_CSP
from ads.pos_api import PREFIX as POS_PREFIX
from kernel.config import Settings
from kernel.web import SECURITY_HEADERS
from portal import console_look, look
from portico.console_app import make_console_app
from portico.route_table import (
    NON_ID_PARAMS,
    PUBLIC,
    STATE_CHANGING,
    Route,
    UnfilledParameter,
    paths,
    route_table,
)
from tests.ads.test_advertiser_pages import png
from tests.console.guard_world import Principal, Tenant, an_operator, build_tenant, signed_in

# Form fields that may name another tenant by design: an advertiser's line item may ask any
# merchant's venues (docs/ads-model.md), which makes a pending request there. Never swapped.
ASKS_ANY_TENANT = frozenset({"target_merchants", "target_stores"})
PRINCIPALS = ("owner", "staff", "advertiser")
CSRF_TEXT = ACCOUNT_MESSAGES["error_csrf"]["en"]
EN = {"Accept-Language": "en"}


@dataclass
class Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


async def ask(
    client: TestClient,
    method: str,
    path: str,
    principal: Principal | None = None,
    fields: Mapping[str, str] | None = None,
    csrf: str | None = "session",
    headers: Mapping[str, str] | None = None,
) -> Answer:
    """One request as `principal` (None: anonymous). `fields` go in the query of a GET, the
    form of anything else, with the session's CSRF token unless `csrf` says otherwise (None:
    none; another text: that one)."""
    sent = {**EN, **(principal.cookie if principal else {}), **(headers or {})}
    options: dict[str, object] = {"headers": sent, "allow_redirects": False}
    if method == "GET":
        options["params"] = dict(fields or {})
    else:
        form = dict(fields or {})
        token = principal.csrf if (principal and csrf == "session") else csrf
        if token is not None and token != "session":
            form[CSRF_FIELD] = token
        options["data"] = form
    async with client.request(method, path, **options) as response:
        return Answer(response.status, response.headers.copy(), await response.read())


async def snapshot(
    db: asyncpg.Pool,
    merchants: Iterable[uuid.UUID],
    advertisers: Iterable[uuid.UUID] = (),
    users: Iterable[uuid.UUID] = (),
) -> dict[str, str]:
    """A digest of every row of these tenants and users, table by table: every table with a
    merchant_id, advertiser_id or user_id column (so a new table is watched too)."""
    return await digest_rows(
        db,
        {
            "merchant_id": [str(m) for m in merchants],
            "advertiser_id": [str(a) for a in advertisers],
            "user_id": [str(u) for u in users],
        },
    )


async def digest_rows(db: asyncpg.Pool, keys: Mapping[str, list[str]]) -> dict[str, str]:
    """{table.column: a digest of its rows whose column is one of keys[column]}, for every
    table with one of these columns."""
    columns = await db.fetch(
        "SELECT c.table_name, c.column_name FROM information_schema.columns c"
        " JOIN information_schema.tables t USING (table_schema, table_name)"
        " WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'"
        " AND c.column_name = ANY($1::text[]) ORDER BY 1, 2",
        list(keys),
    )
    digests = {}
    for row in columns:
        table, column = row["table_name"], row["column_name"]
        if not keys[column]:
            continue
        digests[f"{table}.{column}"] = await db.fetchval(
            f"SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), ''))"  # noqa: S608
            f' FROM "{table}" t WHERE "{column}"::text = ANY($1::text[])',
            keys[column],
        )
    return digests


def changed(before: Mapping[str, str], after: Mapping[str, str]) -> list[str]:
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


def shows(answer: Answer, tenant: Tenant, sent: Iterable[str] = ()) -> list[str]:
    """Which of the tenant's names and codes the answer carries, but those the request sent
    (a page's language links repeat its query)."""
    echoed = " ".join(sent)
    return [s for s in tenant.secrets if s.encode() in answer.body and s not in echoed]


# A response may set a stricter policy of its own: a creative's file (and a store's portal
# picture) is sandboxed, no script; the Portal settings page's preview is sandboxed too, and
# may be framed by the console's own page only (portal/console_look.py), so its X-Frame-Options
# is SAMEORIGIN rather than DENY.
PREVIEW_HEADERS = console_look.PREVIEW_HEADERS
STRICTER_CSP = {FILE_CSP, look.PICTURE_HEADERS["Content-Security-Policy"]}
STRICTER_CSP.add(PREVIEW_HEADERS["Content-Security-Policy"])


def missing_headers(answer: Answer) -> list[str]:
    """The security headers (kernel.web.SECURITY_HEADERS) the answer lacks, and a 5xx."""
    missing = [
        f"{k}: {v}"
        for k, v in SECURITY_HEADERS.items()
        if answer.headers.get(k) != v
        and not (k == "Content-Security-Policy" and answer.headers.get(k) in STRICTER_CSP)
        and not (k == "X-Frame-Options" and _framed_by_the_console(answer))
    ]
    if answer.status >= 500:
        missing.append(f"a working answer (got {answer.status})")
    return missing


def _framed_by_the_console(answer: Answer) -> bool:
    """The preview's answer: framed by the console only (frame-ancestors 'self'), sandboxed."""
    return (
        answer.headers.get("Content-Security-Policy") == PREVIEW_HEADERS["Content-Security-Policy"]
        and answer.headers.get("X-Frame-Options") == PREVIEW_HEADERS["X-Frame-Options"]
    )


def leaks(label: str, answer: Answer, tenant: Tenant, sent: Iterable[str]) -> list[str]:
    """What is wrong with an answer about another tenant, whatever its status: it shows the
    tenant's names or codes (but those sent), lacks a security header, or is a 5xx."""
    found = (
        [f"{label} shows B's {shows(answer, tenant, sent)}"] if shows(answer, tenant, sent) else []
    )
    if missing_headers(answer):
        found.append(f"{label} lacks {missing_headers(answer)}")
    return found


def random_fields(fields: Mapping[str, str]) -> dict[str, str]:
    """The same fields naming records that do not exist."""
    return {
        k: (str(uuid.uuid4()) if _is_uuid(v) else "ZZ" + uuid.uuid4().hex[:8].upper())
        for k, v in fields.items()
    }


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


# Fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def console(settings: Settings, db: asyncpg.Pool) -> AsyncIterator[TestClient]:
    app = make_console_app(settings, db)
    # No cookie jar: each request carries the cookie of the principal it is made as.
    async with TestClient(TestServer(app), cookie_jar=aiohttp.DummyCookieJar()) as client:
        yield client


@pytest.fixture(scope="module")
async def routes(console: TestClient) -> list[Route]:
    return route_table(console.server.app)


@pytest.fixture(scope="module")
async def world(console: TestClient, db: asyncpg.Pool, settings: Settings) -> tuple[Tenant, Tenant]:
    a = await build_tenant(db, settings, console, "a")
    b = await build_tenant(db, settings, console, "b")
    return a, b


@pytest.fixture(scope="module")
async def operator(db: asyncpg.Pool) -> Principal:
    """A platform operator (`portico operator add`), member of no merchant. The operator's
    pages list every merchant by design, so only the pages' own test asks as one; as the
    tenants' principals those pages are 404 (the isolation tests)."""
    return await an_operator(db)


@pytest.fixture(scope="module")
async def a_pages(
    console: TestClient, routes: list[Route], world: tuple[Tenant, Tenant]
) -> dict[str, list[tuple[str, str]]]:
    """Every HTML page of A's as each of A's principals sees it: {role: [(path, html)]}."""
    a, _b = world
    pages: dict[str, list[tuple[str, str]]] = {role: [] for role in PRINCIPALS}
    for route in routes:
        if route.method != "GET" or route.public or route.sessionless:
            continue
        for role in PRINCIPALS:
            for path in paths(route, a.ids):
                answer = await ask(console, "GET", path, a.principals[role])
                if answer.status == 200 and answer.headers.get("Content-Type", "").startswith(
                    "text/html"
                ):
                    pages[role].append((path, answer.text))
    return pages


@pytest.fixture(scope="module")
async def b_fields(
    a_pages: dict[str, list[tuple[str, str]]], world: tuple[Tenant, Tenant]
) -> dict[str, str]:
    """The query and form fields that name a record, with B's records: those the test tenants
    know (Tenant.fields) and every field or link parameter A's own pages fill with one of A's
    ids or codes (so a route reading a new field is asked with B's value in it)."""
    a, b = world
    kinds = {v: k for k, v in a.ids.items()} | {v: k for k, v in a.fields.items()}
    b_values = b.ids | b.fields
    found: dict[str, str] = {}
    for pages in a_pages.values():
        for _path, page in pages:
            found |= naming_fields(page, kinds)
    found = {name: kind for name, kind in found.items() if name not in ASKS_ANY_TENANT}
    return dict(b.fields) | {name: b_values[kind] for name, kind in found.items()}


async def b_rows(db: asyncpg.Pool, b: Tenant) -> dict[str, str]:
    return await snapshot(db, [b.merchant_id], b.advertiser_ids, b.user_ids)


_TAG = re.compile(r"<(input|button|select)\b([^>]*)>", re.IGNORECASE)
_ATTR = re.compile(r'([\w-]+)\s*=\s*"([^"]*)"')
_OPTIONS = re.compile(r"<select\b([^>]*)>(.*?)</select>", re.IGNORECASE | re.DOTALL)
_LINK = re.compile(r'(?:href|action)\s*=\s*"([^"]*\?[^"]*)"', re.IGNORECASE)


def naming_fields(page: str, values: Mapping[str, str]) -> dict[str, str]:
    """The page's form fields and link parameters whose value is one of `values` (a record's
    id or code → its kind): {field name: kind}."""
    page = html.unescape(page)
    found: dict[str, str] = {}
    for _tag, attributes in _TAG.findall(page):
        attrs = dict(_ATTR.findall(attributes))
        if attrs.get("value") in values and "name" in attrs:
            found[attrs["name"]] = values[attrs["value"]]
    for attributes, options in _OPTIONS.findall(page):
        name = dict(_ATTR.findall(attributes)).get("name")
        for value in re.findall(r'value="([^"]*)"', options):
            if name and value in values:
                found[name] = values[value]
    for link in _LINK.findall(page):
        for name, value in parse_qsl(urlsplit(link).query):
            if value in values:
                found[name] = values[value]
    return found


# The route table -----------------------------------------------------------------------------


async def test_the_route_table_is_read_whole(routes: list[Route]) -> None:
    """The generator sees the console's routes of every package and the POS sub-application
    (if it saw none of a kind, the tests below would prove nothing about it)."""
    templates = {r.template for r in routes}
    for expected in (
        "/stores/{store_id}",
        "/advertiser/campaigns/{campaign_id}",
        "/api/footfall/{metric}",
        "/api/pos/v1/codes/redeem",
        "/routers/{router_id}/revoke",
    ):
        assert expected in templates
    assert {r.template for r in routes if r.sessionless} >= {"/api/pos/v1/codes/redeem"}
    assert not PUBLIC - templates, f"PUBLIC names routes that do not exist: {PUBLIC - templates}"


async def test_the_fields_naming_records_are_found_on_the_pages(
    b_fields: dict[str, str], world: tuple[Tenant, Tenant]
) -> None:
    """The pages' own forms and links name the fields the isolation test fills with B's ids
    (if the crawl found none, a route reading a field nobody listed would go unasked)."""
    _a, b = world
    assert {"merchant", "store", "advertiser"} <= b_fields.keys()
    assert b_fields["merchant"] == str(b.merchant_id)
    assert len(b_fields) > len(b.fields), f"nothing found beyond the known fields: {b_fields}"


async def test_every_path_parameter_can_be_filled(
    routes: list[Route], world: tuple[Tenant, Tenant]
) -> None:
    a, _b = world
    unfilled = []
    for route in routes:
        if route.public:
            continue
        try:
            paths(route, a.ids)
        except UnfilledParameter as exc:
            unfilled.append(str(exc))
    assert not unfilled, (
        "give the test tenants a record of each kind (tests/console/guard_world.py, Tenant.ids)"
        " or add the parameter to NON_ID_PARAMS (portico/route_table.py):\n" + "\n".join(unfilled)
    )


# Security headers and external resources -----------------------------------------------------

# Attributes and CSS that make a browser fetch or send something.
_URLS = re.compile(
    r"""(?:src|href|action|srcset|poster|data|formaction)\s*=\s*["']([^"']*)["']"""
    r"""|url\(\s*["']?([^"')]*)""",
    re.IGNORECASE,
)


def other_hosts(html: str, *own_urls: str) -> list[str]:
    """URLs the page fetches, posts to or links to on another host than the console's own, but
    the project's portal (the console links to a store's terms there) and the console's public
    URL (the development email outbox shows the links the emails carry)."""
    found = []
    for match in _URLS.finditer(html):
        for url in filter(None, match.groups()):
            for part in url.split(","):  # srcset
                parts = urlsplit(part.strip().split(" ")[0])
                if any(part.strip().startswith(own.rstrip("/") + "/") for own in own_urls):
                    continue
                if parts.netloc or parts.scheme not in ("", "data"):
                    found.append(part.strip())
    return found


async def test_every_page_has_the_security_headers_and_no_other_host(
    console: TestClient,
    routes: list[Route],
    world: tuple[Tenant, Tenant],
    settings: Settings,
    operator: Principal,
) -> None:
    a, _b = world
    problems, unseen = [], []
    for route in routes:
        if route.method != "GET" or route.sessionless:
            continue
        if "{name}" in route.template:  # static assets: not pages
            continue
        seen_ok = False
        for principal in (None, *(a.principals[r] for r in PRINCIPALS), operator):
            for path in paths(route, a.ids):
                answer = await ask(
                    console,
                    "GET",
                    path,
                    principal,
                    {"merchant": str(a.merchant_id)}
                    if principal and principal.role != "advertiser"
                    else None,
                )
                if missing_headers(answer):
                    problems.append(
                        f"{route} as {principal and principal.role}: "
                        f"{answer.status} lacks {missing_headers(answer)}"
                    )
                if answer.headers.get("Content-Type", "").startswith("text/html"):
                    page = answer.text
                    if route.template == "/email-outbox":
                        # The development outbox shows every mail sent to this database, with
                        # the links each sender's settings made (other tests' hosts too): its
                        # mails' links are what it shows, not what the page fetches.
                        page = re.sub(r"<a\b[^>]*>", "", page)
                    hosts = other_hosts(page, settings.portal_url, settings.console_url)
                    if hosts:
                        problems.append(f"{route} ({answer.status}) names other hosts: {hosts}")
                # A page is seen when it answers; a public one (a form needing its emailed
                # token, the root's redirect) when it answers anyone without an error.
                seen_ok = seen_ok or answer.status == 200 or (route.public and answer.status < 500)
        if not seen_ok:
            unseen.append(str(route))
    assert not problems, "\n".join(problems)
    assert not unseen, f"no principal got these pages with demo data: {unseen}"


# CSRF ------------------------------------------------------------------------------------------


async def test_every_state_changing_route_refuses_a_missing_or_wrong_csrf_token(
    console: TestClient, db: asyncpg.Pool, routes: list[Route], world: tuple[Tenant, Tenant]
) -> None:
    a, b = world
    owner = a.principals["owner"]
    before = await snapshot(
        db, [a.merchant_id, b.merchant_id], [*a.advertiser_ids, *b.advertiser_ids]
    )
    problems, checked = [], 0
    for route in routes:
        if route.method not in STATE_CHANGING or route.sessionless:
            continue  # SESSIONLESS: no cookie is ever read there (the next test)
        anonymous_form = route.template in {path for _c, path in ANONYMOUS_FORMS.values()}
        for path in paths(route, a.ids):
            for principal in (owner, a.principals["advertiser"]):
                for token in (None, "not-the-token-" + "x" * 30):
                    who = None if anonymous_form else principal
                    answer = await ask(console, route.method, path, who, a.fields, csrf=token)
                    checked += 1
                    if answer.status != 403 or CSRF_TEXT not in answer.text:
                        problems.append(f"{route} with token {token!r}: {answer.status}")
    after = await snapshot(
        db, [a.merchant_id, b.merchant_id], [*a.advertiser_ids, *b.advertiser_ids]
    )
    assert not problems, "\n".join(problems)
    assert checked > 50
    assert not changed(before, after), f"rows changed: {changed(before, after)}"


async def test_sessionless_routes_give_a_console_cookie_nothing(
    console: TestClient, routes: list[Route], world: tuple[Tenant, Tenant]
) -> None:
    """The rule that exempts a route from CSRF: its sub-application is SESSIONLESS, so it
    authenticates by its own key and never by the console's cookie (a forged form would carry
    the cookie, not the key)."""
    a, _b = world
    exempt = [r for r in routes if r.sessionless and not r.public]
    assert exempt
    problems = []
    for route in exempt:
        for path in paths(route, a.ids):
            answer = await ask(console, route.method, path, a.principals["owner"], a.fields)
            if answer.status != 401:
                problems.append(f"{route}: {answer.status} {answer.text[:200]}")
    assert not problems, "\n".join(problems)


# Tenant isolation ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    what: str
    path: str
    unknown_path: str  # the same with unknown ids where B's are: as if B's did not exist
    fields: dict[str, str] | None
    strict: bool  # B's id is in the path: the answer must refuse it


def unknown_ids(ids: Mapping[str, str]) -> dict[str, str]:
    return {
        k: (str(uuid.uuid4()) if _is_uuid(v) else f"ap-{uuid.uuid4().hex[:12]}")
        for k, v in ids.items()
    }


def variants(route: Route, a: Tenant, b: Tenant, b_fields: dict[str, str]) -> list[Variant]:
    """A's principal asking about B: B's ids in the path (all of them; and one at a time among
    A's own, so a handler checking only the first cannot pass), and B's ids in the query or
    form fields routes read (`?merchant=`, `store=`, …) on A's own path."""
    out: list[Variant] = []
    ids = [p for p in route.params if p not in NON_ID_PARAMS]
    unknown = unknown_ids(b.ids)
    if ids:
        for path, nowhere in zip(paths(route, b.ids), paths(route, unknown), strict=True):
            out.append(Variant("B's ids", path, nowhere, None, True))
    if len(ids) > 1:
        for param in ids:
            mixed = paths(route, {**a.ids, param: b.ids[param]})
            nowhere = paths(route, {**a.ids, param: unknown[param]})
            for path, elsewhere in zip(mixed, nowhere, strict=True):
                out.append(Variant(f"A's ids but B's {param}", path, elsewhere, None, True))
    for path in paths(route, a.ids):
        out.append(Variant("B's fields", path, path, dict(b_fields), False))
    return out


def refused(route: Route, answer: Answer, unknown: Answer) -> bool:
    """403 or 404; or the 4xx an unknown id gets too, when the form is refused before any
    lookup (400: a required field missing); or 405 from a route for any method but GET."""
    if answer.status in (403, 404):
        return True
    if route.catch_all and answer.status == 405:
        return True
    return 400 <= answer.status < 500 and answer.status == unknown.status


@pytest.mark.parametrize("role", PRINCIPALS)
async def test_a_merchant_never_reaches_another_merchants_records(
    console: TestClient,
    db: asyncpg.Pool,
    routes: list[Route],
    world: tuple[Tenant, Tenant],
    b_fields: dict[str, str],
    role: str,
) -> None:
    a, b = world
    before = await b_rows(db, b)
    problems, asked = [], 0
    for route in routes:
        if route.public or route.sessionless:
            continue
        # A session of its own for each route: one may end it (sign-out, revoking sessions).
        principal = await signed_in(db, role, a.principals[role].user_id)
        for v in variants(route, a, b, b_fields):
            answer = await ask(console, route.method, v.path, principal, v.fields)
            asked += 1
            label = f"{route} as A's {role} with {v.what} ({v.path}): {answer.status}"
            sent = [v.path, *(v.fields or {}).values()]
            if v.strict:
                unknown = await ask(console, route.method, v.unknown_path, principal)
                if not refused(route, answer, unknown):
                    problems.append(f"{label}, not 403/404 (unknown ids: {unknown.status})")
            elif route.method == "GET" and answer.status not in (403, 404):
                # B's record must be as if it did not exist: answered as an unknown id is.
                unknown = await ask(console, "GET", v.path, principal, random_fields(b_fields))
                if unknown.status != answer.status:
                    problems.append(f"{label}, but {unknown.status} for unknown ids")
            problems += leaks(label, answer, b, sent)
    after = await b_rows(db, b)
    assert not problems, "\n".join(problems)
    assert asked > 100
    assert not changed(before, after), f"B's rows changed: {changed(before, after)}"


_FORM = re.compile(r"<form\b([^>]*)>(.*?)</form>", re.IGNORECASE | re.DOTALL)
_TEXTAREA = re.compile(r"<textarea\b([^>]*)>(.*?)</textarea>", re.IGNORECASE | re.DOTALL)
_OPTION = re.compile(r"<option\b([^>]*)>", re.IGNORECASE)


@dataclass(frozen=True)
class Form:
    """A form of one of A's pages, as a browser would submit it untouched."""

    page: str
    method: str
    action: str  # path and query
    fields: tuple[tuple[str, str], ...]
    files: tuple[str, ...]  # file inputs (a small PNG is sent)


def forms_of(page_path: str, page: str) -> list[Form]:
    forms = []
    for form_attrs, body in _FORM.findall(page):
        attrs = dict(_ATTR.findall(form_attrs))
        action = html.unescape(attrs.get("action") or page_path)
        fields: list[tuple[str, str]] = []
        files: list[str] = []
        submitted = False
        for tag, tag_attrs in _TAG.findall(body):
            a = {k: html.unescape(v) for k, v in _ATTR.findall(tag_attrs)}
            name, kind = a.get("name"), a.get("type", "").lower()
            if not name:
                continue
            if tag.lower() == "select":
                continue  # below, with its options
            if kind == "file":
                files.append(name)
            elif kind in ("checkbox", "radio") and not re.search(r"\bchecked\b", tag_attrs):
                continue
            elif tag.lower() == "button" or kind == "submit":
                if not submitted:  # the first button is the one pressed
                    fields.append((name, a.get("value", "")))
                    submitted = True
            else:
                fields.append((name, a.get("value", "")))
        for select_attrs, options in _OPTIONS.findall(body):
            name = dict(_ATTR.findall(select_attrs)).get("name")
            chosen = [dict(_ATTR.findall(o)) | {"_": o} for o in _OPTION.findall(options)]
            if not name or not chosen:
                continue
            picked = [o for o in chosen if re.search(r"\bselected\b", o["_"])] or chosen[:1]
            fields += [(name, html.unescape(o.get("value", ""))) for o in picked]
        for area_attrs, text in _TEXTAREA.findall(body):
            name = dict(_ATTR.findall(area_attrs)).get("name")
            if name:
                fields.append((name, html.unescape(text).strip("\n")))
        method = attrs.get("method", "get").upper()
        forms.append(Form(page_path, method, action, tuple(fields), tuple(files)))
    return forms


def swapped(form: Form, a_to_b: Mapping[str, str], only: str | None = None) -> tuple[str, list]:
    """The form's action and fields with A's records replaced by B's (`only`: that one)."""
    swaps = {only: a_to_b[only]} if only else a_to_b
    action = form.action
    fields = []
    for old, new in swaps.items():
        action = action.replace(old, new)
    for name, value in form.fields:
        if name not in ASKS_ANY_TENANT:
            for old, new in swaps.items():
                value = value.replace(old, new)
        fields.append((name, value))
    return action, fields


def lookalike(value: str) -> str:
    """A value of the same shape that names nothing: a new uuid, or a code's letters and
    digits replaced at random (its dashes kept)."""
    if _is_uuid(value):
        return str(uuid.uuid4())
    alphabet = "ABCDEFGHJKMNPQRSTVWXYZ23456789"
    pick = uuid.uuid4().int
    out = []
    for ch in value:
        out.append(alphabet[pick % len(alphabet)] if ch.isalnum() else ch)
        pick = pick // len(alphabet) or uuid.uuid4().int
    return "".join(out)


async def submit(
    client: TestClient, form: Form, action: str, fields: list, principal: Principal
) -> Answer:
    """The form sent as a browser would, with the principal's cookie and CSRF token."""
    sent = [(n, principal.csrf if n == CSRF_FIELD else v) for n, v in fields]
    options: dict[str, object] = {"headers": {**EN, **principal.cookie}}
    if form.method == "GET":
        options["params"] = sent
    else:
        data = aiohttp.FormData(sent)
        for name in form.files:
            data.add_field(name, png(), filename="x.png", content_type="image/png")
        options["data"] = data
    async with client.request(form.method, action, allow_redirects=False, **options) as response:
        return Answer(response.status, response.headers.copy(), await response.read())


@pytest.mark.parametrize("role", PRINCIPALS)
async def test_a_merchants_own_forms_replayed_with_another_merchants_ids_are_refused(
    console: TestClient,
    db: asyncpg.Pool,
    a_pages: dict[str, list[tuple[str, str]]],
    world: tuple[Tenant, Tenant],
    role: str,
) -> None:
    """Every form on A's pages, as A's principal sees it (complete, valid), submitted with B's
    records in place of A's: all at once, then one at a time. B's id in the action's path must
    be refused (403/404) even though the form is valid; B's ids in its fields must show nothing
    of B's and change none of B's rows."""
    a, b = world
    a_to_b = {a.ids[k]: b.ids[k] for k in a.ids} | {a.fields[k]: b.fields[k] for k in a.fields}
    forms = {f for path, page in a_pages[role] for f in forms_of(path, page)}
    before = await b_rows(db, b)
    problems, asked = [], 0
    for form in sorted(forms, key=lambda f: (f.action, f.fields)):
        present = [v for v in a_to_b if v in form.action or any(v in x for _n, x in form.fields)]
        for only in (None, *present) if present else ():
            action, fields = swapped(form, a_to_b, only)
            path_swapped = action.split("?")[0] != form.action.split("?")[0]
            principal = await signed_in(db, role, a.principals[role].user_id)
            answer = await submit(console, form, action, fields, principal)
            asked += 1
            label = f"{form.method} {action} (form on {form.page}, B's {only or 'all'}) as {role}"
            if path_swapped and answer.status not in (403, 404):
                problems.append(f"{label}: {answer.status}, not 403/404")
            elif only and answer.status not in (403, 404):
                # B's value in a field: answered as a value that names nothing would be.
                nowhere, unknown_fields = swapped(form, {only: lookalike(only)}, only)
                unknown = await submit(console, form, nowhere, unknown_fields, principal)
                if unknown.status != answer.status:
                    problems.append(f"{label}: {answer.status}, but {unknown.status} unknown")
            sent = [action, *(v for _n, v in fields)]
            problems += leaks(label, answer, b, sent)
    after = await b_rows(db, b)
    assert not problems, "\n".join(problems)
    assert asked > 10
    assert not changed(before, after), f"B's rows changed: {changed(before, after)}"


def pos_bodies(route: Route) -> list[list[str]]:
    """The fields of each body the POS API documents for the route (ads/pos_openapi.py): one
    body per alternative of a `oneOf` (redeem: by code or by lock)."""
    operation = pos_openapi.document()["paths"][route.template.removeprefix(POS_PREFIX)]
    schema = operation[route.method.lower()]["requestBody"]["content"]["application/json"]
    schema = schema["schema"]
    names = [n for n in schema["properties"] if n in ("code", "lock_id", "store_id")]
    alternatives = [set(one["required"]) for one in schema.get("oneOf", [])]
    if not alternatives:
        return [names]
    chosen = set().union(*alternatives)
    return [[n for n in names if n not in chosen or n in one] for one in alternatives]


async def test_store_staff_never_reach_the_stores_they_are_not_given(
    console: TestClient, db: asyncpg.Pool, routes: list[Route], world: tuple[Tenant, Tenant]
) -> None:
    """A's staff member is given one of A's two stores: every route asked with the other
    store's records (its id, its router, its voucher batch) in the path, one at a time among
    the staff's own, or in `?store=`/`store_id`, refuses them or answers as for an unknown id,
    and never shows the other store's names; its rows are unchanged."""
    a, _b = world
    hidden = a.hidden_ids
    rows = await digest_rows(db, {"store_id": [hidden["store_id"]]})
    problems, asked = [], 0
    for route in routes:
        if route.public or route.sessionless:
            continue
        staff = await signed_in(db, "staff", a.principals["staff"].user_id)
        tries = []
        for param in (p for p in route.params if p in hidden):
            path = paths(route, {**a.ids, param: hidden[param]})[0]
            nowhere = paths(route, {**a.ids, param: unknown_ids(hidden)[param]})[0]
            tries.append((path, nowhere, None))
        for path in paths(route, a.ids):
            fields = {"store": hidden["store_id"], "store_id": hidden["store_id"]}
            tries.append((path, path, fields))
        for path, nowhere, fields in tries:
            answer = await ask(console, route.method, path, staff, fields)
            asked += 1
            label = f"{route} as A's staff ({path}, {fields}): {answer.status}"
            if answer.status not in (403, 404):
                unknown_fields = fields and {k: str(uuid.uuid4()) for k in fields}
                unknown = await ask(console, route.method, nowhere, staff, unknown_fields)
                if fields is None and not refused(route, answer, unknown):
                    problems.append(f"{label}, not 403/404 (unknown ids: {unknown.status})")
                elif fields and route.method == "GET" and unknown.status != answer.status:
                    problems.append(f"{label}, but {unknown.status} for an unknown store")
            if a.hidden_tag.encode() in answer.body:
                problems.append(f"{label} shows the store the staff member is not given")
    assert not problems, "\n".join(problems)
    assert asked > 50
    assert await digest_rows(db, {"store_id": [hidden["store_id"]]}) == rows


async def ask_pos(
    client: TestClient, method: str, path: str, token: str, body: Mapping[str, str]
) -> Answer:
    """The POS API asked with the key `token` and the JSON `body`."""
    bearer = {"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex}
    async with client.request(method, path, json=body, headers=bearer) as response:
        return Answer(response.status, response.headers.copy(), await response.read())


async def test_a_pos_key_never_reaches_another_merchants_codes(
    console: TestClient, db: asyncpg.Pool, routes: list[Route], world: tuple[Tenant, Tenant]
) -> None:
    """The POS API's keys are the merchant's: A's key with B's codes, locks, redemptions and
    store is refused, from the route table as above."""
    a, b = world
    before = await b_rows(db, b)
    problems, checked = [], 0
    for route in routes:
        if not route.sessionless or route.public:
            continue
        tries = [
            (path, {k: b.fields[k] for k in body})
            for path in paths(route, b.ids)
            for body in pos_bodies(route)
        ]
        # A's own code or lock, used "at" B's store.
        tries += [
            (path, {k: a.fields[k] for k in body} | {"store_id": b.fields["store_id"]})
            for path in paths(route, a.ids)
            for body in pos_bodies(route)
            if "store_id" in body
        ]
        for path, sent in tries:
            answer = await ask_pos(console, route.method, path, a.pos_token, sent)
            checked += 1
            if answer.status not in (403, 404, 409, 422) or shows(answer, b, sent.values()):
                problems.append(f"{route} {path} {sent}: {answer.status} {answer.text[:200]}")
    after = await b_rows(db, b)
    assert checked >= 5
    assert not problems, "\n".join(problems)
    assert not changed(before, after), f"B's rows changed: {changed(before, after)}"


async def test_anonymous_requests_are_refused(
    console: TestClient, routes: list[Route], world: tuple[Tenant, Tenant]
) -> None:
    a, _b = world
    problems = []
    for route in routes:
        if route.public:
            continue
        for path in paths(route, a.ids):
            answer = await ask(console, route.method, path, None, a.fields, csrf=None)
            refused = answer.status in (401, 403) or (
                answer.status == 303
                and answer.headers.get("Location", "").startswith("/login")
                and route.method == "GET"
            )
            if not refused or shows(answer, a):
                problems.append(
                    f"{route} anonymous: {answer.status} {answer.headers.get('Location')}"
                )
    assert not problems, "\n".join(problems)


# A suspended merchant ----------------------------------------------------------------------------

# Routes a suspended merchant's member may still use: their own account (portico/suspension.py,
# OWN_ACCOUNT_ROUTES; the forms posted before sign-in are PUBLIC), and the consoles of other
# roles, which answer them as anyone without that role (404).
OWN_ACCOUNT = ("/logout", "/account/sessions/")
OTHER_ROLES = ("/advertiser/", "/api/advertiser/", "/operator/")
SUSPENDED_TEXT = OPERATOR_MESSAGES["error_merchant_suspended"]


async def test_a_suspended_merchants_members_are_refused_every_change_with_the_reason(
    console: TestClient,
    db: asyncpg.Pool,
    routes: list[Route],
    world: tuple[Tenant, Tenant],
    operator: Principal,
) -> None:
    """Once A is suspended, its owner and staff get 403 and the suspension's message (not the
    404 of a foreign id) from every state-changing route of the merchant's console, whether
    the request names A (`merchant=`) or only a record's id in its path, in both languages;
    nothing of A's changes. Their own account's routes still work, and the advertiser's and
    operator's consoles answer them as before (404). A's POS API key is refused on every
    route of the API (403 merchant_suspended), with A's own codes, locks and redemptions."""
    a, _b = world
    en = SUSPENDED_TEXT["en"].format(merchant=f"Merchant {a.tag}")
    zh = SUSPENDED_TEXT["zh-CN"].format(merchant=f"Merchant {a.tag}")
    assert await operators.set_suspended(db, a.merchant_id, True, operator.user_id)
    pos_keys._found.clear()  # as the key cache's 2 seconds passing would
    try:
        before = await snapshot(db, [a.merchant_id], a.advertiser_ids)
        problems, refused_count, pos_refused = [], 0, 0
        for route in routes:
            if route.sessionless and not route.public:
                for path, sent in (
                    (path, {k: a.fields[k] for k in body})
                    for path in paths(route, a.ids)
                    for body in pos_bodies(route)
                ):
                    answer = await ask_pos(console, route.method, path, a.pos_token, sent)
                    pos_refused += 1
                    if answer.status != 403 or b'"merchant_suspended"' not in answer.body:
                        problems.append(f"{route} {path} {sent}: {answer.status} {answer.text}")
                continue
            if route.method not in STATE_CHANGING or route.public:
                continue
            for role in ("owner", "staff"):
                principal = await signed_in(db, role, a.principals[role].user_id)
                for path, fields in ((p, f) for p in paths(route, a.ids) for f in (a.fields, None)):
                    answer = await ask(console, route.method, path, principal, fields)
                    label = f"{route} as A's {role} ({'merchant=A' if fields else 'path only'})"
                    if route.template.startswith(OWN_ACCOUNT + OTHER_ROLES):
                        if en in html.unescape(answer.text):
                            problems.append(f"{label}: refused as suspended, but is not A's")
                        elif route.template.startswith(OTHER_ROLES) and answer.status not in (
                            (404, 405) if route.catch_all else (404,)
                        ):
                            problems.append(f"{label}: {answer.status}, not 404 (or 405)")
                        continue
                    refused_count += 1
                    if answer.status != 403 or en not in html.unescape(answer.text):
                        problems.append(f"{label}: {answer.status}, not 403 with the reason")
        zh_answer = await ask(
            console,
            "POST",
            "/stores/new",
            await signed_in(db, "owner", a.principals["owner"].user_id),
            a.fields,
            headers={"Accept-Language": "zh-CN"},
        )
        after = await snapshot(db, [a.merchant_id], a.advertiser_ids)
    finally:
        await operators.set_suspended(db, a.merchant_id, False, operator.user_id)
        pos_keys._found.clear()
    assert not problems, "\n".join(problems)
    assert refused_count > 50 and pos_refused >= 5
    assert zh_answer.status == 403 and zh in html.unescape(zh_answer.text)
    assert not changed(before, after), f"A's rows changed: {changed(before, after)}"
