"""What the browser tests share: Playwright and Debian's Chromium (the importing test module is
skipped, saying which is missing, without them), the browser, an app on a real port, a page's
problems, its overflow and screenshots.

Needs Playwright (a dev dependency in pyproject.toml) and a Chromium (`apt-get install chromium`;
PORTICO_CHROMIUM names another binary).
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from PIL import Image

# Raises pytest's skip in the test module that imports this one (module-level skips).
playwright_api = pytest.importorskip(
    "playwright.async_api", reason="Playwright is not installed (pip install playwright)"
)
CHROMIUM = os.environ.get("PORTICO_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip(
        f"no Chromium at {CHROMIUM} (apt-get install chromium, or set PORTICO_CHROMIUM)",
        allow_module_level=True,
    )

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Any]:
    """A headless Chromium (Playwright's Browser), closed at the end."""
    async with playwright_api.async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM, args=["--headless=new", "--no-sandbox"]
        )
        try:
            yield browser
        finally:
            await browser.close()


@contextlib.asynccontextmanager
async def serve(app: web.Application, host: str = "127.0.0.1") -> AsyncIterator[str]:
    """The app on a real port of `host`; yields its base URL (http://host:port)."""
    server = TestServer(app, host=host)
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


def watch(page: Any, problems: list[str], base: str | None = None) -> None:
    """Script errors and CSP violations the page logs into `problems`; with `base`, also any
    request to another host."""
    page.on(
        "console",
        lambda m: (
            problems.append(f"{m.type}: {m.text}")
            if m.type in ("error", "warning") and "Failed to load resource" not in m.text
            else None
        ),
    )
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    if base is not None:
        page.on(
            "request",
            lambda r: None if r.url.startswith(base) else problems.append(f"request to {r.url}"),
        )


async def overflow(page: Any) -> int:
    """How many pixels the page is wider than the window (> 0: it scrolls sideways)."""
    return await page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")


async def shot(page: Any, folder: str | None, name: str) -> None:
    """A full-page screenshot `folder`/`name`.png, when a folder is given: in 256 colours (a
    page of flat colours and text looks the same at about 40 % of the bytes, and the
    screenshots are committed in docs/screenshots)."""
    if folder:
        png = await page.screenshot(full_page=True)
        image = Image.open(io.BytesIO(png)).convert("RGB")
        image.quantize(256, Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
            f"{folder}/{name}.png", optimize=True
        )
