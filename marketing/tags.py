"""Tags: named rules over a profile's facts, each with its definition's version.

Every merchant starts with DEFAULTS (made on first use, `ensure_defaults`), which the merchant
edits like any other tag: an edit is a new version (marketing_tag_versions), and a profile
tagged since says which version tagged it ({tag_id: version} in marketing_profiles.tags).
Tags are re-evaluated on each event of a profile (marketing/engine.py), in an order where a
tag read by another's rule comes first (a cycle is refused when the tag is saved).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import asyncpg

from kernel.sql import load_queries
from marketing import rules
from marketing.rules import Check, Rule, RuleError

queries = load_queries(__file__, "tags.sql")

FREQUENT_VISITS = 4  # "frequent": at least this many visits in 30 days
MEMO = 100_000  # sets of facts whose tags are remembered (marketing/engine.py asks per event)
RESERVED_IDS = frozenset({"new"})  # the console's /marketing/tags/new is the new tag's form


@dataclass(frozen=True)
class Tag:
    tag_id: str
    name_zh: str
    name_en: str
    rule: Rule
    version: int = 1
    enabled: bool = True


DEFAULTS: tuple[Tag, ...] = (
    Tag("new", "新顾客", "New", {"fact": "visits_total", "op": "<=", "value": 1}),
    Tag(
        "frequent",
        "常客",
        "Frequent",
        {"fact": "visits_30d", "op": ">=", "value": FREQUENT_VISITS},
    ),
    Tag("lapsed", "流失回访", "Lapsed, back", {"fact": "lapsed_return", "op": "=", "value": True}),
    Tag(
        "lunchtime_regular",
        "午餐常客",
        "Lunchtime regular",
        {"fact": "lunch_visits_30d", "op": ">=", "value": 3},
    ),
    Tag(
        "long_dwell",
        "长停留",
        "Long dwell",
        {
            "any": [
                {"fact": "dwell_minutes_now", "op": ">=", "value": 20},
                {"fact": "avg_dwell_minutes", "op": ">=", "value": 20},
            ]
        },
    ),
    Tag(
        "coupon_redeemer",
        "券核销者",
        "Coupon redeemer",
        {"fact": "redemptions", "op": ">=", "value": 1},
    ),
)


@dataclass(frozen=True)
class CompiledTags:
    """A merchant's enabled tags, compiled, in evaluation order."""

    order: tuple[tuple[str, int, Check], ...]
    # Tags are a function of the facts alone, and many shoppers share the same facts at once
    # (a visit going on, minute by minute): each set of facts evaluated once, up to MEMO sets.
    _memo: dict[tuple[tuple[str, int | bool], ...], dict[str, int]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def evaluate(self, facts: Mapping[str, int | bool]) -> dict[str, int]:
        """The tags held with these facts (a dict of the caller's own)."""
        key = tuple(facts.items())
        held = self._memo.get(key)
        if held is None:
            held = {}
            for tag_id, version, check in self.order:
                if check(facts, held):
                    held[tag_id] = version
            if len(self._memo) >= MEMO:
                self._memo.clear()
            self._memo[key] = held
        return dict(held)


def compile_tags(tags: Sequence[Tag]) -> CompiledTags:
    """The enabled tags in an order where each comes after the tags its rule reads; a tag
    reading a disabled or unknown tag sees it as not held. RuleError on a cycle."""
    enabled = {t.tag_id: t for t in tags if t.enabled}
    ordered: list[Tag] = []
    state: dict[str, str] = {}

    def visit(tag: Tag, path: tuple[str, ...]) -> None:
        if state.get(tag.tag_id) == "done":
            return
        if state.get(tag.tag_id) == "visiting":
            raise RuleError("tags read each other in a circle: " + " → ".join((*path, tag.tag_id)))
        state[tag.tag_id] = "visiting"
        for used in sorted(rules.tags_used(tag.rule)):
            if used in enabled:
                visit(enabled[used], (*path, tag.tag_id))
        state[tag.tag_id] = "done"
        ordered.append(tag)

    for tag in enabled.values():
        visit(tag, ())
    return CompiledTags(tuple((t.tag_id, t.version, rules.compile_rule(t.rule)) for t in ordered))


def _tag(row: asyncpg.Record) -> Tag:
    rule = row["rule"]
    return Tag(
        tag_id=row["tag_id"],
        name_zh=row["name_zh"],
        name_en=row["name_en"],
        rule=rules.parse(json.loads(rule) if isinstance(rule, str) else rule),
        version=row["version"],
        enabled=row["enabled"],
    )


async def ensure_defaults(db: asyncpg.Pool | asyncpg.Connection, merchant_id: uuid.UUID) -> None:
    """The default tags, for a merchant that has none of them yet (each made once)."""
    await db.execute(
        queries.insert_default_tags,
        merchant_id,
        [t.tag_id for t in DEFAULTS],
        [t.name_zh for t in DEFAULTS],
        [t.name_en for t in DEFAULTS],
        [t.rule for t in DEFAULTS],
    )


async def list_tags(db: asyncpg.Pool | asyncpg.Connection, merchant_id: uuid.UUID) -> list[Tag]:
    return [_tag(r) for r in await db.fetch(queries.list_tags, merchant_id)]


async def save_tag(
    db: asyncpg.Pool | asyncpg.Connection,
    merchant_id: uuid.UUID,
    tag_id: str,
    name_zh: str,
    name_en: str,
    rule: object,
    enabled: bool = True,
) -> Tag:
    """Create the tag, or make its rule a new version; RuleError when the rule is malformed
    or the merchant's tags would read each other in a circle. `db`: a pool, or a connection
    whose transaction the save joins (the console's, with its audit entry)."""
    if tag_id in RESERVED_IDS:
        raise RuleError(f"'{tag_id}' is a word the console keeps: choose another id")
    if not rules.TAG_ID.match(tag_id):
        raise RuleError("a tag's id is lower-case letters, digits and _, starting with a letter")
    parsed = rules.parse(rule)
    if isinstance(db, asyncpg.Pool):
        async with db.acquire() as conn:
            return await _save_tag(conn, merchant_id, tag_id, name_zh, name_en, parsed, enabled)
    return await _save_tag(db, merchant_id, tag_id, name_zh, name_en, parsed, enabled)


async def _save_tag(
    conn: asyncpg.Connection,
    merchant_id: uuid.UUID,
    tag_id: str,
    name_zh: str,
    name_en: str,
    parsed: Rule,
    enabled: bool,
) -> Tag:
    async with conn.transaction():
        await conn.execute(queries.lock_tags, merchant_id)
        others = [t for t in await list_tags(conn, merchant_id) if t.tag_id != tag_id]
        compile_tags([*others, Tag(tag_id, name_zh, name_en, parsed, 1, enabled)])
        row = await conn.fetchrow(
            queries.upsert_tag, merchant_id, tag_id, name_zh, name_en, parsed, enabled
        )
        await conn.execute(queries.insert_tag_version, merchant_id, tag_id, row["version"], parsed)
    return _tag(row)
