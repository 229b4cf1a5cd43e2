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
}
