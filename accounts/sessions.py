"""A user's console sessions, listed and ended (docs/console.md "Sessions"): when each was
started and last used, and a coarse description of its browser; never the token, its hash,
the raw User-Agent or an IP address. A user can end any of their own sessions, or all but the
one they are using; nobody else's.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime

from accounts.services import Executor, queries

__all__ = ["SessionInfo", "describe_device", "end_others", "end_session", "sessions_of"]

# (pattern, name), first match wins: Edge and Opera say "Chrome" too, Chrome says "Safari".
_BROWSERS = (
    (re.compile(r"Edg(e|A|iOS)?/"), "Edge"),
    (re.compile(r"OPR/|Opera"), "Opera"),
    (re.compile(r"MicroMessenger/"), "WeChat"),
    (re.compile(r"Firefox/|FxiOS/"), "Firefox"),
    (re.compile(r"Chrome/|CriOS/|Chromium/"), "Chrome"),
    (re.compile(r"Safari/"), "Safari"),
)
_SYSTEMS = (
    (re.compile(r"Android"), "Android"),
    (re.compile(r"iPhone|iPad|iPod"), "iOS"),
    (re.compile(r"Windows"), "Windows"),
    (re.compile(r"Mac OS X|Macintosh"), "macOS"),
    (re.compile(r"CrOS"), "ChromeOS"),
    (re.compile(r"Linux"), "Linux"),
)


def describe_device(user_agent: str) -> str:
    """ "Chrome · Android", "Safari · iOS", … from a User-Agent header: the browser and the
    system only (no versions, no device model; names that need no translation), or "" when
    neither is known."""
    user_agent = user_agent[:512]
    browser = next((name for pattern, name in _BROWSERS if pattern.search(user_agent)), "")
    system = next((name for pattern, name in _SYSTEMS if pattern.search(user_agent)), "")
    if browser and system:
        return f"{browser} · {system}"
    return browser or system


@dataclass(frozen=True)
class SessionInfo:
    session_id: uuid.UUID
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    device: str


async def sessions_of(db: Executor, user_id: uuid.UUID) -> list[SessionInfo]:
    """The user's live sessions, the most recently used first."""
    return [SessionInfo(**dict(r)) for r in await db.fetch(queries.sessions_of, user_id)]


async def end_session(db: Executor, user_id: uuid.UUID, session_id: uuid.UUID) -> bool:
    """End one of the user's sessions; False when it is not theirs (or gone)."""
    return await db.fetchval(queries.end_session_of, user_id, session_id) is not None


async def end_others(db: Executor, user_id: uuid.UUID, keep: uuid.UUID) -> None:
    """End every session of the user but `keep` (the one in use)."""
    await db.execute(queries.end_sessions_but, user_id, keep)
