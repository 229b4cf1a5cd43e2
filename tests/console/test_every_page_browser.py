"""Every console page in headless Chromium (docs/console.md, "Every page in a browser").

The pages are read from the route table (portico/route_table.py, route_table; sub-apps
included) and filled from the guards' data world (tests/console/guard_world.py: a merchant with
a store, staff, router, vouchers, coupons, POS key, advertiser, campaign, ...). Each GET page is
opened as every kind of user who gets it (anonymous for the public ones; owner, store staff,
advertiser member, platform operator for the others), in zh-CN and English, at desk (1280 px)
and phone (390 px) widths. A page fails on a console error or CSP violation, a failed, 4xx/5xx
or non-local request, sideways overflow, or the basic accessibility checks (ACCESSIBILITY
below). A GET route no user gets as an HTML page fails by name unless EXEMPT says why.

With CONSOLE_SCREENSHOTS=<folder> it saves every page (as the first user who gets it) there:
page-<route>-desk-en.png, -desk-zh-CN.png and -phone-zh-CN.png.

The data are built once for the module (about 5 s); the walk takes about a minute.
"""

from __future__ import annotations

import os
import re
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from accounts.web import SESSION_COOKIE
from kernel.config import Settings
from portico.route_table import Route, paths, route_table
from tests.browser import DESKTOP, PHONE, chromium, overflow, shot, watch
from tests.console import test_guards as guards
from tests.console.guard_world import Principal, Tenant, an_operator, build_tenant

SCREENSHOTS = os.environ.get("CONSOLE_SCREENSHOTS")
LANGUAGES = ("zh-CN", "en")
ROLES = ("owner", "staff", "advertiser", "operator")

# GET routes that are no page to walk, each with why. Every other GET route must be opened as
# an HTML page by at least one user, or the test names it.
EXEMPT = {
    "/healthz": "a probe's JSON",
    "/static/vendor/{name}": "a script file (loaded by the pages that use it)",
    "/static/footfall/{name}": "a script file (loaded by the dashboards)",
    "/static/portal/look-preview.js": "a script file (loaded by the Portal settings page)",
    "/api/advertiser/v1/openapi.json": "a JSON document",
    "/api/pos/v1/openapi.json": "a JSON document",
    "/api/footfall/{metric}": "the dashboards' JSON (the dashboards are walked)",
    "/portal/picture/{store_id}/{image_id}": "a store's portal picture (shown on the Portal page)",
    "/vouchers/{batch_id}/sheet.pdf": "the printable voucher sheet, a PDF",
    "/advertiser/files/{file_id}": "a creative's file (shown on the campaign page)",
    "/api/advertiser/v1/campaigns/{campaign_id}/report": "the advertiser API's JSON",
    "/": "a redirect to the sign-in page or the dashboard",
    "/signup/verify": "needs the emailed token (tests/console/test_signup.py)",
    "/invite": "needs the emailed token (tests/console/test_accounts_browser.py)",
    "/password/reset": "needs the emailed token (tests/console/test_accounts_browser.py)",
}

# Run in the page: what a basic accessibility check finds wrong. Every visible form control
# has a label (<label for>, a wrapping label, aria-label or aria-labelledby); every image has
# alt; every button and link has text (or aria-label, or an image's alt); the page has a lang
# and a title; the main text, headings, labels and buttons contrast 4.5:1 with their background
# (3:1 for large text), where the background is a plain colour (none behind a picture or a
# gradient).
ACCESSIBILITY = r"""
() => {
  const found = [];
  const visible = (el) => {
    const r = el.getBoundingClientRect();
    const s = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && s.visibility !== "hidden" && s.display !== "none";
  };
  const name = (el) => (el.id ? "#" + el.id : el.tagName.toLowerCase() +
    (el.name ? "[name=" + el.name + "]" : "") +
    (el.className && typeof el.className === "string" ? "." + el.className.split(" ")[0] : ""));
  if (!document.documentElement.lang) found.push("no lang on <html>");
  if (!document.title.trim()) found.push("no <title>");
  for (const el of document.querySelectorAll("input, select, textarea")) {
    if (el.type === "hidden" || el.type === "submit" || el.type === "button" || !visible(el))
      continue;
    const labelled = (el.labels && el.labels.length) || el.getAttribute("aria-label") ||
      el.getAttribute("aria-labelledby") || el.getAttribute("title");
    if (!labelled) found.push("unlabelled " + name(el));
  }
  for (const el of document.querySelectorAll("img")) {
    if (!el.hasAttribute("alt")) found.push("image without alt: " + el.getAttribute("src"));
  }
  for (const el of document.querySelectorAll("button, a[href], input[type=submit]")) {
    if (!visible(el)) continue;
    const text = (el.innerText || el.value || "").trim() || el.getAttribute("aria-label") ||
      el.getAttribute("title") || [...el.querySelectorAll("img[alt]")].map(i => i.alt).join("");
    if (!text) found.push("no accessible text: " + name(el) + " " + el.outerHTML.slice(0, 80));
  }
  const rgba = (c) => {
    const m = c.match(/rgba?\(([^)]+)\)/);
    if (!m) return null;
    const p = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const luminance = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const s = getComputedStyle(e);
      if (s.backgroundImage !== "none") return null;
      const c = rgba(s.backgroundColor);
      if (c && c[3] >= 1) return c;
      if (c && c[3] > 0) return null;  // translucent: not simply computed
    }
    return [255, 255, 255, 1];
  };
  const seen = new Set();
  const selector = "h1, h2, h3, p, label, td, th, li, button, a.button, .button, " +
    "input[type=submit], nav a";
  for (const el of document.querySelectorAll(selector)) {
    if (!visible(el) || !(el.innerText || el.value || "").trim()) continue;
    const s = getComputedStyle(el);
    const fg = rgba(s.color), bg = background(el);
    if (!fg || !bg || fg[3] < 1 || parseFloat(s.opacity) < 1) continue;
    if (el.disabled) continue;  // WCAG exempts inactive controls
    const [l1, l2] = [luminance(fg), luminance(bg)].sort((a, b) => b - a);
    const ratio = (l1 + 0.05) / (l2 + 0.05);
    const size = parseFloat(s.fontSize), bold = parseInt(s.fontWeight, 10) >= 700;
    const needed = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
    const key = name(el) + s.color + s.backgroundColor;
    if (ratio < needed && !seen.has(key)) {
      seen.add(key);
      found.push(`contrast ${ratio.toFixed(2)} < ${needed}: ${name(el)} ` +
        `"${(el.innerText || el.value).trim().slice(0, 30)}" ${s.color} on rgb(${bg.slice(0, 3)})`);
    }
  }
  return found;
}
"""


# The console on a real port, no cookie jar (the guards' fixture).
console = guards.console


@pytest.fixture(scope="module")
async def world(
    console: TestClient, db: asyncpg.Pool, settings: Settings
) -> tuple[Tenant, dict[str, Principal]]:
    tenant = await build_tenant(db, settings, console, "a")
    return tenant, dict(tenant.principals) | {"operator": await an_operator(db)}


def _walkable(routes: list[Route]) -> list[Route]:
    return [r for r in routes if r.method == "GET" and not r.sessionless]


async def _is_page(client: TestClient, path: str, principal: Principal | None) -> bool:
    headers = {"Accept-Language": "en", **(principal.cookie if principal else {})}
    async with client.get(path, headers=headers, allow_redirects=False) as response:
        await response.read()
        return response.status == 200 and response.headers.get("Content-Type", "").startswith(
            "text/html"
        )


def _count_in_flight(page: Any) -> None:
    """Keep page.in_flight: how many of the page's requests have not ended."""
    page.in_flight = 0

    def started(_request: Any) -> None:
        page.in_flight += 1

    def ended(_request: Any) -> None:
        page.in_flight -= 1

    page.on("request", started)
    page.on("requestfinished", ended)
    page.on("requestfailed", ended)


async def _settled(page: Any) -> None:
    """Wait until the page's scripts' requests (the dashboards' JSON) have all ended: quicker
    than Playwright's networkidle, which waits 500 ms after the last."""
    for _wait in range(250):
        await page.wait_for_timeout(20)
        if page.in_flight <= 0:
            return
    raise AssertionError(f"{page.url}: requests still running after 5 s")


def _slug(template: str) -> str:
    slug = re.sub(r"\{[^}]+\}", "x", template).strip("/").replace("/", "-")
    return slug or "root"


async def _check(page: Any, label: str, problems: list[str], width: str) -> None:
    wide = await overflow(page)
    if wide > 0:
        problems.append(f"{label} {width}: {wide} px sideways overflow")
    for found in await page.evaluate(ACCESSIBILITY):
        problems.append(f"{label} {width}: {found}")


async def test_every_console_page_in_a_browser(
    console: TestClient, world: tuple[Tenant, dict[str, Principal]]
) -> None:
    tenant, principals = world
    every = route_table(console.server.app)
    routes = _walkable(every)
    base = str(console.make_url("")).rstrip("/")

    # Who gets each route as an HTML page (a quick HTTP look, then the browser walk).
    walk: list[tuple[Route, str, Principal | None]] = []
    unreached = []
    for route in routes:
        if route.template in EXEMPT:
            continue
        got = False
        for path in paths(route, tenant.ids):
            if route.public:
                if await _is_page(console, path, None):
                    walk.append((route, path, None))
                    got = True
                continue
            for role in ROLES:
                if await _is_page(console, path, principals[role]):
                    walk.append((route, path, principals[role]))
                    got = True
        if not got:
            unreached.append(str(route))
    assert not unreached, f"no user gets these GET routes as a page (or EXEMPT them): {unreached}"
    assert not set(EXEMPT) - {r.template for r in every}, "EXEMPT names routes that do not exist"

    problems: list[str] = []
    shot_taken: set[str] = set()
    async with chromium() as browser:
        contexts = {}
        for role in (None, *ROLES):
            for language in LANGUAGES:
                context = await browser.new_context(viewport=DESKTOP, locale=language)
                if role is not None:
                    await context.add_cookies(
                        [
                            {
                                "name": SESSION_COOKIE,
                                "value": principals[role].token,
                                "url": base,
                            }
                        ]
                    )
                page = await context.new_page()
                watch(page, problems, base)
                _count_in_flight(page)
                page.on(
                    "requestfailed",
                    lambda r: problems.append(f"request failed: {r.url} {r.failure}"),
                )
                page.on(
                    "response",
                    lambda r: (
                        problems.append(f"{r.status} for {r.url}") if r.status >= 400 else None
                    ),
                )
                contexts[(role, language)] = page
        for route, path, principal in walk:
            role = principal.role if principal else None
            first = route.template not in shot_taken
            shot_taken.add(route.template)
            for language in LANGUAGES:
                page = contexts[(role, language)]
                label = f"{path} as {role or 'anonymous'} in {language}"
                before = len(problems)
                await page.set_viewport_size(DESKTOP)
                response = await page.goto(base + path)
                assert response is not None
                if response.status != 200 or not page.url.startswith(base + path.split("?")[0]):
                    problems.append(f"{label}: {response.status} at {page.url}")
                    continue
                await _settled(page)
                await _check(page, label, problems, "desk")
                if first and SCREENSHOTS:
                    await shot(page, SCREENSHOTS, f"page-{_slug(route.template)}-desk-{language}")
                await page.set_viewport_size(PHONE)
                await page.wait_for_timeout(50)
                await _check(page, label, problems, "phone")
                if first and SCREENSHOTS and language == "zh-CN":
                    await shot(page, SCREENSHOTS, f"page-{_slug(route.template)}-phone-zh-CN")
                for index in range(before, len(problems)):
                    if not problems[index].startswith(path):
                        problems[index] = f"{label}: {problems[index]}"
    assert len({r.template for r, _p, _u in walk}) >= 30, "the walk saw too few pages"
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(sorted(set(problems)))
