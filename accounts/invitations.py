"""A merchant's team (docs/console.md "Team"): owners invite people by email, list the members
with their role and stores, change or remove them; the invitee's link lets them join.

An invitation names an address, a role (owner, or staff of chosen stores) and expires after
`LINK_TTL`. Its email carries a link with a random token; only the token's SHA-256 is stored,
and the link works once (accepting deletes the invitation, as revoking does). The invitee
sets their name and password, or, when the address already has an account, accepts with its
password (the sign-in's lockout applies). Inviting an address again replaces its pending
invitation and link; re-sending one gives it a new link (the old one stops working). The email
goes only once the invitation is committed; a mail server that refuses it leaves the
invitation pending, to be re-sent. A merchant never loses its last owner: demoting or removing
them is `LastOwner`, checked with the owners' rows locked. Every change is in the merchant's
audit log.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from accounts import audit, plans, services
from accounts.email import Email, EmailProvider, EmailSendFailed
from accounts.messages_team import TEAM
from kernel.i18n import LANGUAGES, translator
from kernel.sql import load_queries

__all__ = [
    "LINK_TTL",
    "AlreadyMember",
    "InvalidStores",
    "Invitation",
    "InvitationLink",
    "InvitationLinkInvalid",
    "Invited",
    "LastOwner",
    "Member",
    "NoSuchRecord",
    "accept",
    "change_member",
    "invitation_for_token",
    "invite",
    "members",
    "pending",
    "purge",
    "remove_member",
    "resend",
    "revoke",
]

log = logging.getLogger("portico.console")
queries = load_queries(__file__, "invitations.sql")

LINK_TTL = timedelta(days=7)


class InvitationLinkInvalid(services.AccountError):
    """Unknown, used, revoked or expired."""

    message_id = "error_invitation_link"
    status = 404


class AlreadyMember(services.AccountError):
    message_id = "error_already_member"
    status = 409


class LastOwner(services.AccountError):
    message_id = "error_last_owner"
    status = 409


class InvalidStores(services.AccountError):
    """Staff without a store, or a store that is not the merchant's."""

    message_id = "error_invalid_stores"
    status = 400


class NoSuchRecord(services.AccountError):
    """An invitation or member that is not the merchant's (as if it did not exist)."""

    message_id = "error_not_found"
    status = 404


@dataclass(frozen=True)
class Invitation:
    invitation_id: uuid.UUID
    email: str
    role: str
    store_ids: list[uuid.UUID]
    created_at: datetime
    expires_at: datetime
    invited_by_name: str | None
    mail_failed_at: datetime | None  # the mail server refused its last email (not sent)


@dataclass(frozen=True)
class InvitationLink:
    """What the invitee's page shows: who invites them to what."""

    merchant_id: uuid.UUID
    merchant_name: str
    email: str
    role: str
    has_account: bool


@dataclass(frozen=True)
class Member:
    user_id: uuid.UUID
    email: str
    display_name: str
    role: str
    store_ids: list[uuid.UUID]


async def _check_stores(
    db: services.Executor, merchant_id: uuid.UUID, role: str, store_ids: list[uuid.UUID]
) -> list[uuid.UUID]:
    """The staff's stores, each the merchant's and at least one; none for an owner."""
    if role not in services.ROLES:
        raise services.InvalidRole(f"role must be one of {', '.join(services.ROLES)}")
    if role == "owner":
        return []
    wanted = sorted(set(store_ids))
    found = sorted(r["store_id"] for r in await db.fetch(queries.store_ids_of, merchant_id, wanted))
    if not wanted or found != wanted:
        raise InvalidStores(f"staff need 1 or more of merchant {merchant_id}'s stores")
    return wanted


async def _store_names(
    db: services.Executor, merchant_id: uuid.UUID, store_ids: list[uuid.UUID]
) -> list[str]:
    names = {s.store_id: s.name for s in await services.list_stores(db, merchant_id)}
    return sorted(names.get(store_id, str(store_id)) for store_id in store_ids)


@dataclass(frozen=True)
class Invited:
    """An invitation stored, and whether its email went: False when the mail server did not
    take it (the invitation stays pending; the owner re-sends it)."""

    invitation_id: uuid.UUID
    sent: bool


async def invite(
    db: asyncpg.Pool,
    provider: EmailProvider,
    merchant_id: uuid.UUID,
    inviter: uuid.UUID,
    *,
    email: str,
    role: str,
    store_ids: list[uuid.UUID],
    language: str,
    accept_url: str,
) -> Invited:
    """Invite `email` to the merchant: store the invitation and its audit entry, and once that
    transaction has committed, send the link `accept_url?token=…` (a mail never goes out for an
    invitation that was rolled back; one the server refuses leaves the invitation, not sent).
    PlanLimitReached when the merchant's seats (members and pending invitations) are all
    taken; inviting a pending address again takes no new seat."""
    email = services.check_email(email)
    store_ids = await _check_stores(db, merchant_id, role, store_ids)
    language = language if language in LANGUAGES else LANGUAGES[0]
    user_id = await services.user_id_by_email(db, email)
    if user_id is not None and await db.fetchval(queries.is_member, merchant_id, user_id):
        raise AlreadyMember(f"{email} is a member of merchant {merchant_id} already")
    token = secrets.token_urlsafe(32)
    invitation_id = uuid.uuid4()
    async with db.acquire() as conn, conn.transaction():
        await plans.check_seats(conn, merchant_id, email)
        await conn.execute(
            queries.replace_invitation,
            merchant_id,
            invitation_id,
            services.token_hash(token),
            email,
            role,
            store_ids,
            inviter,
            language,
            LINK_TTL,
        )
        await audit.record_change(
            conn,
            merchant_id,
            audit.Actor.user(inviter),
            "invitation.create",
            target_id=invitation_id,
            target_name=email,
            after={
                "email": email,
                "role": role,
                "stores": await _store_names(conn, merchant_id, store_ids),
            },
        )
    mail = await _mail(db, merchant_id, email, role, language, f"{accept_url}?token={token}")
    return await _deliver(db, provider, merchant_id, invitation_id, token, mail)


async def resend(
    db: asyncpg.Pool,
    provider: EmailProvider,
    merchant_id: uuid.UUID,
    invitation_id: uuid.UUID,
    actor: uuid.UUID,
    *,
    accept_url: str,
) -> Invited:
    """Send a pending invitation's email again, with a new link (the old one stops working)
    valid for `LINK_TTL` from now, in the language it was made in; sent after the new link is
    committed, as `invite`. NoSuchRecord for an invitation not the merchant's, or expired."""
    token = secrets.token_urlsafe(32)
    async with db.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            queries.renew_invitation,
            merchant_id,
            invitation_id,
            services.token_hash(token),
            actor,
            LINK_TTL,
        )
        if row is None:
            raise NoSuchRecord(f"no pending invitation {invitation_id} at merchant {merchant_id}")
        await _audit(conn, merchant_id, actor, "resend", invitation_id, row)
    link = f"{accept_url}?token={token}"
    mail = await _mail(db, merchant_id, row["email"], row["role"], row["language"], link)
    return await _deliver(db, provider, merchant_id, invitation_id, token, mail)


async def _mail(
    db: asyncpg.Pool, merchant_id: uuid.UUID, to: str, role: str, language: str, link: str
) -> Email:
    """The invitation's email, in the invitation's language."""
    merchant_name = (await services.merchant_names(db, [merchant_id])).get(merchant_id)
    _ = translator(TEAM, language)
    body = _(f"tm_mail_body_{role}", merchant=merchant_name, link=link, days=LINK_TTL.days)
    return Email(to, _("tm_mail_subject", merchant=merchant_name), body)


async def _deliver(
    db: asyncpg.Pool,
    provider: EmailProvider,
    merchant_id: uuid.UUID,
    invitation_id: uuid.UUID,
    token: str,
    mail: Email,
) -> Invited:
    """Send one invitation's email. When the server does not take it: a warning in the log,
    and the invitation marked not sent (shown on the Team page until a re-send goes through;
    a link replaced meanwhile is not marked)."""
    try:
        await provider.send(mail)
    except EmailSendFailed as exc:
        log.warning("invitation email not sent: %s", exc)
        await db.execute(
            queries.mark_mail_failed, merchant_id, invitation_id, services.token_hash(token)
        )
        return Invited(invitation_id, sent=False)
    return Invited(invitation_id, sent=True)


async def pending(db: services.Executor, merchant_id: uuid.UUID) -> list[Invitation]:
    """The merchant's invitations not yet accepted, revoked or expired, newest first."""
    return [Invitation(**dict(r)) for r in await db.fetch(queries.pending, merchant_id)]


async def revoke(
    db: asyncpg.Pool, merchant_id: uuid.UUID, invitation_id: uuid.UUID, actor: uuid.UUID
) -> None:
    """Cancel a pending invitation (its link stops working); NoSuchRecord if not the
    merchant's."""
    async with db.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(queries.delete_invitation, merchant_id, invitation_id)
        if row is None:
            raise NoSuchRecord(f"no invitation {invitation_id} at merchant {merchant_id}")
        await _audit(conn, merchant_id, actor, "revoke", invitation_id, row)


async def _audit(
    conn: asyncpg.Connection,
    merchant_id: uuid.UUID,
    actor: uuid.UUID,
    change: str,
    invitation_id: uuid.UUID,
    row: asyncpg.Record,
) -> None:
    """The audit entry of a re-sent (the invitation after) or revoked one (before)."""
    described = {
        "email": row["email"],
        "role": row["role"],
        "stores": await _store_names(conn, merchant_id, row["store_ids"]),
    }
    side = "before" if change == "revoke" else "after"
    await audit.record_change(
        conn,
        merchant_id,
        audit.Actor.user(actor),
        f"invitation.{change}",
        target_id=invitation_id,
        target_name=row["email"],
        **{side: described},
    )


async def invitation_for_token(db: services.Executor, token: str) -> InvitationLink | None:
    """The live invitation the link names, or None (unknown, used, revoked or expired)."""
    if len(token) not in services.TOKEN_LENGTHS:
        return None
    row = await db.fetchrow(queries.live_by_token, services.token_hash(token))
    if row is None:
        return None
    return InvitationLink(
        row["merchant_id"], row["merchant_name"], row["email"], row["role"], row["has_account"]
    )


async def accept(
    db: asyncpg.Pool,
    token: str,
    *,
    password: str,
    display_name: str | None,
    client: str,
) -> services.User:
    """Join the merchant the link's invitation names, and return the user to sign in.

    An address with an account accepts with that account's password (`authenticate`, so its
    lockout and errors apply; `display_name` is ignored); a new address gets an account with
    `display_name` and `password` (InvalidName, WeakPassword). InvitationLinkInvalid for a link
    unknown, used, revoked or expired; PlanLimitReached (the invitation kept) when the
    merchant's plan has no seat left for one more member (it was lowered since)."""
    link = await invitation_for_token(db, token)
    if link is None:
        raise InvitationLinkInvalid("no live invitation for this token")
    if link.has_account:
        user = await services.authenticate(db, link.email, password, client=client)
        password_hash = None
    else:
        name = services.clean_name(display_name or "")
        services.check_password(password)
        password_hash = await services.hash_password(password)
    async with db.acquire() as conn, conn.transaction():
        # The merchant's row first, as an invitation locks it: one order of locks, no deadlock.
        await plans.check_members(conn, link.merchant_id)
        row = await conn.fetchrow(queries.take_by_token, services.token_hash(token))
        if row is None:
            raise InvitationLinkInvalid("the invitation went while the password was checked")
        merchant_id, email, role = row["merchant_id"], row["email"], row["role"]
        if password_hash is not None:
            try:
                user_id = await services.insert_user(conn, email, name, password_hash)
            except services.EmailTaken as exc:  # an account made meanwhile: accept with it
                raise InvitationLinkInvalid(f"{email} got an account meanwhile") from exc
            user = services.User(user_id, email, name)
        if await conn.fetchval(queries.is_member, merchant_id, user.user_id):
            raise AlreadyMember(f"{email} is a member of merchant {merchant_id} already")
        await services.add_membership(conn, merchant_id, user.user_id, role)
        if role == "staff":
            await services.set_member_stores(conn, merchant_id, user.user_id, row["store_ids"])
        await audit.record_change(
            conn,
            merchant_id,
            audit.Actor.user(user.user_id),
            "membership.create",
            target_id=user.user_id,
            target_name=email,
            after={
                "email": email,
                "role": role,
                "stores": await _store_names(conn, merchant_id, row["store_ids"]),
            },
        )
    return user


async def members(db: services.Executor, merchant_id: uuid.UUID) -> list[Member]:
    """The merchant's members with their role and (staff) stores: owners first."""
    return [Member(**dict(r)) for r in await db.fetch(queries.members, merchant_id)]


async def change_member(
    db: asyncpg.Pool,
    merchant_id: uuid.UUID,
    user_id: uuid.UUID,
    *,
    role: str,
    store_ids: list[uuid.UUID],
    actor: uuid.UUID,
) -> bool:
    """Set a member's role and (staff) stores; False when nothing changed. LastOwner when it
    would leave the merchant without an owner; NoSuchRecord for someone not a member."""
    store_ids = await _check_stores(db, merchant_id, role, store_ids)
    async with db.acquire() as conn, conn.transaction():
        owners = await conn.fetch(queries.lock_owners, merchant_id)
        current = await conn.fetchrow(queries.member_for_update, merchant_id, user_id)
        if current is None:
            raise NoSuchRecord(f"user {user_id} is no member of merchant {merchant_id}")
        before_stores = current["store_ids"] if current["role"] == "staff" else []
        if (current["role"], before_stores) == (role, store_ids):
            return False
        if current["role"] == "owner" and role != "owner" and len(owners) <= 1:
            raise LastOwner(f"user {user_id} is the last owner of merchant {merchant_id}")
        await conn.execute(queries.set_role, merchant_id, user_id, role)
        await services.set_member_stores(conn, merchant_id, user_id, store_ids)
        await audit.record_change(
            conn,
            merchant_id,
            audit.Actor.user(actor),
            "membership.update",
            target_id=user_id,
            target_name=current["email"],
            before={
                "role": current["role"],
                "stores": await _store_names(conn, merchant_id, before_stores),
            },
            after={"role": role, "stores": await _store_names(conn, merchant_id, store_ids)},
        )
    return True


async def remove_member(
    db: asyncpg.Pool, merchant_id: uuid.UUID, user_id: uuid.UUID, actor: uuid.UUID
) -> None:
    """Take a member out of the merchant (their account stays); LastOwner for its last owner."""
    async with db.acquire() as conn, conn.transaction():
        owners = await conn.fetch(queries.lock_owners, merchant_id)
        current = await conn.fetchrow(queries.member_for_update, merchant_id, user_id)
        if current is None:
            raise NoSuchRecord(f"user {user_id} is no member of merchant {merchant_id}")
        if current["role"] == "owner" and len(owners) <= 1:
            raise LastOwner(f"user {user_id} is the last owner of merchant {merchant_id}")
        stores = current["store_ids"] if current["role"] == "staff" else []
        await conn.execute(queries.delete_membership, merchant_id, user_id)
        await audit.record_change(
            conn,
            merchant_id,
            audit.Actor.user(actor),
            "membership.delete",
            target_id=user_id,
            target_name=current["email"],
            before={
                "email": current["email"],
                "role": current["role"],
                "stores": await _store_names(conn, merchant_id, stores),
            },
        )


async def purge(db: asyncpg.Pool) -> None:
    """Drop expired invitations."""
    await db.execute(queries.purge_invitations)
