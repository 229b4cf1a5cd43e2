"""The console's Team pages (accounts/invitations.py, docs/console.md "Team"), for owners:

- /team: the members with their role and stores, the pending invitations (each can be sent
  again with a new link, or revoked; one whose email the mail server just refused is marked
  "not sent"), and the form that invites an address as owner or as staff of chosen stores;
- /team/members/<user_id>: change a member's role and stores, or remove them;
- /invite?token=…: the invitee's page (public): set a name and password, or the existing
  account's password, and join.

Owners only (staff get 403); an invitation, member or merchant id that is not the user's is a
404. The page shows the seats the merchant's plan allows (members and pending invitations); an
invitation over them, or an acceptance over them after the plan was lowered, comes back (409)
with the plan and its limit named, and nothing changes (accounts/plans.py). Every POST
carries the session's CSRF token; /invite's a double-submit cookie (accounts.web.ANONYMOUS_FORMS).
"""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

from aiohttp import web
from multidict import MultiDictProxy

from accounts import invitations, plans
from accounts import services as accounts
from accounts.signup_pages import EMAIL
from accounts.web import (
    NotYours,
    login_required,
    owned_membership,
    page_translator,
    redirect,
    render_anonymous_form,
    render_page,
    request_language,
    signed_in,
)
from kernel.web import DB, SETTINGS, client_ip

PATH = "/team"
INVITE_PATH = "/team/invite"
ACCEPT_PATH = "/invite"
NOTICES = {
    k: f"tm_notice_{k}" for k in ("invited", "resent", "revoked", "saved", "unchanged", "removed")
}
Errors = dict[str, tuple[str, dict[str, object]]]


async def team_page(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    merchant, memberships = await _merchant(request, session, request.query.get("merchant"))
    return await _team(request, session, merchant, memberships, {"role": "staff"}, {})


async def _team(
    request: web.Request,
    session: accounts.ConsoleSession,
    merchant: accounts.Membership | None,
    memberships: list[accounts.Membership],
    values: dict[str, object],
    errors: Errors,
    status: int = 200,
    not_sent: bool = False,
) -> web.Response:
    """The Team page; `not_sent`: the mail server just refused an invitation's email (the
    invitation's row says so itself, from invitations.mail_failed_at)."""
    db = request.app[DB]
    found, pending, store_list, usage = [], [], [], None
    if merchant is not None:
        found = await invitations.members(db, merchant.merchant_id)
        pending = await invitations.pending(db, merchant.merchant_id)
        store_list = await accounts.list_stores(db, merchant.merchant_id)
        usage = await plans.usage(db, merchant.merchant_id)
    return render_page(
        request,
        "accounts/team.html",
        status=status,
        memberships=[m for m in memberships if m.role == "owner"],
        merchant=merchant,
        members=found,
        invitations=pending,
        usage=usage,
        stores=store_list,
        store_names={s.store_id: s.name for s in store_list},
        me=session.user.user_id,
        values=values,
        errors=errors,
        notice="tm_notice_not_sent" if not_sent else NOTICES.get(request.query.get("notice", "")),
        not_sent=not_sent,
        path=PATH,
    )


async def invite(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    form = await request.post()
    merchant, memberships = await _owned(request, session, _text(form.get("merchant")))
    address, role, store_ids = _text(form.get("email")), _text(form.get("role")), _stores(form)
    values: dict[str, object] = {"email": address[:254], "role": role, "stores": store_ids}
    errors: Errors = {}
    status = 400
    try:
        accounts.check_email(address)
    except accounts.InvalidEmail:
        errors["email"] = ("tm_error_email", {})
    if role not in accounts.ROLES:
        errors["role"] = ("tm_error_role", {})
    if not errors:
        try:
            invited = await invitations.invite(
                request.app[DB],
                request.app[EMAIL],
                merchant.merchant_id,
                session.user.user_id,
                email=address,
                role=role,
                store_ids=store_ids,
                language=request_language(request),
                accept_url=_accept_url(request),
            )
        except invitations.InvalidStores as exc:
            errors["stores"] = (exc.message_id, {})
        except invitations.AlreadyMember as exc:
            errors["email"] = (exc.message_id, {})
        except plans.PlanLimitReached as exc:
            errors["plan"] = (exc.message_id, plans.localized(exc, page_translator(request)))
            status = exc.status
        else:
            if invited.sent:
                return redirect(_team_url(merchant, "invited"))
            return await _not_sent(request, session, merchant, memberships)
    return await _team(request, session, merchant, memberships, values, errors, status)


async def resend(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    """A pending invitation's email again, with a new link (the old one stops working)."""
    form = await request.post()
    merchant, memberships = await _owned(request, session, _text(form.get("merchant")))
    invited = await invitations.resend(
        request.app[DB],
        request.app[EMAIL],
        merchant.merchant_id,
        _uuid(request.match_info["invitation_id"]),
        session.user.user_id,
        accept_url=_accept_url(request),
    )
    if invited.sent:
        return redirect(_team_url(merchant, "resent"))
    return await _not_sent(request, session, merchant, memberships)


async def _not_sent(
    request: web.Request,
    session: accounts.ConsoleSession,
    merchant: accounts.Membership,
    memberships: list[accounts.Membership],
) -> web.Response:
    """The Team page after a mail server refused an invitation's email: the invitation is
    pending, marked "not sent", with its Re-send button (503: the email did not go)."""
    return await _team(
        request, session, merchant, memberships, {"role": "staff"}, {}, 503, not_sent=True
    )


def _accept_url(request: web.Request) -> str:
    return request.app[SETTINGS].console_url + ACCEPT_PATH


async def revoke(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    form = await request.post()
    merchant, _memberships = await _owned(request, session, _text(form.get("merchant")))
    invitation_id = _uuid(request.match_info["invitation_id"])
    await invitations.revoke(
        request.app[DB], merchant.merchant_id, invitation_id, session.user.user_id
    )
    return redirect(_team_url(merchant, "revoked"))


async def member_form(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    merchant, _memberships = await _owned(request, session, request.query.get("merchant"))
    member = await _member(request, merchant)
    values = {"role": member.role, "stores": member.store_ids}
    return await _member_page(request, session, merchant, member, values, {})


async def save_member(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    form = await request.post()
    merchant, _memberships = await _owned(request, session, _text(form.get("merchant")))
    member = await _member(request, merchant)
    role, store_ids = _text(form.get("role")), _stores(form)
    values: dict[str, object] = {"role": role, "stores": store_ids}
    if role not in accounts.ROLES:
        errors: Errors = {"role": ("tm_error_role", {})}
        return await _member_page(request, session, merchant, member, values, errors, 400)
    try:
        changed = await invitations.change_member(
            request.app[DB],
            merchant.merchant_id,
            member.user_id,
            role=role,
            store_ids=store_ids,
            actor=session.user.user_id,
        )
    except (invitations.InvalidStores, invitations.LastOwner) as exc:
        field = "stores" if isinstance(exc, invitations.InvalidStores) else "role"
        errors = {field: (exc.message_id, {})}
        return await _member_page(request, session, merchant, member, values, errors, exc.status)
    return redirect(_team_url(merchant, "saved" if changed else "unchanged"))


async def remove_member(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    form = await request.post()
    merchant, _memberships = await _owned(request, session, _text(form.get("merchant")))
    member = await _member(request, merchant)
    try:
        await invitations.remove_member(
            request.app[DB], merchant.merchant_id, member.user_id, session.user.user_id
        )
    except invitations.LastOwner as exc:
        values = {"role": member.role, "stores": member.store_ids}
        errors: Errors = {"remove": (exc.message_id, {})}
        return await _member_page(request, session, merchant, member, values, errors, exc.status)
    if member.user_id == session.user.user_id:
        return redirect("/dashboard")  # no longer this merchant's owner
    return redirect(_team_url(merchant, "removed"))


async def _member_page(
    request: web.Request,
    session: accounts.ConsoleSession,
    merchant: accounts.Membership,
    member: invitations.Member,
    values: dict[str, object],
    errors: Errors,
    status: int = 200,
) -> web.Response:
    return render_page(
        request,
        "accounts/team_member.html",
        status=status,
        merchant=merchant,
        member=member,
        stores=await accounts.list_stores(request.app[DB], merchant.merchant_id),
        me=session.user.user_id,
        values=values,
        errors=errors,
        back=_team_url(merchant),
    )


# The invitee's page ------------------------------------------------------------------------


async def accept_form(request: web.Request) -> web.Response:
    token = request.query.get("token", "")
    link = await invitations.invitation_for_token(request.app[DB], token)
    if link is None:
        raise invitations.InvitationLinkInvalid("invitation link unknown, used or expired")
    return _accept_page(request, token, link, {"display_name": ""}, {})


async def accept(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    db = request.app[DB]
    token = _text(form.get("token"))
    link = await invitations.invitation_for_token(db, token)
    if link is None:
        raise invitations.InvitationLinkInvalid("invitation link unknown, used or expired")
    name = _text(form.get("display_name"))
    values = {"display_name": name[: accounts.MAX_NAME_LENGTH]}
    client = accounts.client_key(request.app[SETTINGS].secret_key, client_ip(request))
    try:
        user = await invitations.accept(
            db, token, password=_text(form.get("password")), display_name=name, client=client
        )
    except accounts.InvalidName:
        errors: Errors = {"display_name": ("tm_error_name", {"max": accounts.MAX_NAME_LENGTH})}
        return _accept_page(request, token, link, values, errors, 400)
    except accounts.WeakPassword:
        limits = {"min": accounts.MIN_PASSWORD_LENGTH, "max": accounts.MAX_PASSWORD_LENGTH}
        return _accept_page(
            request, token, link, values, {"password": ("su_error_password", limits)}, 400
        )
    except (accounts.InvalidCredentials, accounts.LoginLocked) as exc:
        errors = {"password": (exc.message_id, exc.values)}
        return _accept_page(request, token, link, values, errors, exc.status)
    except plans.PlanLimitReached as exc:
        texts = plans.localized(exc, page_translator(request)) | {"merchant": link.merchant_name}
        return _accept_page(request, token, link, values, {"plan": (exc.message_id, texts)}, 409)
    return await signed_in(request, user.user_id, "/dashboard")


def _accept_page(
    request: web.Request,
    token: str,
    link: invitations.InvitationLink,
    values: dict[str, str],
    errors: Errors,
    status: int = 200,
) -> web.Response:
    return render_anonymous_form(
        request,
        "invite_accept",
        "accounts/invite_accept.html",
        status=status,
        token=token,
        link=link,
        values=values,
        errors=errors,
        min_password=accounts.MIN_PASSWORD_LENGTH,
    )


# Whose records -------------------------------------------------------------------------------


async def _merchant(
    request: web.Request, session: accounts.ConsoleSession, asked: str | None
) -> tuple[accounts.Membership | None, list[accounts.Membership]]:
    memberships = await accounts.memberships_of(request.app[DB], session.user.user_id)
    return owned_membership(memberships, asked), memberships


async def _owned(
    request: web.Request, session: accounts.ConsoleSession, asked: str | None
) -> tuple[accounts.Membership, list[accounts.Membership]]:
    merchant, memberships = await _merchant(request, session, asked)
    if merchant is None:
        raise NotYours("the user belongs to no merchant")
    return merchant, memberships


async def _member(request: web.Request, merchant: accounts.Membership) -> invitations.Member:
    user_id = _uuid(request.match_info["user_id"])
    for member in await invitations.members(request.app[DB], merchant.merchant_id):
        if member.user_id == user_id:
            return member
    raise NotYours(f"user {user_id} is no member of merchant {merchant.merchant_id}")


def _uuid(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise NotYours(f"{text[:40]!r} is not a uuid") from None


def _stores(form: MultiDictProxy[object]) -> list[uuid.UUID]:
    found = []
    for value in form.getall("store", []):
        if not isinstance(value, str):
            continue
        try:
            found.append(uuid.UUID(value))
        except ValueError:
            raise invitations.InvalidStores(f"store {value[:40]!r} is not a uuid") from None
    return found


def _team_url(merchant: accounts.Membership, notice: str = "") -> str:
    query = {"merchant": str(merchant.merchant_id)}
    if notice:
        query["notice"] = notice
    return f"{PATH}?{urlencode(query)}"


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def add_routes(router: web.UrlDispatcher) -> None:
    """The Team pages and the invitee's page (the composition root calls this)."""
    router.add_get(PATH, login_required(team_page), name="team")
    router.add_post(INVITE_PATH, login_required(invite), name="team_invite")
    router.add_post(
        PATH + "/invitations/{invitation_id}/resend",
        login_required(resend),
        name="team_invitation_resend",
    )
    router.add_post(
        PATH + "/invitations/{invitation_id}/revoke",
        login_required(revoke),
        name="team_invitation_revoke",
    )
    member = router.add_resource(PATH + "/members/{user_id}", name="team_member")
    member.add_route("GET", login_required(member_form))
    member.add_route("POST", login_required(save_member))
    router.add_post(
        PATH + "/members/{user_id}/remove", login_required(remove_member), name="team_remove"
    )
    accept_resource = router.add_resource(ACCEPT_PATH, name="invite_accept")
    accept_resource.add_route("GET", accept_form)
    accept_resource.add_route("POST", accept)
