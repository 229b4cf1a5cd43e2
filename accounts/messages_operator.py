"""Texts of the operator's pages (portico/operator_pages.py) and of a suspended merchant's
notice, in zh-CN and English."""

from __future__ import annotations

from kernel.i18n import Catalog

OPERATOR: Catalog = {
    "nav_operator": {"en": "Merchants", "zh-CN": "商户管理"},
    "op_title": {"en": "Merchants", "zh-CN": "商户管理"},
    "op_intro": {
        "en": "Every merchant on the platform, newest first, with what it uses of its plan: "
        "set its plan, suspend or unsuspend it. Each change is in the merchant's audit log.",
        "zh-CN": "平台上的全部商户，最新的在前，以及其套餐的使用情况：设置套餐，暂停或恢复服务。"
        "每项更改均记入该商户的操作日志。",
    },
    "op_col_merchant": {"en": "Merchant", "zh-CN": "商户"},
    "op_col_created": {"en": "Created", "zh-CN": "创建时间"},
    "op_col_stores": {"en": "Stores", "zh-CN": "门店"},
    "op_col_routers": {"en": "Routers", "zh-CN": "路由器"},
    "op_col_seats": {"en": "Seats", "zh-CN": "席位"},
    "op_seats_title": {
        "en": "{members} members, {invited} pending invitations",
        "zh-CN": "{members} 名成员，{invited} 个待接受的邀请",
    },
    "op_over": {"en": "over the plan's limit", "zh-CN": "超出套餐上限"},
    "op_plans_title": {"en": "Plans and their limits", "zh-CN": "套餐及其上限"},
    "op_plans_intro": {
        "en": "What each plan allows. Seats are members and pending invitations. A merchant "
        "over its plan's limit (after a lower plan was set, or the plan's limits were lowered) "
        "keeps what it has but adds no more.",
        "zh-CN": "各套餐允许的数量。席位包括成员和待接受的邀请。"
        "套餐降级或套餐上限调低后超出上限的商户保留已有的一切，但不能再添加。",
    },
    "op_plans_edit": {"en": "Change the plans' limits", "zh-CN": "修改套餐上限"},
    "nav_operator_plans": {"en": "Plans", "zh-CN": "套餐"},
    "opp_intro": {
        "en": "Set how many stores, routers in service and seats each plan allows: a whole "
        "number from 1 to {max}, or Unlimited. Seats are a merchant's owners and staff with its "
        "pending invitations. A change applies at once to every merchant on the plan.",
        "zh-CN": "设置每个套餐允许的门店、在用路由器和席位数量：1 至 {max} 之间的整数，或“不限”。"
        "席位包括商户的店主、员工和待接受的邀请。更改立即对使用该套餐的所有商户生效。",
    },
    "opp_lowering": {
        "en": "Lowering a limit deletes nothing: a merchant over the new limit keeps all its "
        "stores, routers and members, and cannot add more until it is back within it. Each "
        "change is in the audit log of every merchant on the plan.",
        "zh-CN": "调低上限不会删除任何内容：超出新上限的商户保留其全部门店、路由器和成员，"
        "但在回到上限以内之前不能再添加。每项更改均记入使用该套餐的每个商户的操作日志。",
    },
    "opp_merchants": {
        "en": "Merchants on this plan: {count}",
        "zh-CN": "使用此套餐的商户：{count} 个",
    },
    "opp_unlimited": {"en": "Unlimited", "zh-CN": "不限"},
    "opp_over": {"en": "{count} over its limits", "zh-CN": "其中 {count} 个超出上限"},
    "opp_save": {"en": "Save the {plan} limits", "zh-CN": "保存{plan}上限"},
    "opp_not_saved": {
        "en": "Nothing was saved: correct the limits marked below.",
        "zh-CN": "未保存任何更改：请更正下方标出的上限。",
    },
    "opp_error_limit": {
        "en": "Enter a whole number from 1 to {max}, or tick Unlimited.",
        "zh-CN": "请输入 1 至 {max} 之间的整数，或勾选“不限”。",
    },
    "opp_saved": {
        "en": "The {plan} plan's limits were saved.",
        "zh-CN": "{plan}套餐的上限已保存。",
    },
    "opp_saved_over": {
        "en": "{over} of its {merchants} merchants are over the new limits: they keep what they "
        "have, and add no more until they are back within them.",
        "zh-CN": "其 {merchants} 个商户中有 {over} 个超出新的上限：已有的一切都保留，"
        "但在回到上限以内之前不能再添加。",
    },
    "op_col_plan": {"en": "Plan", "zh-CN": "套餐"},
    "op_col_status": {"en": "Status", "zh-CN": "状态"},
    "op_active": {"en": "Active", "zh-CN": "正常"},
    "op_suspended_since": {"en": "Suspended since {at}", "zh-CN": "自 {at} 起暂停"},
    "op_set_plan": {"en": "Set", "zh-CN": "设置"},
    "op_plan_of": {"en": "Plan of {merchant}", "zh-CN": "{merchant} 的套餐"},
    "op_suspend": {"en": "Suspend", "zh-CN": "暂停服务"},
    "op_unsuspend": {"en": "Unsuspend", "zh-CN": "恢复服务"},
    "op_empty": {"en": "No merchant has signed up yet.", "zh-CN": "暂无商户注册。"},
    "op_notice_plan": {"en": "The plan was set.", "zh-CN": "套餐已设置。"},
    "op_notice_suspended": {"en": "The merchant was suspended.", "zh-CN": "该商户已暂停服务。"},
    "op_notice_unsuspended": {
        "en": "The merchant was unsuspended.",
        "zh-CN": "该商户已恢复服务。",
    },
    "op_notice_unchanged": {"en": "Nothing was changed.", "zh-CN": "没有任何更改。"},
    "error_invalid_plan": {"en": "Choose a plan from the list.", "zh-CN": "请从列表中选择套餐。"},
    "error_invalid_suspension": {
        "en": "Nothing was changed: choose Suspend or Unsuspend.",
        "zh-CN": "未做任何更改：请选择“暂停服务”或“恢复服务”。",
    },
    "error_operators_only": {
        "en": "Only a platform operator can use this page.",
        "zh-CN": "只有平台运营人员可以使用此页面。",
    },
    "error_merchant_suspended": {
        "en": "{merchant} is suspended by Portico: its console pages and WiFi portal are "
        "unavailable. Contact Portico support.",
        "zh-CN": "{merchant} 已被 Portico 暂停服务：其后台页面和 WiFi 门户暂不可用。"
        "请联系 Portico 客服。",
    },
    "au_action_merchant_plan": {"en": "Plan changed", "zh-CN": "更改套餐"},
    "au_action_merchant_suspend": {"en": "Merchant suspended", "zh-CN": "暂停商户服务"},
    "au_action_merchant_unsuspend": {"en": "Merchant unsuspended", "zh-CN": "恢复商户服务"},
    "au_field_plan": {"en": "Plan", "zh-CN": "套餐"},
    "au_action_plan_limits": {"en": "Plan limits changed", "zh-CN": "更改套餐上限"},
    "au_field_max_stores": {"en": "Store limit", "zh-CN": "门店上限"},
    "au_field_max_routers": {"en": "Router limit", "zh-CN": "路由器上限"},
    "au_field_max_seats": {"en": "Seat limit", "zh-CN": "席位上限"},
    "au_limit_unlimited": {"en": "unlimited", "zh-CN": "不限"},
    "au_field_suspended": {"en": "Suspended", "zh-CN": "已暂停"},
}
