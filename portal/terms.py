"""Versioned terms per store (issue 8; docs/logins.md, "Terms").

A store's terms are published as numbered versions (portal_terms); publishing one makes it the
store's current version (portal_settings.terms_version), which every login records on its
session (grants.Admission.terms_version). A published version is never changed: there is no
way to edit one here, and publishing an existing version is refused, so a session's version
always names the words that shopper accepted. Version "1" is reserved for the platform's
default words (messages_email.DEFAULT_TERMS), what a store shows until it publishes its own.
"""

from __future__ import annotations

import functools
import re
import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from accounts import audit
from kernel.errors import PorticoError
from kernel.sql import load_queries
from portal.messages_email import DEFAULT_TERMS

queries = load_queries(__file__, "terms.sql")

DEFAULT_VERSION = "1"  # portal_settings.terms_version's default (migration 0001)
VERSION = re.compile(r"^[0-9A-Za-z._-]{1,32}$")  # portal_terms' CHECK
MAX_BODY = 20_000  # characters, portal_terms' CHECK


class TermsRefused(PorticoError):
    """A version that cannot be published; `message_id` says why (console texts)."""

    status = 400


class BadVersion(TermsRefused):
    message_id = "pl_error_terms_version"


class ReservedVersion(TermsRefused):
    message_id = "pl_error_terms_reserved"


class VersionTaken(TermsRefused):
    message_id = "pl_error_terms_taken"


class BadBody(TermsRefused):
    message_id = "pl_error_terms_body"


class NoStorePortal(TermsRefused):
    message_id = "pl_error_no_portal"
    status = 404


class UnknownTerms(PorticoError):
    message_id = "error_unknown_terms"
    status = 404


@dataclass(frozen=True)
class Terms:
    version: str
    body_en: str
    body_zh: str
    published_at: datetime | None  # None: the platform's default words (version "1")

    def body(self, lang: str) -> str:
        return self.body_zh if lang == "zh-CN" else self.body_en


DEFAULT_TERMS_TEXT = Terms(DEFAULT_VERSION, DEFAULT_TERMS["en"], DEFAULT_TERMS["zh-CN"], None)


def terms_path(merchant_id: uuid.UUID, store_id: uuid.UUID, version: str) -> str:
    """The public page of one version of a store's terms."""
    return f"/terms/{merchant_id}/{store_id}/{version}"


@functools.lru_cache(maxsize=4096)
def splash_terms_url(merchant_id: uuid.UUID, store_id: uuid.UUID, version: str, lang: str) -> str:
    """The page the splash links to, in its language. Cached per store: formatting two UUIDs
    cost a splash view 2 µs."""
    return f"{terms_path(merchant_id, store_id, version)}?lang={lang}"


def check_version(version: str) -> str:
    if not VERSION.match(version):
        raise BadVersion(f"terms version {version[:40]!r} is not 1-32 of 0-9 A-Z a-z . _ -")
    if version == DEFAULT_VERSION:
        raise ReservedVersion("terms version 1 is the platform's default words")
    return version


def check_body(text: str) -> str:
    body = text.replace("\r\n", "\n").strip()
    if not body or len(body) > MAX_BODY:
        raise BadBody(f"terms text of {len(body)} characters (1 to {MAX_BODY})")
    return body


async def publish(
    db: asyncpg.Pool,
    merchant_id: uuid.UUID,
    store_id: uuid.UUID,
    version: str,
    body_en: str,
    body_zh: str,
    *,
    actor: audit.Actor | None = None,
    store_name: str = "",
) -> Terms:
    """Publish a new version of the store's terms and make it the current one. With an
    `actor` (the console), the change is in the merchant's audit log (`terms.publish`, the
    store's current version before and after), in the same transaction."""
    version, body_en, body_zh = check_version(version), check_body(body_en), check_body(body_zh)
    async with db.acquire() as conn, conn.transaction():
        published_at = await conn.fetchval(
            queries.insert_terms, merchant_id, store_id, version, body_en, body_zh
        )
        if published_at is None:
            raise VersionTaken(f"terms version {version} is published already")
        before = await conn.fetchval(queries.current_version, merchant_id, store_id)
        if before is None:
            raise NoStorePortal(f"store {store_id} has no portal settings")
        await conn.execute(queries.make_current, merchant_id, store_id, version)
        if actor is not None:
            await audit.record_change(
                conn,
                merchant_id,
                actor,
                "terms.publish",
                target_id=store_id,
                target_name=store_name,
                before={"terms_version": before},
                after={"terms_version": version},
            )
    return Terms(version, body_en, body_zh, published_at)


async def versions(db: asyncpg.Pool, merchant_id: uuid.UUID, store_id: uuid.UUID) -> list[Terms]:
    """The store's published versions, newest first."""
    return [Terms(**dict(row)) for row in await db.fetch(queries.versions, merchant_id, store_id)]


@dataclass(frozen=True)
class TermsPage:
    brand_name: str
    brand_color: str
    current_version: str
    terms: Terms


async def terms_page(
    db: asyncpg.Pool, merchant_id: uuid.UUID, store_id: uuid.UUID, version: str
) -> TermsPage:
    """One version of a store's terms with its store's brand; UnknownTerms if there is none."""
    if not VERSION.match(version):
        raise UnknownTerms(f"terms version {version[:40]!r} is malformed")
    row = await db.fetchrow(queries.terms_page, merchant_id, store_id, version)
    if row is None:
        raise UnknownTerms(f"no store {store_id} at merchant {merchant_id}")
    if row["version"] is not None:
        terms = Terms(row["version"], row["body_en"], row["body_zh"], row["published_at"])
    elif version == DEFAULT_VERSION:
        terms = DEFAULT_TERMS_TEXT
    else:
        raise UnknownTerms(f"store {store_id} has no terms version {version}")
    return TermsPage(row["brand_name"], row["brand_color"], row["current_version"], terms)
