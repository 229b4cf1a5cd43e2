"""Marketing-SMS consent at the SMS code login (issue 14; docs/logins.md, "Marketing SMS
consent").

The splash's SMS form has a box of its own, never ticked for the shopper and not needed to get
online (PIPL: a separate, specific consent), asking for consent to offers by text message to
the number being proved. Ticked, the code page carries it on (`marketing=1` and the wording's
version, beside the sealed code reference), and once the code proves the number the consent is
recorded as the email login records its own (email_login.give_consent: who, the store, when and
the version of the words shown; a retried login within ten minutes reuses its row), before the
grant, so the login's event tells marketing `consent_sms: true` (portal/shopper_events.py). It
is withdrawn as an email consent is: the signed link on the "you're online" page, staff, a "T"
reply to an offer text (portal/sms_inbound.py) or "No more offers" (portal/opt_out.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

import asyncpg

from portal.email_login import BadConsentWording, give_consent
from portal.messages_optout import SMS_CONSENT_WORDING, SMS_CONSENT_WORDINGS

PURPOSE = "marketing_sms"


def asked(form: Mapping[str, str]) -> str | None:
    """The wording version the shopper agreed to when the box was ticked (`marketing=1`), else
    None; BadConsentWording for a version we never showed (an old page, or a tampered one)."""
    if form.get("marketing") != "1":
        return None
    wording = form.get("consent_wording") or SMS_CONSENT_WORDING
    if wording not in SMS_CONSENT_WORDINGS:
        raise BadConsentWording(f"sms consent wording {wording[:40]!r} is not one we show")
    return wording


def carried(wording: str | None) -> dict[str, str]:
    """The form fields that carry a given consent to the next step (the code page, a retry)."""
    return {"marketing": "1", "consent_wording": wording} if wording else {}


async def give(
    db: asyncpg.Pool | asyncpg.Connection,
    merchant_id: uuid.UUID,
    identity_hash: str,
    store_id: uuid.UUID,
    wording: str,
) -> uuid.UUID:
    """Record the consent of a proved number (`identity_hash`): a shopper_consents row."""
    return await give_consent(db, merchant_id, identity_hash, store_id, wording, purpose=PURPOSE)
