"""What a phone's browser does behind a captive portal, run inside a client namespace:

    ip netns exec <client> python phone.py http://10.200.0.99/ [RETRY_AFTER_SECONDS]

GET the URL, follow redirects, and on the portal's splash tick the terms box and press Connect
(POST the login form with accept=1), then follow redirects to the end. With RETRY_AFTER_SECONDS,
a shopper who lands on the portal's error page with a Try again button presses it (once) after
that many seconds of reading. Prints one JSON object:
{"hops": [{"method", "url", "status", "location", "summary"}...], "error": str | null}.
Standard library only; every request has a timeout and the walk has a hop limit.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import ssl
import sys
import time
from urllib.parse import urlencode, urljoin, urlsplit

MAX_HOPS = 30
MAX_REFRESH_SECONDS = 5  # a <meta http-equiv=refresh> is followed after at most this
TIMEOUT = 20.0
REDIRECTS = {301, 302, 303, 307, 308}


def fetch(method: str, url: str, form: dict[str, str] | None) -> tuple[int, str, str]:
    parts = urlsplit(url)
    conn: http.client.HTTPConnection
    if parts.scheme == "https":  # the FAS at openNDS level 3; PHONE_CA_FILE is the test's CA
        context = ssl.create_default_context(cafile=os.environ.get("PHONE_CA_FILE"))
        conn = http.client.HTTPSConnection(
            parts.hostname or "", parts.port or 443, timeout=TIMEOUT, context=context
        )
    else:
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port or 80, timeout=TIMEOUT)
    try:
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        headers = {"Accept-Language": "en", "User-Agent": "portico-real-gateway-test"}
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        text = response.read(200_000).decode("utf-8", errors="replace").replace("\0", "")
        return response.status, response.getheader("Location") or "", text
    finally:
        conn.close()


def summary(body: str) -> str:
    """The page's title, first heading and any error text, whitespace squeezed."""
    found = []
    for pattern in (
        r"<title>(.*?)</title>",
        r"<h1[^>]*>(.*?)</h1>",
        r'<div class="error"[^>]*>(.*?)</div>',
    ):
        match = re.search(pattern, body, re.S | re.I)
        if match:
            found.append(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", match.group(1))).strip())
    return " | ".join(found)[:300]


def login_form(body: str, *, accept: bool = True) -> tuple[str, dict[str, str]] | None:
    """The splash's login form (action ending in /login) and its fields, terms accepted."""
    for match in re.finditer(r"<form([^>]*)>(.*?)</form>", body, re.S | re.I):
        action = re.search(r'action="([^"]*)"', match.group(1))
        if not action or not action.group(1).endswith("/login"):
            continue
        fields = {}
        for tag in re.findall(r"<input[^>]*>", match.group(2), re.I):
            name = re.search(r'name="([^"]*)"', tag)
            value = re.search(r'value="([^"]*)"', tag)
            if name:
                fields[name.group(1)] = value.group(1).replace("&amp;", "&") if value else ""
        if accept:
            fields["accept"] = "1"
        return action.group(1), fields
    return None


def retry_form(body: str) -> tuple[str, dict[str, str]] | None:
    """The error page's Try again form (it posts the same login again)."""
    if 'class="error"' not in body or 'id="retry"' not in body:
        return None
    return login_form(body, accept=False)


def browse(start: str, retry_after: float | None = None) -> dict[str, object]:
    hops: list[dict[str, object]] = []
    method, url, form, posted = "GET", start, None, False
    try:
        for _ in range(MAX_HOPS):
            status, location, body = fetch(method, url, form)
            hops.append(
                {
                    "method": method,
                    "url": url,
                    "status": status,
                    "location": location,
                    "summary": summary(body),
                    "online_page": "You're online" in body or "You&#39;re online" in body,
                    "error_page": 'class="error"' in body,
                }
            )
            if status in REDIRECTS and location:
                method, url, form = "GET", urljoin(url, location), None
                continue
            refresh = re.search(r'<meta http-equiv="refresh" content="(\d+)"', body, re.I)
            if status == 200 and refresh:  # the portal's "connecting" page (level 3, authmon)
                time.sleep(min(int(refresh.group(1)), MAX_REFRESH_SECONDS))
                method, form = "GET", None
                continue
            found = None if posted else login_form(body)
            if status == 200 and found:
                action, form = found
                method, url, posted = "POST", urljoin(url, action), True
                continue
            again = retry_form(body) if retry_after is not None else None
            if again:
                time.sleep(retry_after)
                action, form = again
                method, url, retry_after = "POST", urljoin(url, action), None
                continue
            return {"hops": hops, "error": None}
        return {"hops": hops, "error": f"more than {MAX_HOPS} hops"}
    except OSError as exc:
        return {"hops": hops, "error": f"{type(exc).__name__}: {exc} at {method} {url}"}


if __name__ == "__main__":
    print(json.dumps(browse(sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else None)))
