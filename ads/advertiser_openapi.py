"""The advertiser API's OpenAPI 3.1 document, served at /api/advertiser/v1/openapi.json
(ads/report_pages.py): a small read-only JSON API over the campaign report (docs/ad-reports.md).
Authenticated by the advertiser console's session cookie (the members who read the report
page); tests/ads/test_advertiser_openapi.py has schemathesis call the running API against it.
"""

from __future__ import annotations

import functools
from typing import Any

from ads import reports

VERSION = "1.0.0"
DATE_PATTERN = "^20[0-9]{2}-[0-9]{2}-[0-9]{2}$"  # years 2000-2099
ERRORS = {
    400: ("bad_date", "bad_window"),
    401: ("not_signed_in",),
    404: ("not_found",),
    422: ("bad_range",),
}
_ERROR_TEXT = {
    400: "A date is not YYYY-MM-DD, or the window is not a whole number of days from 1 to 30.",
    401: "No console session: sign in to the advertiser console first.",
    404: "Not a campaign of the signed-in member's advertiser (or not an advertiser of theirs).",
    422: "The dates are valid but the range ends before it starts, or is longer than 366 days.",
}

Json = dict[str, Any]


def _nullable(kind: str, **more: Any) -> Json:
    return {"type": [kind, "null"], **more}


def _row(keyed: bool) -> Json:
    props: Json = {
        "impressions": _nullable("integer", minimum=0),
        "reach": _nullable("integer", minimum=0),
        "frequency": _nullable("number", minimum=0),
        "clicks": _nullable("integer", minimum=0),
        "ctr": _nullable("number", minimum=0),
    }
    if keyed:
        props = {"key": {"type": "string"}} | props
    return {
        "type": "object",
        "additionalProperties": False,
        "required": list(props),
        "properties": props,
        "description": "A figure is null when hidden; `suppressed` says why.",
    }


def _group() -> Json:
    names = ("shoppers", "claims", "redemptions", "returns")
    rates = ("claim_rate", "redemption_rate", "return_rate")
    props = {n: _nullable("integer", minimum=0) for n in names}
    props |= {n: _nullable("number", minimum=0, maximum=1) for n in rates}
    return {
        "type": "object",
        "additionalProperties": False,
        "required": list(props),
        "properties": props,
    }


def _lift() -> Json:
    return {
        "oneOf": [
            {"type": "null"},
            {
                "type": "object",
                "additionalProperties": False,
                "required": ["difference", "low", "high"],
                "properties": {
                    "difference": {"type": "number", "minimum": -1, "maximum": 1},
                    "low": {"type": "number", "minimum": -1, "maximum": 1},
                    "high": {"type": "number", "minimum": -1, "maximum": 1},
                },
                "description": "Exposed rate − holdout rate and its 95 % Newcombe interval.",
            },
        ]
    }


def _error(codes: tuple[str, ...]) -> Json:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "additionalProperties": False,
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "enum": list(codes)},
                    "message": {"type": "string", "description": "For a person to read."},
                },
            }
        },
    }


@functools.cache
def _document() -> Json:
    report: Json = {
        "type": "object",
        "additionalProperties": False,
        "required": [
            "campaign_id",
            "campaign_name",
            "first",
            "last",
            "timezone",
            "window_days",
            "total",
            "line_items",
            "creatives",
            "days",
            "exposed",
            "holdout",
            "lift",
            "suppressed",
        ],
        "properties": {
            "campaign_id": {"type": "string", "format": "uuid"},
            "campaign_name": {"type": "string"},
            "first": {"type": "string", "format": "date"},
            "last": {"type": "string", "format": "date"},
            "timezone": {"type": "string"},
            "window_days": {"type": "integer", "minimum": 1, "maximum": reports.MAX_WINDOW_DAYS},
            "total": _row(False),
            "line_items": {"type": "array", "items": _row(True)},
            "creatives": {"type": "array", "items": _row(True)},
            "days": {"type": "array", "items": _row(True)},
            "exposed": _group(),
            "holdout": _group(),
            "lift": {
                "type": "object",
                "additionalProperties": False,
                "required": list(reports.OUTCOMES),
                "properties": {name: _lift() for name in reports.OUTCOMES},
            },
            "suppressed": {
                "type": "object",
                "description": "Each hidden figure's path and why: fewer_than_50 (shoppers), "
                "fewer_than_10 (clickers or converters), not_enough_shoppers (a lift).",
                "additionalProperties": {
                    "type": "string",
                    "enum": [
                        reports.FEWER_THAN_SHOPPERS,
                        reports.FEWER_THAN_CONVERTERS,
                        reports.NOT_ENOUGH,
                    ],
                },
            },
        },
    }
    responses: Json = {
        "200": {
            "description": "The report: aggregates only, never a shopper.",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Report"}}},
        }
    }
    for status, codes in ERRORS.items():
        responses[str(status)] = {
            "description": _ERROR_TEXT[status],
            "content": {"application/json": {"schema": _error(codes)}},
        }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Portico advertiser API",
            "version": VERSION,
            "description": "Campaign reports (docs/ad-reports.md), read-only. Sign in to the "
            "advertiser console; its session cookie authenticates these requests.",
        },
        "components": {
            "securitySchemes": {
                "consoleSession": {"type": "apiKey", "in": "cookie", "name": "portico_session"}
            },
            "schemas": {"Report": report},
        },
        "security": [{"consoleSession": []}],
        "paths": {
            "/campaigns/{campaign_id}/report": {
                "get": {
                    "operationId": "campaignReport",
                    "summary": "A campaign's delivery, results and lift over a range of days",
                    "parameters": [
                        {
                            "name": "campaign_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "format": "uuid"},
                        },
                        {
                            "name": "advertiser",
                            "in": "query",
                            "description": "Which of the member's advertisers (default: the "
                            "first).",
                            "schema": {"type": "string", "format": "uuid"},
                        },
                        {
                            "name": "first",
                            "in": "query",
                            "description": "First local day (China time); default: 29 days "
                            "before `last`, not before the campaign's start.",
                            "schema": {"type": "string", "format": "date", "pattern": DATE_PATTERN},
                        },
                        {
                            "name": "last",
                            "in": "query",
                            "description": "Last local day; default: today.",
                            "schema": {"type": "string", "format": "date", "pattern": DATE_PATTERN},
                        },
                        {
                            "name": "window",
                            "in": "query",
                            "description": "Attribution window in days.",
                            "schema": {
                                "type": "integer",
                                "minimum": 1,
                                "maximum": reports.MAX_WINDOW_DAYS,
                                "default": reports.DEFAULT_WINDOW_DAYS,
                            },
                        },
                    ],
                    "responses": responses,
                }
            }
        },
    }


def document() -> Json:
    """The document (built once)."""
    return _document()
