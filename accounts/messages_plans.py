"""Texts of plans and their limits (accounts/plans.py): the plans' names, the error of a
creation over a limit (console forms and the command line), and what a merchant uses of its
plan, in zh-CN and English."""

from __future__ import annotations

from kernel.i18n import Catalog

PLANS: Catalog = {
    "plan_free": {"en": "Free", "zh-CN": "免费版"},
    "plan_standard": {"en": "Standard", "zh-CN": "标准版"},
    "plan_premium": {"en": "Premium", "zh-CN": "高级版"},
    "error_plan_stores": {
        "en": "Store limit reached: the {plan} plan allows {limit}. The store was not added; "
        "to add more, ask Portico to change the plan.",
        "zh-CN": "门店数量已达上限：{plan}套餐最多 {limit} 家。门店未添加；"
        "如需更多，请联系 Portico 更改套餐。",
    },
    "error_plan_routers": {
        "en": "Router limit reached: the {plan} plan allows {limit} in service. The router was "
        "not added; revoke one, or ask Portico to change the plan.",
        "zh-CN": "路由器数量已达上限：{plan}套餐最多 {limit} 台在用。路由器未添加；"
        "请吊销一台，或联系 Portico 更改套餐。",
    },
    "error_plan_seats": {
        "en": "Seat limit reached: the {plan} plan allows {limit}, counting members and pending "
        "invitations. Nobody was invited; revoke an invitation, remove a member, or ask Portico "
        "to change the plan.",
        "zh-CN": "席位已达上限：{plan}套餐最多 {limit} 个，成员和待接受的邀请均计入。"
        "邀请未发送；请撤销邀请、移除成员，或联系 Portico 更改套餐。",
    },
    "error_plan_seats_accept": {
        "en": "{merchant} has no free seat: the {plan} plan allows {limit}. You were not added; "
        "ask its owner to free a seat or change the plan, then open this link again.",
        "zh-CN": "{merchant} 已没有空余席位：{plan}套餐最多 {limit} 个。您未被加入；"
        "请联系其店主腾出席位或更改套餐，然后再次打开此链接。",
    },
    "pu_title": {"en": "{plan} plan", "zh-CN": "{plan}套餐"},
    "pu_kind_stores": {"en": "Stores", "zh-CN": "门店"},
    "pu_kind_routers": {"en": "Routers", "zh-CN": "路由器"},
    "pu_kind_seats": {"en": "Seats", "zh-CN": "席位"},
    "pu_unlimited": {"en": "unlimited", "zh-CN": "不限"},
    "pu_full": {"en": "limit reached", "zh-CN": "已达上限"},
    "pu_hint": {
        "en": "Seats are members and pending invitations. To change the plan, contact Portico.",
        "zh-CN": "席位包括成员和待接受的邀请。如需更改套餐，请联系 Portico。",
    },
}
