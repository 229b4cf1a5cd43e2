"""The rule language of tags, segments and triggers: small enough to read without code.

A rule is JSON, as the console's forms write it:

    {"all": [{"fact": "visits_30d", "op": ">=", "value": 4}, {"tag": "lunchtime_regular"}]}

- `{"all": [rule, ...]}`: every one holds; `{"any": [rule, ...]}`: at least one does (an
  empty `all` always holds, an empty `any` never);
- `{"not": rule}`;
- `{"fact": NAME, "op": OP, "value": V}`: a profile fact (FACTS below) compared with a whole
  number (ops >=, >, <=, <, =, !=), or a yes/no fact compared with true or false (= only);
- `{"tag": TAG_ID}`: the profile holds that tag.

`parse` checks a rule and raises RuleError naming what is wrong; `compile_rule` makes it a
function of (facts, tags); `describe` says it in zh-CN or English for the console.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kernel.errors import PorticoError

MAX_DEPTH = 4
MAX_TERMS = 20
TAG_ID = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


@dataclass(frozen=True)
class Fact:
    kind: str  # 'count' or 'flag'
    en: str
    zh: str


FACTS: dict[str, Fact] = {
    "visits_total": Fact("count", "visits ever", "累计到店次数"),
    "visits_30d": Fact("count", "visits in the last 30 days", "近 30 天到店次数"),
    "lunch_visits_30d": Fact(
        "count", "lunchtime visits (11:00–14:00) in 30 days", "近 30 天午餐时段到店次数"
    ),
    "days_since_last_visit": Fact("count", "days since the last visit", "距上次到店天数"),
    "dwell_minutes_now": Fact("count", "minutes in the store this visit", "本次停留分钟数"),
    "avg_dwell_minutes": Fact("count", "average visit, minutes", "平均停留分钟数"),
    "longest_dwell_minutes": Fact("count", "longest visit, minutes", "最长停留分钟数"),
    "stores_visited": Fact("count", "stores visited", "去过的门店数"),
    "claims": Fact("count", "coupons claimed", "领取优惠券数"),
    "redemptions": Fact("count", "coupons redeemed", "核销优惠券数"),
    "first_visit": Fact("flag", "this is the first visit", "首次到店"),
    "lapsed_return": Fact("flag", "back after 30 days or more away", "30 天以上未到店后回访"),
    "lunchtime_now": Fact("flag", "it is lunchtime (11:00–14:00)", "当前为午餐时段"),
    "logged_in": Fact("flag", "has logged in to the WiFi", "登录过 WiFi"),
    "known_identity": Fact("flag", "known by phone, email or voucher", "已知手机号、邮箱或上网券"),
    "consent_sms": Fact("flag", "agreed to marketing SMS", "同意接收营销短信"),
}

OPS: dict[str, Callable[[Any, Any], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "=": operator.eq,
    "!=": operator.ne,
}

Rule = Mapping[str, Any]
Check = Callable[[Mapping[str, int | bool], Mapping[str, int]], bool]


class RuleError(PorticoError):
    message_id = "mk_rule_invalid"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, reason=detail)


def parse(rule: object, *, depth: int = 0) -> Rule:
    """The rule itself when it is well formed; RuleError saying what is wrong otherwise."""
    if depth > MAX_DEPTH:
        raise RuleError(f"rules nest at most {MAX_DEPTH} deep")
    if not isinstance(rule, Mapping) or len(rule) == 0:
        raise RuleError("a rule is an object: all, any, not, fact or tag")
    if "all" in rule or "any" in rule:
        key = "all" if "all" in rule else "any"
        terms = rule[key]
        if len(rule) != 1 or not isinstance(terms, list):
            raise RuleError(f"'{key}' takes a list of rules and nothing beside it")
        if len(terms) > MAX_TERMS:
            raise RuleError(f"at most {MAX_TERMS} rules in one '{key}'")
        return {key: [parse(t, depth=depth + 1) for t in terms]}
    if "not" in rule:
        if len(rule) != 1:
            raise RuleError("'not' takes one rule and nothing beside it")
        return {"not": parse(rule["not"], depth=depth + 1)}
    if "tag" in rule:
        tag = rule["tag"]
        if len(rule) != 1 or not isinstance(tag, str) or not TAG_ID.match(tag):
            raise RuleError("'tag' names a tag: lower-case letters, digits and _")
        return {"tag": tag}
    if "fact" in rule:
        return _parse_fact(rule)
    raise RuleError(f"unknown rule {sorted(rule)[0]!r}: all, any, not, fact or tag")


def _parse_fact(rule: Rule) -> Rule:
    if set(rule) != {"fact", "op", "value"}:
        raise RuleError("a fact rule has exactly 'fact', 'op' and 'value'")
    name, op, value = rule["fact"], rule["op"], rule["value"]
    fact = FACTS.get(name) if isinstance(name, str) else None
    if fact is None:
        raise RuleError(f"unknown fact {name!r}")
    if not isinstance(op, str) or op not in OPS:
        raise RuleError(f"unknown comparison {op!r}: one of {' '.join(OPS)}")
    if fact.kind == "flag":
        if not isinstance(value, bool) or op != "=":
            raise RuleError(f"'{name}' is yes or no: compare it with = true or = false")
    elif isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100_000:
        raise RuleError(f"'{name}' is compared with a whole number from 0 to 100000")
    return {"fact": name, "op": op, "value": value}


def compile_rule(rule: Rule) -> Check:
    """The parsed rule as a function of (facts, tags held)."""
    if "all" in rule:
        return _all([compile_rule(t) for t in rule["all"]])
    if "any" in rule:
        return _any([compile_rule(t) for t in rule["any"]])
    if "not" in rule:
        inner = compile_rule(rule["not"])
        return lambda f, t: not inner(f, t)
    if "tag" in rule:
        tag = rule["tag"]
        return lambda f, t: tag in t
    name, compare, value = rule["fact"], OPS[rule["op"]], rule["value"]
    return lambda f, t: compare(f[name], value)


# The engine evaluates every tag at every event: "all" and "any" of one or two rules (most of
# them) are plain `and`/`or`, without a generator's cost.
def _all(checks: list[Check]) -> Check:
    if not checks:
        return lambda f, t: True
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        first, second = checks
        return lambda f, t: first(f, t) and second(f, t)

    def every(f: Mapping[str, int | bool], t: Mapping[str, int]) -> bool:
        for check in checks:
            if not check(f, t):
                return False
        return True

    return every


def _any(checks: list[Check]) -> Check:
    if not checks:
        return lambda f, t: False
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        first, second = checks
        return lambda f, t: first(f, t) or second(f, t)

    def some(f: Mapping[str, int | bool], t: Mapping[str, int]) -> bool:
        for check in checks:
            if check(f, t):
                return True
        return False

    return some


def tags_used(rule: Rule) -> set[str]:
    """The tags a rule reads (a tag's rule may read only tags evaluated before it)."""
    if "all" in rule or "any" in rule:
        return set().union(*(tags_used(t) for t in rule.get("all", rule.get("any", []))))
    if "not" in rule:
        return tags_used(rule["not"])
    return {rule["tag"]} if "tag" in rule else set()


def describe(rule: Rule, language: str, tag_names: Mapping[str, str] | None = None) -> str:
    """The rule in words, in 'zh-CN' or 'en'."""
    zh = language == "zh-CN"
    if "all" in rule or "any" in rule:
        key = "all" if "all" in rule else "any"
        parts = [describe(t, language, tag_names) for t in rule[key]]
        if not parts:
            return (
                ("任何人" if zh else "everyone") if key == "all" else ("无人" if zh else "no one")
            )
        joiner = (" 且 " if zh else " and ") if key == "all" else (" 或 " if zh else " or ")
        text = joiner.join(parts)
        return f"({text})" if len(parts) > 1 else text
    if "not" in rule:
        return ("非 " if zh else "not ") + describe(rule["not"], language, tag_names)
    if "tag" in rule:
        name = (tag_names or {}).get(rule["tag"], rule["tag"])
        return f"标签「{name}」" if zh else f"tagged “{name}”"
    fact = FACTS[rule["fact"]]
    label = fact.zh if zh else fact.en
    if fact.kind == "flag":
        if rule["value"]:
            return label
        return ("非：" if zh else "not: ") + label
    return f"{label} {rule['op']} {rule['value']}"
