"""What a shopper agrees to: the email login's form (both gateways) with its marketing consent,
the consent withdrawal page reached by a signed link without any login (portal/email_login.py),
and the public page of a store's terms, each version at its own address (portal/terms.py)."""

from __future__ import annotations

import logging
import re
import uuid
from urllib.parse import urlencode

from aiohttp import web

from kernel.i18n import translator
from kernel.shopper_events import SHOPPER_EVENTS
from kernel.web import DB, SETTINGS, render
from portal import email_login, identities, login_views, logins, terms, views
from portal.messages import CATALOG

log = logging.getLogger("portico.portal.email")
routes = web.RouteTableDef()


@login_views.method_post(routes, "email", "email")
async def email_login_view(request: web.Request) -> web.Response:
    """The splash's email form: the address, the terms box and the marketing-consent box."""
    arrival = await login_views.arrival(request)
    form = arrival.form
    # If the router refuses by accident, Try again posts the same login (the shopper's own
    # input, back on the shopper's own page; a retried consent is not recorded twice).
    retry = {
        name: form[name]
        for name in ("email", "accept", "marketing", "consent_wording")
        if name in form
    }
    request[views.RETRY_FORM] = (
        request.path,
        {"fas": arrival.carried, "lang": arrival.lang, **retry},
    )
    secret = request.app[SETTINGS].secret_key
    try:
        login = await email_login.log_in(request.app[DB], secret, arrival.visit, form)
    except (identities.BadEmailAddress, logins.TermsRequired) as exc:
        log.info("email login refused at %s: %s", arrival.visit.router.router_id, exc.detail)
        return await arrival.splash(error=exc.message_id, status=400)
    log.info(
        "email login at %s (consent %s)",
        arrival.visit.router.router_id,
        "given" if login.consent_id else "not given",
    )
    return await arrival.admit(login.admission)


@routes.get("/consent/{merchant_id}/{consent_id}", name="consent_withdraw")
async def withdrawal_page(request: web.Request) -> web.Response:
    """The withdrawal link: says what was agreed and asks to confirm (a link checker or a mail
    scanner that follows the link withdraws nothing); once withdrawn, says so."""
    lang = views.language(request)
    sig = request.query.get("sig", "")
    merchant_id, consent_id = _checked(request, sig)
    consent = await email_login.find_consent(request.app[DB], merchant_id, consent_id)
    if consent is None:
        raise email_login.BadWithdrawalLink(f"no consent {consent_id}")
    return _page(request, lang, consent, "already" if consent.withdrawn_at else "ask", sig)


@routes.post("/consent/{merchant_id}/{consent_id}", name="consent_withdraw_post")
async def withdraw(request: web.Request) -> web.Response:
    """Withdraw: records the withdrawal (via the link) and confirms it; sent again, it says the
    consent is withdrawn and changes nothing."""
    form = await views._read_form(request)
    lang = views.language(request, form.get("lang"))
    sig = form.get("sig", "")
    merchant_id, consent_id = _checked(request, sig)
    consent, now = await email_login.withdraw(
        request.app[DB], merchant_id, consent_id, "link", request.app.get(SHOPPER_EVENTS)
    )
    return _page(request, lang, consent, "done" if now else "already", sig)


def _checked(request: web.Request, sig: str) -> tuple[uuid.UUID, uuid.UUID]:
    return email_login.check_withdrawal_link(
        request.app[SETTINGS].secret_key,
        request.match_info["merchant_id"],
        request.match_info["consent_id"],
        sig,
    )


def _page(
    request: web.Request, lang: str, consent: email_login.Consent, state: str, sig: str
) -> web.Response:
    """`state`: ask (in force), done (withdrawn by this request), already (withdrawn before)."""
    switch = urlencode({"sig": sig, "lang": views.other_language(lang)})
    return render(
        request,
        "portal/consent_withdraw.html",
        _=translator(CATALOG, lang),
        lang=lang,
        brand=consent.brand_name,
        consent=consent,
        state=state,
        sig=sig,
        given=consent.given_at.date().isoformat(),
        withdrawn=consent.withdrawn_at.date().isoformat() if consent.withdrawn_at else "",
        action=request.path,
        switch_url=f"{request.path}?{switch}",
    )


@routes.get("/terms/{merchant_id}/{store_id}/{version}", name="terms")
async def terms_page(request: web.Request) -> web.Response:
    """One version of a store's terms: public, tiny, linked from the splash (the current one)
    and from anywhere a session's accepted version must be read again."""
    lang = views.language(request)
    try:
        merchant_id = uuid.UUID(request.match_info["merchant_id"])
        store_id = uuid.UUID(request.match_info["store_id"])
    except ValueError:
        raise terms.UnknownTerms("terms link names no store") from None
    page = await terms.terms_page(
        request.app[DB], merchant_id, store_id, request.match_info["version"]
    )
    shown = page.terms
    current_url = ""
    if shown.version != page.current_version:
        current = terms.terms_path(merchant_id, store_id, page.current_version)
        current_url = f"{current}?{urlencode({'lang': lang})}"
    switch = urlencode({"lang": views.other_language(lang)})
    return render(
        request,
        "portal/terms.html",
        _=translator(CATALOG, lang),
        lang=lang,
        brand=page.brand_name,
        brand_color=page.brand_color,
        version=shown.version,
        published=shown.published_at.date().isoformat() if shown.published_at else "",
        paragraphs=[p.strip() for p in re.split(r"\n\s*\n", shown.body(lang)) if p.strip()],
        current_version=page.current_version,
        current_url=current_url,
        switch_url=f"{request.path}?{switch}",
    )
