"""The console's Team pages and invitations: an owner invites by email, the invitee joins
through the link (once, before it expires, unless revoked), members are changed and removed
but never the last owner, everything audited; staff get 403, another merchant's ids 404, and
a POST without the CSRF token 403."""

from __future__ import annotations

import dataclasses
import email
import re
import uuid
from collections.abc import AsyncIterator
from email.policy import default

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from accounts import audit, invitations
from accounts import services as accounts
from kernel.config import Settings
from portico.console_app import make_console_app
from tests.accounts.test_plans import set_plan
from tests.console.test_console_app import EN, PASSWORD, ZH, Member, csrf_token, new_member, sign_in
from tests.smtp_server import smtp_server

_LINK = re.compile(r"http://\S+(/invite\?token=[A-Za-z0-9_-]+)")
NEW_ACCOUNT = {"display_name": "New Member", "password": "a long password"}


@pytest.fixture
async def client(settings: Settings, db: asyncpg.Pool) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(make_console_app(settings, db))) as client:
        yield client


@pytest.fixture
async def invitee(settings: Settings, db: asyncpg.Pool) -> AsyncIterator[TestClient]:
    """The invitee's own browser."""
    async with TestClient(TestServer(make_console_app(settings, db))) as client:
        yield client


async def _token(client: TestClient, member: Member) -> str:
    page = await client.get(f"/team?merchant={member.merchant_id}", headers=EN)
    return csrf_token(await page.text())


async def _invite(
    client: TestClient, member: Member, address: str, role: str = "staff", stores: tuple = ()
) -> object:
    form = [
        ("csrf_token", await _token(client, member)),
        ("merchant", str(member.merchant_id)),
        ("email", address),
        ("role", role),
        *(("store", str(s)) for s in stores),
    ]
    return await client.post("/team/invite", data=form, headers=EN)


async def _link(db: asyncpg.Pool, address: str) -> str:
    body = await db.fetchval(
        "SELECT body FROM email_outbox WHERE to_address = $1 ORDER BY created_at DESC LIMIT 1",
        address,
    )
    match = _LINK.search(body or "")
    assert match, f"no invitation link in {body!r}"
    return match.group(1)


async def _accept(client: TestClient, link: str, **fields: str) -> object:
    page = await client.get(link, headers=EN)
    assert page.status == 200
    html = await page.text()
    token = link.partition("token=")[2]
    form = {"csrf_token": csrf_token(html), "token": token} | fields
    return await client.post("/invite", data=form, headers=EN, allow_redirects=False)


def _address() -> str:
    return f"invitee-{uuid.uuid4().hex[:10]}@example.com"


async def test_an_invited_staff_member_joins_with_a_name_and_password(
    client: TestClient, invitee: TestClient, db: asyncpg.Pool
) -> None:
    member = await new_member(db)
    await sign_in(client, member.email)
    address = _address()

    response = await _invite(client, member, address, "staff", (member.store_id,))

    page = await response.text()
    assert "The invitation was sent." in page and address in page
    link = await _link(db, address)
    stored = await db.fetchval("SELECT token_hash FROM invitations WHERE email = $1", address)
    assert link.partition("token=")[2].encode() not in stored  # only a hash is kept
    joined = await _accept(invitee, link, display_name="Mei Lin", password="a long password")
    assert (joined.status, joined.headers["Location"]) == (303, "/dashboard")
    dashboard = await invitee.get("/dashboard", headers=EN)
    assert member.store_name in await dashboard.text()
    user_id = await accounts.user_id_by_email(db, address)
    assert user_id is not None
    assert [
        s.store_id for s in await accounts.stores_of_member(db, member.merchant_id, user_id)
    ] == [member.store_id]
    again = await invitee.get(link, headers=EN)
    assert again.status == 404 and "unknown, used, revoked or expired" in await again.text()
    actions = [e.action for e in await audit.entries(db, member.merchant_id)]
    assert actions == ["membership.create", "invitation.create"]
    team = await (await client.get(f"/team?merchant={member.merchant_id}", headers=ZH)).text()
    assert "Mei Lin" in team and "店员" in team and "没有待接受的邀请。" in team


async def test_an_invitation_whose_email_is_refused_is_kept_not_sent_and_re_sent(
    settings: Settings, invitee: TestClient, db: asyncpg.Pool
) -> None:
    """The console's mail server (SMTP on a loopback socket) refuses the invitation's email:
    the invitation is pending and marked "not sent" in both languages (503, and on the Team
    page until a re-send goes through), Re-send sends it
    with a new link once mail works, and the invitee joins with that link."""
    member = await new_member(db)
    address = _address()
    with smtp_server() as (port, received):
        smtp = dataclasses.replace(
            settings,
            email_provider="smtp",
            smtp_host="127.0.0.1",
            smtp_port=port,
            smtp_security="none",
        )
        async with TestClient(TestServer(make_console_app(smtp, db))) as client:
            await sign_in(client, member.email)
            received.refuse_rcpt = True

            refused = await _invite(client, member, address, "owner")

            text = await refused.text()
            assert refused.status == 503 and "its email could not be sent" in text
            (pending,) = await invitations.pending(db, member.merchant_id)
            assert pending.email == address and received.envelopes == []
            assert f'id="invitation-{pending.invitation_id}" class="not-sent"' in text
            assert "Email not sent" in text and pending.mail_failed_at is not None
            team_path = f"/team?merchant={member.merchant_id}"
            later = await (await client.get(team_path, headers=EN)).text()
            assert "Email not sent" in later  # kept with the invitation, not only this answer
            resend_path = f"/team/invitations/{pending.invitation_id}/resend"
            form = {"csrf_token": csrf_token(text), "merchant": str(member.merchant_id)}
            again = await client.post(resend_path, data=form, headers=ZH)
            assert again.status == 503 and "邮件未发出" in await again.text()

            received.refuse_rcpt = False
            resent = await client.post(resend_path, data=form, headers=EN)
            text = await resent.text()
            assert resent.status == 200 and "The invitation was sent again" in text
            assert "Email not sent" not in text
            assert "Email not sent" not in await (await client.get(team_path, headers=EN)).text()
    (_sender, recipients, data) = received.envelopes[0]
    assert recipients == [address]
    link = _LINK.search(email.message_from_bytes(data, policy=default).get_content())
    assert link is not None
    joined = await _accept(invitee, link.group(1), display_name="Li Na", password="a long password")
    assert joined.status == 303
    actions = [e.action for e in await audit.entries(db, member.merchant_id)]
    assert actions == [
        "membership.create",
        "invitation.resend",
        "invitation.resend",
        "invitation.create",
    ]


async def test_an_address_with_an_account_joins_with_its_password(
    client: TestClient, invitee: TestClient, db: asyncpg.Pool
) -> None:
    member = await new_member(db)
    other = await new_member(db)  # an owner elsewhere, invited here as an owner
    await sign_in(client, member.email)
    await _invite(client, member, other.email.upper(), "owner")
    link = await _link(db, other.email)

    wrong = await _accept(invitee, link, password="not the password")
    assert wrong.status == 401 and "Wrong email or password" in await wrong.text()
    joined = await _accept(invitee, link, password=PASSWORD, display_name="ignored")

    assert joined.status == 303
    roles = {m.merchant_id: m.role for m in await accounts.memberships_of(db, other.user_id)}
    assert roles == {other.merchant_id: "owner", member.merchant_id: "owner"}


async def test_a_revoked_or_expired_invitation_link_no_longer_works(
    client: TestClient, invitee: TestClient, db: asyncpg.Pool
) -> None:
    member = await new_member(db)
    await sign_in(client, member.email)
    revoked, expired = _address(), _address()
    await _invite(client, member, revoked, "owner")
    await _invite(client, member, expired, "owner")
    await db.execute(
        "UPDATE invitations SET expires_at = now() - interval '1 second' WHERE email = $1",
        expired,
    )
    invitation_id = await db.fetchval(
        "SELECT invitation_id FROM invitations WHERE email = $1", revoked
    )
    page = await (await client.get(f"/team?merchant={member.merchant_id}", headers=EN)).text()
    assert revoked in page and expired not in page  # an expired one is no longer pending

    form = {"csrf_token": csrf_token(page), "merchant": str(member.merchant_id)}
    done = await client.post(f"/team/invitations/{invitation_id}/revoke", data=form, headers=EN)

    assert "The invitation was revoked." in await done.text()
    for address in (revoked, expired):
        response = await invitee.get(await _link(db, address), headers=ZH)
        assert response.status == 404 and "邀请链接无效" in await response.text()
    [entry, *_] = await audit.entries(db, member.merchant_id)
    assert (entry.action, entry.target_name) == ("invitation.revoke", revoked)


@pytest.mark.parametrize(
    ("fields", "english", "chinese"),
    [
        ({"email": "not-an-address"}, "Enter an email address.", "请输入邮箱地址。"),
        ({"role": "staff"}, "Choose at least one of the merchant&#39;s stores", "请为店员至少选择"),
        ({"role": "admin"}, "Choose a role.", "请选择角色。"),
    ],
)
async def test_a_bad_invitation_comes_back_with_its_error(
    client: TestClient,
    db: asyncpg.Pool,
    fields: dict[str, str],
    english: str,
    chinese: str,
) -> None:
    member = await new_member(db)
    await sign_in(client, member.email)
    for headers, expected in ((EN, english), (ZH, chinese)):
        form = {
            "csrf_token": await _token(client, member),
            "merchant": str(member.merchant_id),
            "email": _address(),
            "role": "owner",
        } | fields
        response = await client.post("/team/invite", data=form, headers=headers)
        assert response.status == 400
        assert expected in await response.text()
    assert (
        await db.fetchval(
            "SELECT count(*) FROM invitations WHERE merchant_id = $1", member.merchant_id
        )
        == 0
    )


async def test_an_invitation_over_the_seats_comes_back_with_the_plan_named(
    client: TestClient, db: asyncpg.Pool
) -> None:
    member = await new_member(db)  # Free: three seats, the owner's one of them
    await sign_in(client, member.email)
    for _ in range(2):
        assert (await _invite(client, member, _address(), "owner")).status == 200
    team = await (await client.get(f"/team?merchant={member.merchant_id}", headers=EN)).text()
    assert ">Seats 3 / 3 <strong" in team and "(limit reached)" in team

    address = _address()
    english = await _invite(client, member, address, "owner")
    form = {
        "csrf_token": await _token(client, member),
        "merchant": str(member.merchant_id),
        "email": address,
        "role": "owner",
    }
    chinese = await client.post("/team/invite", data=form, headers=ZH)

    assert english.status == chinese.status == 409
    page = await english.text()
    assert 'id="error-plan">Seat limit reached: the Free plan allows 3' in page
    assert f'value="{address}"' in page
    assert "席位已达上限：免费版套餐最多 3 个，成员和待接受的邀请均计入。" in await chinese.text()
    sent = "SELECT count(*) FROM email_outbox WHERE to_address = $1"
    assert await db.fetchval(sent, address) == 0
    assert len(await invitations.pending(db, member.merchant_id)) == 2


async def test_an_acceptance_over_a_lowered_plan_says_so_and_keeps_the_link(
    client: TestClient, invitee: TestClient, db: asyncpg.Pool
) -> None:
    member = await new_member(db)
    await set_plan(db, member.merchant_id, "standard")
    await sign_in(client, member.email)
    addresses = [_address() for _ in range(3)]
    for address in addresses:
        await _invite(client, member, address, "owner")
    for address in addresses[:2]:
        joined = await _accept(invitee, await _link(db, address), **NEW_ACCOUNT)
        assert joined.status == 303
        invitee.session.cookie_jar.clear()
    await set_plan(db, member.merchant_id, "free")  # three members: no seat for the third
    link = await _link(db, addresses[2])

    refused = await _accept(invitee, link, **NEW_ACCOUNT)

    assert refused.status == 409
    name = f"Merchant {member.store_name[6:]}"
    assert f"{name} has no free seat: the Free plan allows 3. You were not added" in (
        await refused.text()
    )
    chinese = await invitee.post(
        "/invite",
        data={"csrf_token": csrf_token(await refused.text()), "token": link.split("=")[1]}
        | NEW_ACCOUNT,
        headers=ZH,
    )
    assert f"{name} 已没有空余席位：免费版套餐最多 3 个。" in await chinese.text()
    assert await accounts.user_id_by_email(db, addresses[2]) is None
    await set_plan(db, member.merchant_id, "standard")
    assert (await _accept(invitee, link, **NEW_ACCOUNT)).status == 303  # the same link


async def test_inviting_a_member_again_is_refused(client: TestClient, db: asyncpg.Pool) -> None:
    member = await new_member(db)
    await sign_in(client, member.email)
    response = await _invite(client, member, member.email, "owner")
    assert response.status == 409 or response.status == 400
    assert "a member of the merchant already" in await response.text()


async def test_members_are_changed_and_removed_but_never_the_last_owner(
    client: TestClient, db: asyncpg.Pool
) -> None:
    member = await new_member(db)
    second = await accounts.create_store(db, member.merchant_id, "Second", "Asia/Shanghai")
    staff_email = _address()
    staff = await accounts.create_user(db, staff_email, "Staff", PASSWORD)
    await accounts.add_membership(db, member.merchant_id, staff, "staff")
    await sign_in(client, member.email)
    path = f"/team/members/{staff}"
    page = await (await client.get(f"{path}?merchant={member.merchant_id}", headers=EN)).text()
    base = {"csrf_token": csrf_token(page), "merchant": str(member.merchant_id)}

    saved = await client.post(path, data=base | {"role": "staff", "store": str(second)}, headers=EN)
    assert "The member was changed." in await saved.text()
    assert [s.store_id for s in await accounts.stores_of_member(db, member.merchant_id, staff)] == [
        second
    ]
    me = f"/team/members/{member.user_id}"
    demoted = await client.post(me, data=base | {"role": "staff", "store": str(second)}, headers=EN)
    assert demoted.status == 409 and "A merchant needs an owner" in await demoted.text()
    removed_me = await client.post(me + "/remove", data=base, headers=ZH)
    assert removed_me.status == 409 and "商户至少需要一名管理员" in await removed_me.text()
    removed = await client.post(path + "/remove", data=base, headers=EN)
    assert "The member was removed." in await removed.text()
    assert await accounts.memberships_of(db, staff) == []
    actions = [e.action for e in await audit.entries(db, member.merchant_id)]
    assert actions == ["membership.delete", "membership.update"]
    [_delete, update] = await audit.entries(db, member.merchant_id)
    assert ("stores", sorted([member.store_name, "Second"]), ["Second"]) in update.changes()


async def test_two_owners_cannot_demote_each_other_at_once(db: asyncpg.Pool) -> None:
    import asyncio

    from accounts import invitations

    member = await new_member(db)
    other = await accounts.create_user(db, _address(), "Other", PASSWORD)
    await accounts.add_membership(db, member.merchant_id, other, "owner")

    async def demote(user_id: uuid.UUID, actor: uuid.UUID) -> str:
        try:
            await invitations.change_member(
                db,
                member.merchant_id,
                user_id,
                role="staff",
                store_ids=[member.store_id],
                actor=actor,
            )
        except invitations.LastOwner:
            return "refused"
        return "done"

    results = await asyncio.gather(demote(member.user_id, other), demote(other, member.user_id))
    assert sorted(results) == ["done", "refused"]
    assert await accounts.member_count(db, member.merchant_id, "owner") == 1


async def test_staff_get_403_and_another_merchants_ids_404(
    client: TestClient, db: asyncpg.Pool
) -> None:
    mine, theirs = await new_member(db), await new_member(db)
    staff_email = _address()
    staff = await accounts.create_user(db, staff_email, "Staff", PASSWORD)
    await accounts.add_membership(db, theirs.merchant_id, staff, "staff")
    await accounts.add_membership(db, mine.merchant_id, staff, "staff")
    invitation = await db.fetchval(
        "INSERT INTO invitations (merchant_id, invitation_id, token_hash, email, role, language,"
        " expires_at) VALUES ($1, $2, $3, 'x@example.com', 'owner', 'en', now() + interval '1 day')"
        " RETURNING invitation_id",
        theirs.merchant_id,
        uuid.uuid4(),
        uuid.uuid4().bytes,
    )
    await sign_in(client, mine.email)
    token = await _token(client, mine)
    theirs_id, mine_id = str(theirs.merchant_id), str(mine.merchant_id)
    gets = [
        f"/team?merchant={theirs_id}",
        f"/team/members/{theirs.user_id}?merchant={theirs_id}",
        f"/team/members/{theirs.user_id}?merchant={mine_id}",
    ]
    for path in gets:
        assert (await client.get(path, headers=EN)).status == 404, path
    posts = [
        ("/team/invite", theirs_id),
        (f"/team/invitations/{invitation}/revoke", theirs_id),
        (f"/team/invitations/{invitation}/revoke", mine_id),
        (f"/team/members/{theirs.user_id}", theirs_id),
        (f"/team/members/{theirs.user_id}", mine_id),
        (f"/team/members/{theirs.user_id}/remove", theirs_id),
        (f"/team/members/{theirs.user_id}/remove", mine_id),
    ]
    form = {"csrf_token": token, "email": _address(), "role": "owner"}
    for path, merchant in posts:
        response = await client.post(path, data=form | {"merchant": merchant}, headers=EN)
        assert response.status == 404, path
    assert (
        await db.fetchval(
            "SELECT count(*) FROM invitations WHERE merchant_id = $1", theirs.merchant_id
        )
        == 1
    )
    assert await accounts.member_count(db, theirs.merchant_id, "owner") == 1
    assert await audit.entries(db, theirs.merchant_id) == []

    await client.post("/logout", data={"csrf_token": token})
    await sign_in(client, staff_email)
    staff_token = csrf_token(await (await client.get("/dashboard", headers=EN)).text())
    assert (await client.get(f"/team?merchant={mine_id}", headers=EN)).status == 403
    response = await client.post(
        "/team/invite", data=form | {"csrf_token": staff_token, "merchant": mine_id}, headers=EN
    )
    assert response.status == 403


async def test_team_posts_without_the_csrf_token_are_refused(
    client: TestClient, invitee: TestClient, db: asyncpg.Pool
) -> None:
    member = await new_member(db)
    await sign_in(client, member.email)
    await _invite(client, member, _address(), "owner")
    paths = [
        "/team/invite",
        f"/team/invitations/{uuid.uuid4()}/revoke",
        f"/team/members/{member.user_id}",
        f"/team/members/{member.user_id}/remove",
    ]
    for path in paths:
        form = {"merchant": str(member.merchant_id), "role": "staff", "email": _address()}
        assert (await client.post(path, data=form, headers=EN)).status == 403, path
    form = {"token": "x" * 43, "password": "a long password", "display_name": "X"}
    assert (await invitee.post("/invite", data=form, headers=EN)).status == 403
    assert await accounts.member_count(db, member.merchant_id, "owner") == 1


async def test_the_checklists_add_staff_step_links_to_the_team(
    client: TestClient, db: asyncpg.Pool
) -> None:
    member = await new_member(db)
    await sign_in(client, member.email)
    page = await (await client.get("/dashboard", headers=EN)).text()
    assert f'href="/team?merchant={member.merchant_id}"' in page


async def test_a_member_is_known_whatever_the_case_of_the_address(
    client: TestClient, db: asyncpg.Pool
) -> None:
    member = await new_member(db)
    await sign_in(client, member.email)
    response = await _invite(client, member, f"  {member.email.upper()} ", "owner")
    assert response.status == 400
    assert "a member of the merchant already" in await response.text()
    count = "SELECT count(*) FROM invitations WHERE merchant_id = $1"
    assert await db.fetchval(count, member.merchant_id) == 0
