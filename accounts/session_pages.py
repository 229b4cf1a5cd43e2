"""The console's Sessions page, /account/sessions (accounts/sessions.py): the signed-in user's
sessions (started, last used, browser), this one marked; end one, or every other one. Only
the user's own sessions: another user's session id is a 404."""

from __future__ import annotations

import uuid

from aiohttp import web

from accounts import services as accounts
from accounts import sessions
from accounts.web import NotYours, clear_session_cookie, login_required, redirect, render_page
from kernel.web import DB

PATH = "/account/sessions"
NOTICES = {"ended": "ss_notice_ended", "others": "ss_notice_others"}


async def sessions_page(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    found = await sessions.sessions_of(request.app[DB], session.user.user_id)
    return render_page(
        request,
        "accounts/sessions.html",
        sessions=found,
        current=session.session_id,
        notice=NOTICES.get(request.query.get("notice", "")),
    )


async def end_one(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    try:
        session_id = uuid.UUID(request.match_info["session_id"])
    except ValueError:
        raise NotYours("a session id that is not a uuid") from None
    if not await sessions.end_session(request.app[DB], session.user.user_id, session_id):
        raise NotYours(f"session {session_id} is not the user's")
    if session_id == session.session_id:  # ended the one in use: signed out
        response = redirect("/login")
        clear_session_cookie(response)
        return response
    return redirect(f"{PATH}?notice=ended")


async def end_others(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    if session.session_id is None:
        raise NotYours("no session id")
    await sessions.end_others(request.app[DB], session.user.user_id, session.session_id)
    return redirect(f"{PATH}?notice=others")


def add_routes(router: web.UrlDispatcher) -> None:
    """The Sessions page (the composition root calls this)."""
    router.add_get(PATH, login_required(sessions_page), name="sessions")
    router.add_post(PATH + "/end-others", login_required(end_others), name="sessions_end_others")
    router.add_post(PATH + "/{session_id}/end", login_required(end_one), name="session_end")
