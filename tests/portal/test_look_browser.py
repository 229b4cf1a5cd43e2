"""The Portal settings page in headless Chromium (Playwright): an owner types a colour and a
welcome text and both phone-sized previews (zh-CN and English) follow before anything is
saved; an unreadable colour comes back with its error; a logo is uploaded and shows in the
previews after the save. The page, in both languages at phone and desk widths, logs no script
error or CSP violation, requests nothing from another host, and does not scroll sideways.

With CONSOLE_SCREENSHOTS=<folder> it saves console-portal-*.png there (docs/screenshots/).
"""

from __future__ import annotations

import dataclasses
import io
import os
import uuid
from pathlib import Path

import asyncpg
from PIL import Image, ImageDraw

from controller.commands import CommandSender
from controller.services import record_router_status, register_router
from kernel.config import Settings
from portal.app import make_portal_app
from portal.fas import encode_fas
from portico.console_app import make_console_app
from tests.browser import DESKTOP, PHONE, chromium, overflow, serve, shot, watch
from tests.console.test_console_app import PASSWORD, new_member
from tests.portal.test_look_console import splash_fields

SCREENSHOTS = os.environ.get("CONSOLE_SCREENSHOTS")


def _background(path: str) -> None:
    image = Image.new("RGB", (1200, 500), (14, 116, 144))
    draw = ImageDraw.Draw(image)
    for x in range(0, 1200, 60):
        draw.ellipse((x, 300 - x // 6, x + 180, 480 - x // 6), fill=(250, 204, 21))
    image.save(path, "JPEG", quality=85)


def _logo(path: str) -> None:
    image = Image.new("RGBA", (240, 80), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((4, 4, 236, 76), radius=18, fill=(255, 255, 255, 235))
    draw.ellipse((16, 16, 64, 64), fill=(29, 78, 216, 255))
    draw.rectangle((80, 30, 220, 50), fill=(29, 78, 216, 255))
    out = io.BytesIO()
    image.save(out, "PNG")
    with open(path, "wb") as file:
        file.write(out.getvalue())


async def _frame_text(page, lang: str) -> str:
    frame = page.frame_locator(f"#preview-{lang}")
    return await frame.locator("body").inner_text()


async def test_an_owner_brands_the_portal_and_watches_the_preview(
    settings: Settings, db: asyncpg.Pool, sender: CommandSender, tmp_path: Path
) -> None:
    own = dataclasses.replace(settings, secret_key=f"browser-{uuid.uuid4().hex}" + "x" * 32)
    member = await new_member(db, "Harbour Tea")
    router_id = f"ap-brand-{uuid.uuid4().hex[:8]}"
    async with db.acquire() as conn:
        new = await register_router(conn, member.merchant_id, member.store_id, router_id, "AP")
        await record_router_status(conn, new.router, online=True, status={"v": 1, "online": True})
    logo, background = str(tmp_path / "logo.png"), str(tmp_path / "background.jpg")
    _logo(logo)
    _background(background)
    async with (
        serve(make_console_app(own, db)) as base,
        serve(make_portal_app(own, db, sender)) as portal_base,
        chromium() as browser,
    ):
        page = await (await browser.new_context(viewport=DESKTOP)).new_page()
        problems: list[str] = []
        watch(page, problems, base)
        await page.goto(f"{base}/login?lang=en")
        await page.fill("input[name=email]", member.email)
        await page.fill("input[name=password]", PASSWORD)
        await page.click("form button[type=submit]")
        await page.wait_for_url(f"{base}/dashboard")
        await page.click("#checklist a[href^='/portal']")
        await page.wait_for_url(f"{base}/portal?merchant={member.merchant_id}")
        assert "Harbour Tea" in await _frame_text(page, "en")

        # Typing changes both previews before any save.
        await page.fill("#welcome_en", "Fresh tea, free WiFi")
        await page.fill("#welcome_zh", "好茶相伴，免费上网")
        await page.fill("#brand_color", "#1d4ed8")
        await page.fill("#page_color", "#fffbeb")
        await page.fill("#text_color", "#3b0764")
        frame_en = page.frame_locator("#preview-en")
        await frame_en.locator("text=Fresh tea, free WiFi").wait_for()
        await page.frame_locator("#preview-zh-CN").locator("text=好茶相伴，免费上网").wait_for()
        header = await frame_en.locator("header").evaluate(
            "h => getComputedStyle(h).backgroundColor"
        )
        assert header == "rgb(29, 78, 216)"

        # An unreadable pair comes back with its error, nothing saved.
        await page.fill("#text_color", "#fef3c7")
        await page.click("#save-look")
        assert await page.locator("#error-text_color").is_visible()
        assert "contrast" in await page.locator("#error-text_color").inner_text()
        await shot(page, SCREENSHOTS, "console-portal-error-en")
        await page.fill("#text_color", "#3b0764")
        await page.fill("#landing_url", "https://harbour.example/menu")
        await page.click("#save-look")
        await page.locator("#saved").wait_for()

        await page.set_input_files("#file-logo", logo)
        await page.click("#upload-logo")
        await page.locator("#saved").wait_for()
        logo_img = frame_en.locator("#logo")
        await logo_img.evaluate("i => i.complete || new Promise(r => { i.onload = r; })")
        assert await logo_img.evaluate("i => i.naturalWidth") == 240
        await page.set_input_files("#file-background", background)
        await page.click("#upload-background")
        await page.locator("#saved").wait_for()
        await shot(page, SCREENSHOTS, "console-portal-desk-en")

        for lang in ("zh-CN", "en"):
            for name, viewport in (("phone", PHONE), ("desk", DESKTOP)):
                await page.set_viewport_size(viewport)
                await page.goto(f"{base}/portal?merchant={member.merchant_id}&lang={lang}")
                await page.frame_locator(f"#preview-{lang}").locator("#logo").wait_for()
                assert await overflow(page) <= 0, (lang, name)
                await shot(page, SCREENSHOTS, f"console-portal-{name}-{lang}")
        # The preview on its own, as a phone shows it.
        await page.set_viewport_size({"width": 360, "height": 640})
        for lang in ("zh-CN", "en"):
            await page.goto(
                f"{base}/portal/preview?merchant={member.merchant_id}"
                f"&store={member.store_id}&lang={lang}"
            )
            assert await page.locator("#logo").is_visible()
            await shot(page, SCREENSHOTS, f"console-portal-preview-{lang}")
        assert problems == [], problems

        # The store's real splash, served by the portal, now has the look.
        fields = splash_fields("aa:bb:cc:dd:ee:07")
        shopper = await (
            await browser.new_context(viewport={"width": 360, "height": 640})
        ).new_page()
        watch(shopper, problems, portal_base)
        for lang in ("zh-CN", "en"):
            await shopper.goto(
                f"{portal_base}/fas/{router_id}/?fas={encode_fas(fields)}&lang={lang}"
            )
            await shopper.locator("#logo").wait_for()
            assert await shopper.locator("#logo").evaluate("i => i.naturalWidth") == 240
            header = await shopper.locator("header").evaluate(
                "h => getComputedStyle(h).backgroundImage"
            )
            assert f"/look/{member.merchant_id}/{member.store_id}/" in header
            text = await shopper.locator("body").inner_text()
            assert ("好茶相伴，免费上网" if lang == "zh-CN" else "Fresh tea, free WiFi") in text
            await shot(shopper, SCREENSHOTS, f"portal-splash-branded-{lang}")
        assert problems == [], problems
