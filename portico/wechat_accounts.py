"""`portico wechat set|show`: a merchant's WeChat Official Account (服务号), for the platform's
operators acting for the merchant (the console has no WeChat page yet; docs/marketing.md,
"WeChat: following the account").

`set` stores the account's AppID, its AppSecret (sealed; read from $PORTICO_WECHAT_APP_SECRET,
or asked for without echo: never on the command line, where `ps` and the shell's history would
keep it), the template of its messages and the template's field. `show` prints what the
merchant enters in the account's 服务器配置 (mp.weixin.qq.com → 设置与开发 → 基本配置): the URL
WeChat pushes follows to, the push token (made if the account has none; `--new-token` replaces
it) and 明文模式. Each change is an entry in the merchant's audit log, never with a secret.
"""

from __future__ import annotations

import argparse
import getpass
import os
import re
import sys
import uuid
from collections.abc import Callable
from typing import TextIO

import asyncpg

import accounts.services as accounts
from accounts import audit
from marketing import wechat
from portico.routers import CommandError
from portico.shopper_data import merchant_of

SECRET_ENV = "PORTICO_WECHAT_APP_SECRET"  # noqa: S105 (the variable's name, not a secret)
ACTOR = audit.Actor.system("portico wechat")
APP_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
TEMPLATE_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
MESSAGE_KEY = re.compile(r"^[A-Za-z0-9_]{1,40}$")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "wechat", help="a merchant's WeChat Official Account: set it, show its push settings"
    )
    actions = parser.add_subparsers(dest="action", required=True)
    set_ = actions.add_parser(
        "set",
        help="set the account (AppSecret from $PORTICO_WECHAT_APP_SECRET or asked)",
        description=__doc__,
    )
    set_.add_argument("--merchant", required=True, help="the merchant's id or exact name")
    set_.add_argument("--app-id", required=True, help="the account's AppID (wx…)")
    set_.add_argument("--template-id", required=True, help="its template message's id")
    set_.add_argument(
        "--message-key", default="thing1", help="the template's field for the text (thing1)"
    )
    show = actions.add_parser(
        "show", help="what to enter in the account's 服务器配置 (URL, token)", description=__doc__
    )
    show.add_argument("--merchant", required=True, help="the merchant's id or exact name")
    show.add_argument(
        "--new-token", action="store_true", help="replace the push token (enter it at WeChat)"
    )


def read_secret(ask: Callable[[str], str] = getpass.getpass) -> str:
    """The AppSecret: $PORTICO_WECHAT_APP_SECRET, else asked (no echo)."""
    secret = os.environ.get(SECRET_ENV) or ask("The account's AppSecret: ")
    secret = secret.strip()
    if not secret or len(secret) > 128 or not secret.isprintable():
        raise CommandError("the AppSecret is empty or not one (at most 128 characters)")
    return secret


async def set_account(
    db: asyncpg.Pool,
    portal_url: str,
    secret_key: str,
    args: argparse.Namespace,
    out: TextIO = sys.stdout,
    ask: Callable[[str], str] = getpass.getpass,
) -> str:
    """Store the account and print its push settings; the push token."""
    for value, pattern, what in (
        (args.app_id, APP_ID, "--app-id"),
        (args.template_id, TEMPLATE_ID, "--template-id"),
        (args.message_key, MESSAGE_KEY, "--message-key"),
    ):
        if not pattern.match(value):
            raise CommandError(f"{what} {value!r} is not one (letters, digits, _ and -)")
    merchant_id = await merchant_of(db, args.merchant)
    app_secret = read_secret(ask)
    async with db.acquire() as conn, conn.transaction():
        token = await wechat.set_account(
            conn,
            merchant_id,
            secret_key=secret_key,
            app_id=args.app_id,
            app_secret=app_secret,
            template_id=args.template_id,
            message_key=args.message_key,
        )
        await audit.record_change(
            conn,
            merchant_id,
            ACTOR,
            "marketing.wechat_account",
            target_name=args.app_id,
            after={
                "app_id": args.app_id,
                "template_id": args.template_id,
                "message_key": args.message_key,
            },
        )
    out.write(f"WeChat Official Account {args.app_id} set.\n")
    _print_settings(out, portal_url, merchant_id, token)
    return token


async def show(
    db: asyncpg.Pool,
    portal_url: str,
    secret_key: str,
    args: argparse.Namespace,
    out: TextIO = sys.stdout,
) -> str:
    """Print the account and its push settings (a token made if it has none, or a new one
    with --new-token); the push token."""
    merchant_id = await merchant_of(db, args.merchant)
    async with db.acquire() as conn, conn.transaction():
        account = await conn.fetchrow(wechat.queries.account_settings, merchant_id)
        if account is None:
            raise CommandError("the merchant has no WeChat Official Account: `portico wechat set`")
        token = await wechat.push_token(
            conn, secret_key, merchant_id, make=True, rotate=args.new_token
        )
        if args.new_token:
            await audit.record_change(
                conn,
                merchant_id,
                ACTOR,
                "marketing.wechat_push_token",
                target_name=account["app_id"],
            )
    assert token is not None  # made above
    names = await accounts.merchant_names(db, [merchant_id])
    out.write(
        f"{names.get(merchant_id, merchant_id)}: WeChat Official Account {account['app_id']}, "
        f"template {account['template_id']} (field {account['message_key']}).\n"
    )
    if args.new_token:
        out.write(
            "A new push token: enter it at WeChat now (pushes signed with the old one are "
            "refused from now on).\n"
        )
    _print_settings(out, portal_url, merchant_id, token)
    return token


def _print_settings(out: TextIO, portal_url: str, merchant_id: uuid.UUID, token: str) -> None:
    out.write(
        "In the account's 服务器配置 (mp.weixin.qq.com: 设置与开发 → 基本配置), enter:\n"
        f"  URL (服务器地址):               {wechat.events_url(portal_url, merchant_id)}\n"
        f"  Token (令牌):                   {token}\n"
        "  EncodingAESKey (消息加解密密钥): any (随机生成); not used\n"
        "  消息加解密方式:                 明文模式 (plain text; 安全模式 is not supported yet)\n"
        "The URL must be the portal's public https address (PORTICO_PUBLIC_PORTAL_URL).\n"
    )
