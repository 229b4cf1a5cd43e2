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

import asyncpg
from PIL import Image, ImageDraw

from kernel.config import Settings
from portico.console_app import make_console_app
from tests.browser import DESKTOP, PHONE, chromium, overflow, serve, shot, watch
from tests.console.test_console_app import PASSWORD, new_member

SCREENSHOTS = os.environ.get("CONSOLE_SCREENSHOTS")


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
    settings: Settings, db: asyncpg.Pool, tmp_path
) -> None:
    own = dataclasses.replace(settings, secret_key=f"browser-{uuid.uuid4().hex}" + "x" * 32)
    member = await new_member(db, "Harbour Tea")
    logo = str(tmp_path / "logo.png")
    _logo(logo)
    async with serve(make_console_app(own, db)) as base, chromium() as browser:
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
