"""A rule as the console's form builds it, without code: rows of [fact] [comparison] [value],
combined with "all" or "any", and tags the shopper must hold (marketing/rules.py is the
language; this module is only the form's shape of it).

The form's shape of a rule, and the rule it makes (`build`):

- no row and no tag: `{"all": []}`, everyone;
- one row, or one tag, alone: that term itself (as the default tags are written);
- rows combined with "all", and tags: `{"all": [row, ..., {"tag": t}, ...]}`;
- rows combined with "any": `{"any": [row, ...]}`, and with tags
  `{"all": [{"any": [row, ...]}, {"tag": t}, ...]}`.

`from_rule` reads a stored rule back into rows when it has one of these shapes (None when it
does not: a rule made elsewhere with `not` or deeper nesting, which the page then shows in
words only). Pure: no database, no web.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from marketing import rules

NUMBER_OPS = (">=", ">", "<=", "<", "=", "!=")
FLAG_OPS = ("yes", "no")  # a yes/no fact: = true, = false
COMBINE = ("all", "any")
MIN_ROWS = 2  # rows the form shows at least (an empty one to fill, without script)
MAX_ROWS = rules.MAX_TERMS
MAX_VALUE = 100_000  # rules.py: whole numbers from 0 to 100000
_WHOLE = re.compile(r"^\d{1,6}$")

Error = tuple[str, dict[str, object]]  # (message id, its values)


@dataclass(frozen=True)
class Row:
    """One condition as typed: a fact's name, a comparison, a value (text)."""

    fact: str = ""
    op: str = ">="
    value: str = ""

    @property
    def empty(self) -> bool:
        return not self.fact


@dataclass
class RuleForm:
    """The rule builder's fields: how rows combine, the rows, the tags required."""

    combine: str = "all"
    rows: list[Row] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)

    def shown_rows(self, extra: int = 0) -> list[Row]:
        """The rows to draw: those filled (and the empty ones between them), one empty row to
        fill, `extra` more, at least MIN_ROWS and at most MAX_ROWS."""
        rows = list(self.rows[:MAX_ROWS])
        while rows and rows[-1].empty:
            rows.pop()
        wanted = min(MAX_ROWS, max(MIN_ROWS, len(rows) + 1 + max(extra, 0)))
        return rows + [Row()] * (wanted - len(rows))


def read(form: Mapping[str, Any]) -> RuleForm:
    """The builder's fields as a browser sent them (`combine`, `fact_<i>`, `op_<i>`,
    `value_<i>` for i < `rows`, and each `tag` ticked). Anything else is ignored; nothing is
    checked here but the bounds."""
    count = _whole(_text(form, "rows"), 0, MAX_ROWS) or 0
    rows = [
        Row(
            _text(form, f"fact_{i}")[:40],
            _text(form, f"op_{i}")[:4],
            _text(form, f"value_{i}")[:20],
        )
        for i in range(count)
    ]
    getall = getattr(form, "getall", None)
    ticked = getall("tag", []) if getall is not None else []
    tags = list(dict.fromkeys(t.strip() for t in ticked if isinstance(t, str) and t.strip()))
    combine = _text(form, "combine")
    return RuleForm(combine if combine in COMBINE else "all", rows, tags[: rules.MAX_TERMS + 1])


def build(
    shape: RuleForm, known_tags: Collection[str], own_tag: str | None = None
) -> tuple[rules.Rule | None, dict[str, Error]]:
    """The rule the form's fields make, or None and each bad field's error: `row_<i>` for a
    row, `tags` for the tags (only the merchant's own, `known_tags`; never the tag being
    edited, `own_tag`), `rule` for the whole."""
    errors: dict[str, Error] = {}
    conditions: list[dict[str, Any]] = []
    for index, row in enumerate(shape.rows):
        if row.empty:
            continue
        made = _condition(row)
        if isinstance(made, tuple):
            errors[f"row_{index}"] = made
        else:
            conditions.append(made)
    unknown = [t for t in shape.tags if t not in known_tags]
    if unknown:
        errors["tags"] = ("mkc_err_tag_unknown", {"tags": ", ".join(unknown)[:100]})
    elif own_tag is not None and own_tag in shape.tags:
        errors["tags"] = ("mkc_err_tag_self", {})
    if errors:
        return None, errors
    required = [{"tag": t} for t in shape.tags]
    if shape.combine == "any" and len(conditions) > 1:
        terms: list[dict[str, Any]] = [{"any": conditions}, *required]
    else:
        terms = [*conditions, *required]
    if len(terms) > rules.MAX_TERMS or len(conditions) > rules.MAX_TERMS:
        return None, {"rule": ("mkc_err_too_many", {"count": rules.MAX_TERMS})}
    rule: dict[str, Any] = terms[0] if len(terms) == 1 else {"all": terms}
    try:
        return rules.parse(rule), {}
    except rules.RuleError as exc:  # not expected from the rows above: said as it is
        return None, {"rule": ("mk_rule_invalid", {"reason": exc.detail})}


def _condition(row: Row) -> dict[str, Any] | Error:
    fact = rules.FACTS.get(row.fact)
    if fact is None:
        return ("mkc_err_fact", {})
    if fact.kind == "flag":
        if row.op not in FLAG_OPS:
            return ("mkc_err_flag_op", {})
        return {"fact": row.fact, "op": "=", "value": row.op == "yes"}
    if row.op not in NUMBER_OPS:
        return ("mkc_err_number_op", {})
    value = _whole(row.value.replace(",", "").strip(), 0, MAX_VALUE)
    if value is None:
        return ("mkc_err_value", {"high": MAX_VALUE})
    return {"fact": row.fact, "op": row.op, "value": value}


def kept_rule(stored: rules.Rule | None, replace: bool) -> rules.Rule | None:
    """The stored rule a save keeps as it is: one the rows cannot show (`from_rule` is None),
    unless the owner asked to replace it; None: the rows make the rule."""
    if stored is not None and from_rule(stored) is None and not replace:
        return stored
    return None


def from_rule(rule: rules.Rule) -> RuleForm | None:
    """The form's fields for a stored rule, when it has a shape the form makes (see the
    module's docstring); None for any other."""
    if "fact" in rule or "tag" in rule:
        return _split("all", [rule])
    if "all" in rule:
        terms = list(rule["all"])
        nested = [t for t in terms if "any" in t]
        if len(nested) == 1 and terms[0] is nested[0]:
            inner = _split("any", list(nested[0]["any"]))
            rest = _split("all", terms[1:])
            if inner is None or rest is None or inner.tags or rest.rows:
                return None
            return RuleForm("any", inner.rows, rest.tags)
        return _split("all", terms)
    if rule.get("any"):
        found = _split("any", list(rule["any"]))
        return found if found is not None and not found.tags else None
    return None


def _split(combine: str, terms: list[Mapping[str, Any]]) -> RuleForm | None:
    rows, tags = [], []
    for term in terms:
        if "tag" in term:
            tags.append(term["tag"])
        elif "fact" in term:
            rows.append(_row(term))
        else:
            return None
    return RuleForm(combine, rows, tags)


def _row(term: Mapping[str, Any]) -> Row:
    value = term["value"]
    if isinstance(value, bool):
        return Row(term["fact"], "yes" if value else "no", "")
    return Row(term["fact"], term["op"], str(value))


def _text(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _whole(text: str, low: int, high: int) -> int | None:
    if not _WHOLE.match(text):
        return None
    number = int(text)
    return number if low <= number <= high else None
