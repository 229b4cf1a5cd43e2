"""The shopper pages' texts in zh-CN and English (each login method's in its own module)."""

from portal import (
    messages_email,
    messages_optout,
    messages_sessions,
    messages_sms,
    messages_vouchers,
    messages_wallet,
    messages_wechat,
)

_CORE = {
    "title": {"en": "Free WiFi", "zh-CN": "免费 WiFi"},
    "welcome_default": {"en": "Welcome! Enjoy free WiFi.", "zh-CN": "欢迎光临！畅享免费 WiFi。"},
    "sponsored": {"en": "Sponsored", "zh-CN": "赞助"},
    "coupon_claim": {"en": "Get coupon", "zh-CN": "领取优惠券"},
    "coupon_yours": {
        "en": "Your coupon code — show it at the till (take a screenshot):",
        "zh-CN": "您的优惠券码 — 结账时出示（请截屏保存）：",
    },
    "accept_terms": {
        "en": "I accept the terms of use and privacy notice",
        "zh-CN": "我同意使用条款和隐私声明",
    },
    "terms_summary": {
        "en": (
            "We record a pseudonymous id of your device and the time of your visit to run this "
            "network and count visits. No personal data is sold."
        ),
        "zh-CN": (
            "我们会记录您设备的匿名标识和到访时间，用于运营本网络和统计客流，不会出售个人信息。"
        ),
    },
    "connect": {"en": "Connect", "zh-CN": "连接上网"},
    "connecting_title": {"en": "Connecting you…", "zh-CN": "正在为您连接…"},
    "connecting_text": {
        "en": "The WiFi router is letting your device through. This takes a few seconds.",
        "zh-CN": "WiFi 路由器正在为您的设备开通网络，请稍候几秒。",
    },
    "connecting_refresh": {"en": "Check again", "zh-CN": "再次检查"},
    "connecting_maybe_online": {
        "en": (
            "This is taking longer than usual. You may be online already: if web pages open, "
            "you are. This page keeps checking."
        ),
        "zh-CN": (
            "比平时慢了一些。您可能已经连上网络：如果网页可以打开，即已连接。本页面会继续检查。"
        ),
    },
    "connecting_try_page": {"en": "Open a web page", "zh-CN": "打开网页试试"},
    "switch_language": {"en": "中文", "zh-CN": "English"},
    "online_title": {"en": "You're online", "zh-CN": "您已连接网络"},
    "online_text": {
        "en": "You can close this page and browse freely.",
        "zh-CN": "您可以关闭此页面，畅快上网。",
    },
    "online_ended_title": {"en": "Your WiFi session has ended", "zh-CN": "本次上网已结束"},
    "online_ended": {
        "en": "To go online again, turn WiFi off and on, then open any web page.",
        "zh-CN": "如需继续上网，请关闭再打开 WiFi，然后打开任意网页。",
    },
    "online_time_left": {"en": "Time left:", "zh-CN": "剩余时间："},
    "online_data": {"en": "Data:", "zh-CN": "流量："},
    "hours_minutes": {"en": "{h} h {m} min", "zh-CN": "{h} 小时 {m} 分钟"},
    "minutes": {"en": "{m} min", "zh-CN": "{m} 分钟"},
    "data_allowance": {
        "en": "{down} MB download, {up} MB upload",
        "zh-CN": "下载 {down} MB，上传 {up} MB",
    },
    "data_unlimited": {"en": "no limit", "zh-CN": "不限"},
    "online_continue": {"en": "Continue", "zh-CN": "继续浏览"},
    "offer_claim": {"en": "Get the coupon", "zh-CN": "领取优惠券"},
    "logout_button": {"en": "Log out", "zh-CN": "退出登录"},
    "logout_hint": {
        "en": "Logging out ends free WiFi on this device.",
        "zh-CN": "退出后，本设备将断开免费 WiFi。",
    },
    "logged_out_title": {"en": "You're logged out", "zh-CN": "您已退出登录"},
    "logged_out_text": {
        "en": (
            "This device is no longer online through this WiFi. To go online again, turn WiFi "
            "off and on, then open any web page."
        ),
        "zh-CN": (
            "本设备已断开此 WiFi 的上网权限。如需再次上网，请关闭再打开 WiFi，然后打开任意网页。"
        ),
    },
    "logged_out_text_wifidog": {
        "en": (
            "You are logged out. This device loses its WiFi access within a minute. To go "
            "online again, turn WiFi off and on, then open any web page."
        ),
        "zh-CN": (
            "您已退出登录，本设备将在一分钟内断开此 WiFi 的上网权限。"
            "如需再次上网，请关闭再打开 WiFi，然后打开任意网页。"
        ),
    },
    "error_logout_failed": {
        "en": (
            "The WiFi router did not confirm that you are logged out, so you are still online. "
            "Tap Try again."
        ),
        "zh-CN": "路由器未确认退出，您仍在线。请点击“重试”。",
    },
    "error_logout_offline": {
        "en": (
            "The WiFi router is not connected to us right now, so we cannot log you out yet. "
            "Please try again in a minute."
        ),
        "zh-CN": "路由器当前未与我们连接，暂时无法为您退出登录。请一分钟后重试。",
    },
    "error_bad_online_link": {
        "en": "This page link is not valid. If you are not online, reconnect to the WiFi.",
        "zh-CN": "此页面链接无效。如尚未连上网络，请重新连接 WiFi。",
    },
    "error_title": {"en": "Something went wrong", "zh-CN": "出了点问题"},
    "try_again": {"en": "Try again", "zh-CN": "重试"},
    "reconnect_hint": {
        "en": "Turn WiFi off and on again, then open any web page.",
        "zh-CN": "请关闭再打开 WiFi，然后打开任意网页。",
    },
    "error_bad_redirect": {
        "en": "This login link is not valid. Please reconnect to the WiFi.",
        "zh-CN": "登录链接无效，请重新连接 WiFi。",
    },
    "error_service_unavailable_title": {
        "en": "WiFi unavailable",
        "zh-CN": "WiFi 暂不可用",
    },
    "error_service_unavailable": {
        "en": "This WiFi service is unavailable at the moment. Please try again later.",
        "zh-CN": "此 WiFi 服务暂时不可用，请稍后再试。",
    },
    "error_unknown_gateway": {
        "en": "This WiFi hotspot is not registered with us.",
        "zh-CN": "此 WiFi 热点尚未登记。",
    },
    "error_router": {
        "en": (
            "The WiFi router did not answer in time, so you may not be online yet. "
            "Tap Try again: it usually works."
        ),
        "zh-CN": "路由器未及时响应，您可能尚未连上网络。请点击“重试”，通常即可成功。",
    },
    "error_router_offline": {
        "en": (
            "The WiFi router is not connected to us right now, so we cannot let you through. "
            "Please try again in a minute."
        ),
        "zh-CN": "路由器当前未与我们连接，暂时无法为您开通网络。请一分钟后重试。",
    },
    "error_grant_failed": {
        "en": (
            "The WiFi router could not let you through this time. This happens now and then. "
            "Tap Try again: it usually works."
        ),
        "zh-CN": "路由器这次未能为您开通网络，这种情况偶尔会发生。请点击“重试”，通常即可成功。",
    },
    "unconfirmed_title": {"en": "Not confirmed yet", "zh-CN": "尚未确认连接"},
    "error_grant_unconfirmed": {
        "en": (
            "The WiFi router did not confirm that you are online. If web pages open, you are; "
            "if not, see below."
        ),
        "zh-CN": "路由器未确认您已连接。如果网页可以打开，即已连接；如果打不开，请按下方提示操作。",
    },
    "error_device_not_verified": {
        "en": "We could not confirm your device on this WiFi. Please reconnect and try again.",
        "zh-CN": "无法在此 WiFi 上确认您的设备，请重新连接后再试。",
    },
    "error_terms_required": {
        "en": "Please accept the terms of use to connect.",
        "zh-CN": "请先同意使用条款再连接。",
    },
    "error_method_disabled": {
        "en": "This login method is not available here.",
        "zh-CN": "此处不支持该登录方式。",
    },
    "error_coupons_gone": {
        "en": "Sorry, all coupons have been claimed.",
        "zh-CN": "抱歉，优惠券已领完。",
    },
    "error_unknown_coupon": {"en": "This coupon is not available.", "zh-CN": "该优惠券不可用。"},
    "error_coupon_limit_shopper": {
        "en": "You have already claimed this coupon as often as it allows.",
        "zh-CN": "您领取该优惠券的次数已达上限。",
    },
    "error_coupon_limit_period": {
        "en": "Today's coupons (or this week's) are all claimed: please come back later.",
        "zh-CN": "本期（今日或本周）优惠券已领完，请下次再来。",
    },
    "error_not_found": {"en": "Page not found.", "zh-CN": "页面不存在。"},
    "error_generic": {
        "en": "Something went wrong on our side. Please try again.",
        "zh-CN": "系统出现问题，请重试。",
    },
    # WiFiDog gateways (portal/wifidog.py): gw_message.php?message=… and login/ errors
    "wifidog_denied_title": {"en": "Access denied", "zh-CN": "无法上网"},
    "wifidog_denied": {
        "en": (
            "This WiFi did not let your device through: the login link was already used, "
            "expired, or belongs to another device. Turn WiFi off and on, then open any web "
            "page to log in again."
        ),
        "zh-CN": "此 WiFi 未允许您的设备上网：登录链接已使用、已过期或属于其他设备。"
        "请关闭再打开 WiFi，然后打开任意网页重新登录。",
    },
    "wifidog_activate_title": {"en": "Almost there", "zh-CN": "即将完成"},
    "wifidog_activate": {
        "en": "You are online for a short while to confirm your account. Please confirm it now.",
        "zh-CN": "您已获得短时上网以确认账户，请现在完成确认。",
    },
    "wifidog_failed_validation_title": {"en": "Confirmation expired", "zh-CN": "确认已过期"},
    "wifidog_failed_validation": {
        "en": "Your account was not confirmed in time. Turn WiFi off and on to log in again.",
        "zh-CN": "您的账户未在规定时间内确认。请关闭再打开 WiFi 后重新登录。",
    },
    "error_wifidog_message": {
        "en": "This page does not exist. If you are not online, reconnect to the WiFi.",
        "zh-CN": "此页面不存在。如尚未连上网络，请重新连接 WiFi。",
    },
    "error_bad_phone": {
        "en": "That is not a mobile phone number. Check it and try again.",
        "zh-CN": "这不是有效的手机号码，请检查后重试。",
    },
    "error_bad_email": {
        "en": "That is not an email address. Check it and try again.",
        "zh-CN": "这不是有效的电子邮箱地址，请检查后重试。",
    },
    "error_wifidog_no_mac": {
        "en": (
            "The WiFi router could not identify your device. Turn WiFi off and on, then open "
            "any web page."
        ),
        "zh-CN": "路由器无法识别您的设备。请关闭再打开 WiFi，然后打开任意网页。",
    },
}

CATALOG = {
    **_CORE,
    **messages_sms.MESSAGES,
    **messages_vouchers.MESSAGES,
    **messages_email.MESSAGES,
    **messages_sessions.MESSAGES,
    **messages_wallet.MESSAGES,
    **messages_optout.MESSAGES,
    **messages_wechat.MESSAGES,
}
