"""`portico wechat set|show` (portico/wechat_accounts.py) against the real PostgreSQL: the
account is stored with its AppSecret sealed (never from the command line), the merchant is
shown the URL and push token to enter at WeChat, the token stays until replaced, bad input is
refused before anything is stored, and each change is in the audit log without a secret."""

from __future__ import annotations

import io
import json

import asyncpg
import pytest

from accounts import audit
from accounts.web import CATALOG
from kernel.config import Settings
from kernel.i18n import LANGUAGES
from kernel.privacy import unseal
from marketing import wechat
from portico import cli, wechat_accounts
from portico.console_app import make_console_app
from portico.routers import CommandError
from tests.marketing.test_engine import a_merchant

PORTAL = "https://wifi.example.com"


def request(*words: str) -> object:
    return cli._parser().parse_args(["wechat", *words])


async def test_set_stores_the_account_and_show_prints_what_to_enter_at_wechat(
    db: asyncpg.Pool, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    merchant, _store = await a_merchant(db)
    monkeypatch.delenv(wechat_accounts.SECRET_ENV, raising=False)
    asked: list[str] = []
    out = io.StringIO()
    args = request(
        "set", "--merchant", str(merchant), "--app-id", "wx0011", "--template-id", "TPL_1"
    )
    token = await wechat_accounts.set_account(
        db, PORTAL, settings.secret_key, args, out, ask=lambda p: asked.append(p) or " s3cret "
    )
    assert asked == ["The account's AppSecret: "]  # asked, not read from the command line
    row = await db.fetchrow(
        "SELECT * FROM marketing_wechat_accounts WHERE merchant_id = $1", merchant
    )
    assert (row["app_id"], row["template_id"], row["message_key"]) == ("wx0011", "TPL_1", "thing1")
    assert unseal(settings.secret_key, str(merchant), bytes(row["sealed_app_secret"])) == "s3cret"
    assert len(token) == 32 and token.isalnum()
    text = out.getvalue()
    assert f"{PORTAL}/wechat/events/{merchant}" in text and token in text and "明文模式" in text
    assert "s3cret" not in text

    # Shown again: the same token; set again: the token stays (the merchant entered it).
    shown = io.StringIO()
    assert (
        await wechat_accounts.show(
            db, PORTAL, settings.secret_key, request("show", "--merchant", str(merchant)), shown
        )
        == token
    )
    assert "wx0011" in shown.getvalue() and token in shown.getvalue()
    monkeypatch.setenv(wechat_accounts.SECRET_ENV, "another-secret")
    again = request(
        "set", "--merchant", str(merchant), "--app-id", "wx0011", "--template-id", "TPL_2"
    )
    assert (
        await wechat_accounts.set_account(db, PORTAL, settings.secret_key, again, io.StringIO())
        == token
    )
    assert await wechat.push_token(db, settings.secret_key, merchant) == token

    # --new-token replaces it.
    rotated = await wechat_accounts.show(
        db,
        PORTAL,
        settings.secret_key,
        request("show", "--merchant", str(merchant), "--new-token"),
        io.StringIO(),
    )
    assert (
        rotated != token and await wechat.push_token(db, settings.secret_key, merchant) == rotated
    )

    entries = await audit.entries(db, merchant)
    assert sorted(e.action for e in entries) == [
        "marketing.wechat_account",
        "marketing.wechat_account",
        "marketing.wechat_push_token",
    ]
    logged = json.dumps([(e.before, e.after, e.target_name) for e in entries], default=str)
    assert "s3cret" not in logged and "another-secret" not in logged
    assert token not in logged and rotated not in logged


async def test_bad_input_is_refused_and_nothing_stored(
    db: asyncpg.Pool, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    merchant, _store = await a_merchant(db)
    monkeypatch.setenv(wechat_accounts.SECRET_ENV, "s3cret")
    m = str(merchant)
    for words, message in [
        (("set", "--merchant", m, "--app-id", "wx 1", "--template-id", "T"), "--app-id"),
        (("set", "--merchant", m, "--app-id", "wx1", "--template-id", "T/1"), "--template-id"),
        (
            (
                "set",
                "--merchant",
                m,
                "--app-id",
                "wx1",
                "--template-id",
                "T",
                "--message-key",
                "a-b",
            ),
            "--message-key",
        ),
        (
            ("set", "--merchant", "No Such Shop", "--app-id", "wx1", "--template-id", "T"),
            "no merch",
        ),
    ]:
        with pytest.raises(CommandError, match=message):
            await wechat_accounts.set_account(
                db, PORTAL, settings.secret_key, request(*words), io.StringIO()
            )
    monkeypatch.setenv(wechat_accounts.SECRET_ENV, "")
    with pytest.raises(CommandError, match="AppSecret"):
        await wechat_accounts.set_account(
            db,
            PORTAL,
            settings.secret_key,
            request("set", "--merchant", m, "--app-id", "wx1", "--template-id", "T"),
            io.StringIO(),
            ask=lambda _p: "  ",
        )
    with pytest.raises(CommandError, match="no WeChat Official Account"):
        await wechat_accounts.show(
            db, PORTAL, settings.secret_key, request("show", "--merchant", m), io.StringIO()
        )
    assert (
        await db.fetchval(
            "SELECT count(*) FROM marketing_wechat_accounts WHERE merchant_id = $1", merchant
        )
        == 0
    )
    assert await audit.entries(db, merchant) == []


def test_the_audit_log_names_these_changes_in_both_languages(
    settings: Settings, db: asyncpg.Pool
) -> None:
    catalog = make_console_app(settings, db)[CATALOG]
    ids = ["au_action_marketing_wechat_account", "au_action_marketing_wechat_push_token"]
    ids += [f"au_field_{f}" for f in ("app_id", "template_id", "message_key")]
    assert [i for i in ids for lang in LANGUAGES if lang not in catalog.get(i, {})] == []
