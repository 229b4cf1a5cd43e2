"""The rule builder's form (marketing/rule_form.py): the rows a stored rule reads back into make
the same rule again, each bad row is named, and only the merchant's own tags are taken."""

from __future__ import annotations

import pytest
from multidict import MultiDict

from marketing import rule_form
from marketing.rule_form import Row, RuleForm

VISITS = {"fact": "visits_30d", "op": ">=", "value": 4}
KNOWN = {"fact": "known_identity", "op": "=", "value": True}
ROUND_TRIPS = [
    {"all": []},
    VISITS,
    {"tag": "frequent"},
    {"all": [VISITS, KNOWN]},
    {"any": [VISITS, KNOWN]},
    {"all": [VISITS, {"tag": "frequent"}, {"tag": "lapsed"}]},
    {"all": [{"any": [VISITS, KNOWN]}, {"tag": "frequent"}]},
    {"fact": "first_visit", "op": "=", "value": False},
]


@pytest.mark.parametrize("rule", ROUND_TRIPS)
def test_a_rule_of_the_forms_shape_reads_back_into_rows_that_make_it_again(rule: dict) -> None:
    shape = rule_form.from_rule(rule)
    assert shape is not None
    built, errors = rule_form.build(shape, {"frequent", "lapsed"})
    assert (built, errors) == (rule, {})


@pytest.mark.parametrize(
    "rule",
    [
        {"not": VISITS},
        {"any": []},
        {"any": [VISITS, {"tag": "frequent"}]},
        {"all": [{"tag": "frequent"}, {"any": [VISITS, KNOWN]}]},
        {"all": [{"any": [VISITS]}, {"any": [KNOWN]}]},
    ],
)
def test_other_rules_are_not_read_into_rows(rule: dict) -> None:
    assert rule_form.from_rule(rule) is None


def test_the_form_as_posted_makes_its_rule() -> None:
    posted = MultiDict(
        [
            ("combine", "any"),
            ("rows", "3"),
            ("fact_0", "visits_30d"),
            ("op_0", ">="),
            ("value_0", "1,000"),
            ("fact_1", ""),
            ("op_1", ">="),
            ("value_1", "ignored"),
            ("fact_2", "logged_in"),
            ("op_2", "no"),
            ("value_2", "9"),
            ("tag", "frequent"),
            ("tag", "frequent"),
        ]
    )
    shape = rule_form.read(posted)
    assert shape.combine == "any" and shape.tags == ["frequent"] and len(shape.rows) == 3
    built, errors = rule_form.build(shape, {"frequent"})
    assert errors == {}
    assert built == {
        "all": [
            {
                "any": [
                    {"fact": "visits_30d", "op": ">=", "value": 1000},
                    {"fact": "logged_in", "op": "=", "value": False},
                ]
            },
            {"tag": "frequent"},
        ]
    }
    # Drawn again: the filled rows, one empty to fill (the trailing empty one is not kept).
    assert len(shape.shown_rows()) == 4 and shape.shown_rows()[3] == Row()
    assert len(shape.shown_rows(1)) == 5
    assert len(RuleForm(rows=[Row("claims", ">", "1"), Row()]).shown_rows()) == 2
    assert len(RuleForm(rows=[Row("claims", ">", str(i)) for i in range(20)]).shown_rows(1)) == 20


def test_bad_rows_and_tags_are_each_named() -> None:
    shape = RuleForm(
        "all",
        [
            Row("visits_30d", "yes", ""),
            Row("first_visit", ">", "1"),
            Row("claims", ">=", "-1"),
            Row("claims", ">=", "100001"),
            Row("nothing", ">=", "1"),
            Row("claims", "~", "1"),
        ],
        ["mine", "theirs"],
    )
    built, errors = rule_form.build(shape, {"mine"})
    assert built is None
    assert errors == {
        "row_0": ("mkc_err_number_op", {}),
        "row_1": ("mkc_err_flag_op", {}),
        "row_2": ("mkc_err_value", {"high": 100_000}),
        "row_3": ("mkc_err_value", {"high": 100_000}),
        "row_4": ("mkc_err_fact", {}),
        "row_5": ("mkc_err_number_op", {}),
        "tags": ("mkc_err_tag_unknown", {"tags": "theirs"}),
    }
    _built, own = rule_form.build(RuleForm("all", [], ["mine"]), {"mine"}, own_tag="mine")
    assert own == {"tags": ("mkc_err_tag_self", {})}
    too_many = RuleForm("all", [Row("claims", ">", str(i)) for i in range(20)], ["mine"])
    assert rule_form.build(too_many, {"mine"}) == (
        None,
        {"rule": ("mkc_err_too_many", {"count": 20})},
    )
