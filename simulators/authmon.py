"""A model of openNDS's authmon daemon (forward_authentication_service/libs/authmon.sh, openNDS
commit b9fbb8d) polling the portal for a level-3 router, with post-request.php as its client.

One `poll_once()` is one turn of authmon.sh's main loop; `run()` is the whole daemon:
`sleep 5`, one `clear`, then forever `view` + ndsctl auth + `view <acklist>` + sleep.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from dataclasses import dataclass, field
from urllib.parse import unquote

import aiohttp

from simulators.opennds import OpenNds

log = logging.getLogger("portico.simulator.authmon")

START_DELAY = 5.0  # authmon.sh: "wait a while for openNDS to get started", sleep 5
DEFAULT_INTERVAL = 5.0  # nat_traversal_poll_interval outside 1..59
AUTHCOUNT = 4  # clients authenticated per poll ("authcount=4")
AUTHLIST_CHARS = 1024  # authlist=${authlist:2:1024}
REQUEST_TIMEOUT = 10.0


@dataclass
class AuthmonModel:
    nds: OpenNds
    url: str  # openNDS's fas_url: `<portal>/fas/<router id>/`
    gateway_hash: str  # sha256hex(url-encoded gateway name), main.c via libopennds.sh hash_str
    interval: float = DEFAULT_INTERVAL
    version: str = "11.0.0beta"
    start_delay: float = START_DELAY
    log: list[tuple[str, str, str]] = field(default_factory=list)  # (action, payload, answer)

    @property
    def user_agent(self) -> str:
        return f"openNDS(authmon;NDS:{self.version};)"

    async def request(self, session: aiohttp.ClientSession, action: str, payload: str) -> str:
        """post-request.php: POST auth_get, gatewayhash and base64(payload), form-encoded; the
        trimmed body, or "ERROR: Failed_to_open_stream_to: [url]" when the request fails
        (PHP's fopen fails on a non-2xx status as on a network error)."""
        form = {
            "auth_get": action,
            "gatewayhash": self.gateway_hash,
            "payload": base64.b64encode(payload.encode()).decode(),
        }
        try:
            async with session.post(
                self.url,
                data=form,
                headers={"User-Agent": self.user_agent},
                timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT),
            ) as response:
                text = (await response.text()).strip()
                answer = text if response.status < 300 else ""
                if response.status >= 300:
                    answer = f"ERROR: Failed_to_open_stream_to: [{self.url}]"
        except (aiohttp.ClientError, TimeoutError):
            answer = f"ERROR: Failed_to_open_stream_to: [{self.url}]"
        self.log.append((action, payload, answer))
        del self.log[:-200]
        return answer

    async def clear(self, session: aiohttp.ClientSession) -> str:
        return await self.request(session, "clear", "none")

    async def poll_once(self, session: aiohttp.ClientSession) -> list[str]:
        """One turn of the main loop; returns the rhids it acked."""
        authlist = await self.request(session, "view", "none")
        acklist = ["*"]
        if authlist[:1] == "*":
            entries = authlist[2 : 2 + AUTHLIST_CHARS]
            if len(entries) >= 3:
                for count, encoded in enumerate(entries.split(), start=1):
                    # authparams=$(printf "${authparams_enc//%/\\x}"); ndsctl auth $authparams
                    params = unquote(encoded).split()
                    if len(params) >= 1:
                        args = [*params[1:7], *[""] * (7 - len(params))][:6]
                        done = self.nds.ndsctl_auth(
                            params[0], *(_int(a) for a in args[:5]), args[5]
                        )
                        if done.output.endswith("authenticated."):
                            acklist.append(params[0])
                    if count >= AUTHCOUNT:
                        break
        # authmon sends its acklist (just "*" when empty) after every view.
        await self.request(session, "view", " ".join(acklist))
        return acklist[1:]

    async def send_deauthed(self, session: aiohttp.ClientSession) -> int:
        """libopennds.sh send_to_fas_deauthed for each deauth openNDS logged since the last
        call (binauth_log.sh sends it at the deauth itself; here at the next turn)."""
        sent = 0
        while self.nds.deauthed:
            await self.request(session, "deauthed", self.nds.deauthed.pop(0))
            sent += 1
        return sent

    async def run(self, stop: asyncio.Event) -> None:
        """The daemon until `stop` is set (openNDS's termination_handler kills it)."""
        async with aiohttp.ClientSession() as session:
            if await _wait(stop, self.start_delay):
                return
            await self.clear(session)
            while not stop.is_set():
                await self.send_deauthed(session)
                acked = await self.poll_once(session)
                if acked:
                    log.info("authmon authenticated %d client(s)", len(acked))
                if await _wait(stop, self.interval):
                    return


def _int(text: str) -> int:
    """strtol as ndsctl_auth uses it: leading digits, else 0."""
    digits = ""
    for ch in text.strip():
        if not ch.isdigit():
            break
        digits += ch
    return int(digits) if digits else 0


async def _wait(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep, waking early when stopped; True if stopped."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return False
    return True
