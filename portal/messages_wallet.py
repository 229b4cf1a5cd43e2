"""The shopper's wallet page (portal/wallet_views.py) in zh-CN and English."""

MESSAGES = {
    "wallet_title": {"en": "My coupons", "zh-CN": "我的优惠券"},
    "wallet_link": {"en": "My coupons", "zh-CN": "我的优惠券"},
    "wallet_intro": {
        "en": "Show the code or its QR code at the till.",
        "zh-CN": "结账时出示券码或二维码即可使用。",
    },
    "wallet_empty": {
        "en": "You have no coupons here yet.",
        "zh-CN": "您在本店还没有优惠券。",
    },
    "wallet_valid_until": {"en": "Valid until {when}", "zh-CN": "有效期至 {when}"},
    "wallet_till_code": {"en": "Till code: {code}", "zh-CN": "核销码：{code}"},
    "wallet_back": {"en": "Back", "zh-CN": "返回"},
    "wallet_state_claimed": {"en": "Ready to use", "zh-CN": "可使用"},
    "wallet_state_locked": {"en": "Being redeemed", "zh-CN": "核销中"},
    "wallet_state_redeemed": {"en": "Used", "zh-CN": "已使用"},
    "wallet_state_expired": {"en": "Expired", "zh-CN": "已过期"},
    "wallet_state_void": {"en": "No longer valid", "zh-CN": "已作废"},
    "wallet_state_available": {"en": "Not claimed", "zh-CN": "未领取"},
}
