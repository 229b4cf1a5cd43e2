"""Marketing's texts in zh-CN and English."""

from __future__ import annotations

from kernel.i18n import Catalog

MESSAGES: Catalog = {
    "mk_rule_invalid": {
        "en": "This rule cannot be used: {reason}.",
        "zh-CN": "该规则无法使用：{reason}。",
    },
    "mk_webhook_invalid": {
        "en": "This webhook cannot be used: {detail}.",
        "zh-CN": "该 Webhook 无法使用：{detail}。",
    },
    "mk_trigger_invalid": {
        "en": "This trigger cannot be saved: {reason}.",
        "zh-CN": "该触发器无法保存：{reason}。",
    },
    "mk_report_range": {
        "en": "A report covers from its first day to its last, at most {days} days.",
        "zh-CN": "报表的日期范围须从开始日到结束日，最多 {days} 天。",
    },
    "mk_trigger_unknown": {
        "en": "There is no such trigger.",
        "zh-CN": "没有这个触发器。",
    },
    "mk_segment_invalid": {
        "en": "This segment cannot be saved: {reason}.",
        "zh-CN": "该人群无法保存：{reason}。",
    },
    "mk_segment_unknown": {
        "en": "There is no such segment.",
        "zh-CN": "没有这个人群。",
    },
}
