"""Texts of the accounts domain's console pages (audit log, stores, sign-up, first-run
checklist) in zh-CN and English."""

from __future__ import annotations

from kernel.i18n import Catalog

AUDIT: Catalog = {
    "nav_audit": {"en": "Audit log", "zh-CN": "操作日志"},
    "error_owners_only": {
        "en": "Only an owner of the merchant can use this page.",
        "zh-CN": "只有商户管理员可以使用此页面。",
    },
    "au_title": {"en": "Audit log", "zh-CN": "操作日志"},
    "au_intro": {
        "en": "Every change made to your merchant in the console: who, what, when, before and "
        "after. Newest first.",
        "zh-CN": "在后台对商户所做的每一项更改：谁、做了什么、何时、更改前后。最新的在前。",
    },
    "au_merchant": {"en": "Merchant", "zh-CN": "商户"},
    "au_col_time": {"en": "Time ({zone})", "zh-CN": "时间（{zone}）"},
    "au_col_who": {"en": "Who", "zh-CN": "操作人"},
    "au_col_what": {"en": "What", "zh-CN": "操作"},
    "au_col_changes": {"en": "Before → after", "zh-CN": "更改前 → 更改后"},
    "au_empty": {"en": "Nothing has been changed yet.", "zh-CN": "暂无更改记录。"},
    "au_pages": {"en": "Pages of the log", "zh-CN": "日志分页"},
    "au_newest": {"en": "Newest", "zh-CN": "最新"},
    "au_older": {"en": "Older", "zh-CN": "更早"},
    "au_by_platform": {"en": "Portico", "zh-CN": "Portico 平台"},
    "au_former_user": {"en": "A former user", "zh-CN": "已删除的用户"},
    "au_yes": {"en": "yes", "zh-CN": "是"},
    "au_no": {"en": "no", "zh-CN": "否"},
    "au_action_merchant_create": {"en": "Merchant created", "zh-CN": "创建商户"},
    "au_action_store_create": {"en": "Store added", "zh-CN": "添加门店"},
    "au_action_store_update": {"en": "Store changed", "zh-CN": "修改门店"},
    "au_action_membership_create": {"en": "Member added", "zh-CN": "添加成员"},
    "au_field_name": {"en": "Name", "zh-CN": "名称"},
    "au_field_address": {"en": "Address", "zh-CN": "地址"},
    "au_field_city": {"en": "City", "zh-CN": "城市"},
    "au_field_category": {"en": "Category", "zh-CN": "类别"},
    "au_field_timezone": {"en": "Time zone", "zh-CN": "时区"},
    "au_field_opening_hours": {"en": "Opening hours", "zh-CN": "营业时间"},
    "au_field_email": {"en": "Email", "zh-CN": "邮箱"},
    "au_field_role": {"en": "Role", "zh-CN": "角色"},
}
