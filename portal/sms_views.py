"""The SMS code login's pages (portal/sms.py decides), under both gateways
(login_views.method_post):

- `sms/send`: the splash's number (and the store's terms, and the optional marketing-SMS
  consent: portal/sms_consent.py) → a code sent → the code page, whose form carries `fas`,
  `lang`, the code's sealed reference and the consent, if given (no cookie);
- `sms/verify`: the code → the number remembered as a verified identity, linked to the device
  (and the consent recorded, if given) → an Admission by "sms" → the gateway lets the shopper
  in (`arrival.admit`);
- `sms/again`: back to the splash (another number, a new code).

A refusal the shopper can mend shows the splash or the code page again with the reason (429
for rate limits); a bad or foreign reference is an error page. Each refusal is logged with its
reason, never with the number.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, datetime, timedelta

from aiohttp import web

from kernel.errors import PorticoError
from kernel.i18n import translator
from kernel.web import DB, SETTINGS, client_ip, render
from portal import (
    email_login,
    grants,
    identities,
    login_views,
    logins,
    offers,
    sms,
    sms_consent,
    stores,
    views,
)
from portal.keys import SMS_PROVIDERS
from portal.logins import Arrival
from portal.messages import CATALOG
from portal.rate_limits import RateLimited

log = logging.getLogger("portico.portal.sms")
routes = web.RouteTableDef()
COUPONS_OF_THE_VISIT = timedelta(minutes=30)  # claimed this long before an SMS login


def install(app: web.Application) -> None:
    """The SMS pages and their provider on the portal app (after its settings and pool)."""
    app[SMS_PROVIDERS] = sms.SmsProviders(app[SETTINGS], app[DB])
    app.add_routes(routes)
    app.on_cleanup.append(_close_providers)


async def _close_providers(app: web.Application) -> None:
    await app[SMS_PROVIDERS].close()


def _refused(visit: stores.Visit, step: str, reason: str, level: int = logging.INFO) -> None:
    log.log(
        level,
        "sms %s refused at %s for device %s: %s",
        step,
        visit.router.router_id,
        visit.device,
        reason,
    )


@login_views.method_post(routes, "sms/send", "sms_send")
async def send(request: web.Request) -> web.Response:
    arrival = await login_views.arrival(request)
    visit = arrival.visit
    logins.require_method(visit, "sms")
    if arrival.form.get("accept") != "1":
        _refused(visit, "send", "terms not accepted")
        return await arrival.splash(error=logins.TermsRequired.message_id, status=400)
    try:
        consent = sms_consent.asked(arrival.form)
    except email_login.BadConsentWording as exc:
        _refused(visit, "send", exc.detail)
        return await arrival.splash(error=exc.message_id, status=exc.status)
    app = request.app
    try:
        phone = identities.normalize_phone(arrival.form.get("phone", ""))
        sent = await sms.send_code(
            app[DB],
            app[SMS_PROVIDERS].for_merchant(visit.merchant_id),
            app[SETTINGS].secret_key,
            visit,
            phone,
            lang=arrival.lang,
            ip=client_ip(request),
        )
    except (identities.BadPhoneNumber, RateLimited, sms.SmsNumberRefused, sms.SmsThrottled) as exc:
        _refused(visit, "send", exc.detail)
        return await arrival.splash(error=exc.message_id, status=exc.status)
    except sms.SmsSendFailed as exc:  # the provider's trouble, not the shopper's: for operators
        _refused(visit, "send", exc.detail, logging.WARNING)
        return await arrival.splash(error=exc.message_id, status=exc.status)
    return _code_page(
        request, arrival, sent.reference, sent.masked, unsure=sent.unsure, consent=consent
    )


@login_views.method_post(routes, "sms/verify", "sms_verify")
async def verify(request: web.Request) -> web.Response:
    arrival = await login_views.arrival(request)
    visit = arrival.visit
    logins.require_method(visit, "sms")
    app = request.app
    db, secret = app[DB], app[SETTINGS].secret_key
    form = arrival.form
    reference_text, typed = form.get("ref", ""), form.get("code", "")
    consent = sms_consent.asked(form)  # a version we never showed: an error page, nothing kept
    # If the router refuses by accident or answers late, the shopper's retry posts this again.
    retry = {"fas": arrival.carried, "lang": arrival.lang, "ref": reference_text, "code": typed}
    request[views.RETRY_FORM] = (request.path, {**retry, **sms_consent.carried(consent)})
    reference = sms.open_reference(secret, visit.merchant_id, reference_text)
    try:
        identity = await sms.verify_code(db, secret, visit, reference, typed)
    except sms.CodeRefused as exc:
        _refused(visit, "verify", exc.detail)
        return _code_page(
            request,
            arrival,
            reference_text,
            reference.masked,
            status=exc.status,
            error=exc,
            consent=consent,
        )
    if consent:  # before the grant: the login's event tells marketing of it
        await sms_consent.give(db, visit.merchant_id, identity.hash, visit.router.store_id, consent)
    # The coupons claimed on this visit's splash go to the phone just proved, too.
    since = datetime.now(UTC) - COUPONS_OF_THE_VISIT
    offers.text_coupons_soon(
        db,
        app[SMS_PROVIDERS],
        secret,
        visit,
        arrival.lang,
        claimed_since=since,
        phone=reference.phone_e164,
    )
    admission = grants.store_admission(visit, "sms")
    admission = dataclasses.replace(admission, identity_hash=identity.hash)
    try:
        return await arrival.admit(admission)
    except PorticoError as exc:
        if exc.retry_same_request:  # nothing granted: the retry may use the code again
            await sms.release_code(db, visit.merchant_id, reference.code_id)
        raise


@login_views.method_post(routes, "sms/again", "sms_again")
async def again(request: web.Request) -> web.Response:
    """Back to the splash from the code page: another number, or a new code."""
    arrival = await login_views.arrival(request)
    return await arrival.splash()


def _code_page(
    request: web.Request,
    arrival: Arrival,
    reference: str,
    masked: str,
    *,
    status: int = 200,
    error: sms.CodeRefused | None = None,
    unsure: bool = False,
    consent: str | None = None,
) -> web.Response:
    portal = arrival.visit.portal
    return render(
        request,
        "portal/sms_code.html",
        status=status,
        _=translator(CATALOG, arrival.lang),
        lang=arrival.lang,
        brand_name=portal.brand_name,
        brand_color=portal.brand_color,
        method_base=arrival.method_base,
        raw_fas=arrival.carried,
        ref=reference,
        masked=masked,
        error=error.message_id if error else None,
        error_values=error.values if error else {},
        show_form=error is None or error.can_retry,
        unsure=unsure,
        consent_fields=sms_consent.carried(consent),
    )
