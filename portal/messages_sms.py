"""The shopper pages' texts of the sms part of logins (issue 8), in zh-CN and English; merged
into portal.messages.CATALOG. `CONSOLE`: the console's SMS outbox page (merged into the
console's catalog by portico/console_app.py)."""

MESSAGES: dict[str, dict[str, str]] = {
    "coupon_sms": {
        "en": '{brand}: your coupon "{title}", code {code}. Show it at the till.',
        "zh-CN": "{brand}：您的优惠券「{title}」，券码 {code}，结账时出示即可。",
    },
    # The splash form (portal/templates/portal/login_sms.html)
    "sms_phone_label": {"en": "Mobile number", "zh-CN": "手机号码"},
    "sms_phone_placeholder": {"en": "e.g. 138 1234 5678", "zh-CN": "例如 138 1234 5678"},
    "sms_send_button": {"en": "Send me a code", "zh-CN": "获取验证码"},
    # The code page (portal/templates/portal/sms_code.html)
    "sms_code_title": {"en": "Enter your code", "zh-CN": "输入验证码"},
    "sms_code_sent": {
        "en": "We sent a 6-digit code by text message to {masked}. It is valid for 5 minutes.",
        "zh-CN": "验证码已通过短信发送至 {masked}，5 分钟内有效。",
    },
    "sms_code_maybe_sent": {
        "en": (
            "The text message service answered slowly, so your code may take a moment. If none "
            "arrives within a minute, ask for a new one."
        ),
        "zh-CN": "短信服务响应较慢，验证码可能稍后送达。如一分钟内未收到，请重新获取。",
    },
    "sms_code_label": {"en": "6-digit code", "zh-CN": "6 位验证码"},
    "sms_verify_button": {"en": "Connect", "zh-CN": "验证并上网"},
    "sms_new_code": {"en": "Use another number or get a new code", "zh-CN": "换个号码或重新获取"},
    # The text message itself (the outbox shows it; Alibaba Cloud sends its own template)
    "sms_code_text": {
        "en": (
            "{code} is your {brand} WiFi code. It is valid for {minutes} minutes. Do not share it."
        ),
        "zh-CN": "{code} 是您的 {brand} WiFi 验证码，{minutes} 分钟内有效，请勿告诉他人。",
    },
    # Refusals
    "error_sms_wait": {
        "en": (
            "A code was sent to this number less than a minute ago. Please wait a minute before "
            "asking for another."
        ),
        "zh-CN": "该号码一分钟内已获取过验证码，请稍等一分钟后再试。",
    },
    "error_sms_too_many": {
        "en": "Too many codes were asked for. Please try again later.",
        "zh-CN": "获取验证码次数过多，请稍后再试。",
    },
    "error_sms_unavailable": {
        "en": "We could not send a text message just now. Please try again in a minute.",
        "zh-CN": "短信暂时无法发送，请一分钟后重试。",
    },
    "error_sms_bad_reference": {
        "en": "This code page is not valid. Please ask for a new code.",
        "zh-CN": "此验证码页面无效，请重新获取验证码。",
    },
    "error_sms_other_device": {
        "en": "This code was asked for on another device. Please ask for a code on this one.",
        "zh-CN": "该验证码是在其他设备上获取的，请在本设备上重新获取。",
    },
    "error_sms_code_format": {
        "en": "Please type the 6 digits of the code.",
        "zh-CN": "请输入 6 位数字验证码。",
    },
    "error_sms_code_wrong": {
        "en": "That code is not right. You can try {tries_left} more times.",
        "zh-CN": "验证码不正确，您还可以再试 {tries_left} 次。",
    },
    "error_sms_code_locked": {
        "en": "Too many wrong codes. Please ask for a new code.",
        "zh-CN": "验证码错误次数过多，请重新获取验证码。",
    },
    "error_sms_code_expired": {
        "en": "This code has expired. Please ask for a new code.",
        "zh-CN": "验证码已过期，请重新获取。",
    },
    "error_sms_code_used": {
        "en": "This code has been used already. Please ask for a new code.",
        "zh-CN": "该验证码已使用过，请重新获取。",
    },
}

CONSOLE: dict[str, dict[str, str]] = {
    "nav_sms_outbox": {"en": "SMS outbox", "zh-CN": "短信发件箱"},  # for the console's menu
    "sms_outbox_title": {"en": "SMS outbox", "zh-CN": "短信发件箱"},
    "sms_outbox_intro": {
        "en": (
            "Text messages the development SMS provider kept instead of sending them, newest "
            "first. Numbers are masked; texts are deleted after 24 hours."
        ),
        "zh-CN": (
            "开发用短信通道未实际发出、而是保存在此的短信，最新的在前。"
            "号码已打码；短信保存 24 小时后删除。"
        ),
    },
    "sms_outbox_live": {
        "en": "This platform sends texts through Alibaba Cloud SMS: nothing new arrives here.",
        "zh-CN": "本平台通过阿里云短信服务发送短信：此处不会再有新短信。",
    },
    "sms_outbox_merchant": {"en": "Merchant", "zh-CN": "商户"},
    "sms_outbox_col_time": {"en": "Time ({zone})", "zh-CN": "时间（{zone}）"},
    "sms_outbox_col_to": {"en": "To", "zh-CN": "收件号码"},
    "sms_outbox_col_text": {"en": "Text", "zh-CN": "短信内容"},
    "sms_outbox_empty": {
        "en": "No text messages in the last 24 hours.",
        "zh-CN": "最近 24 小时没有短信。",
    },
    "sms_outbox_newer": {"en": "← Newer", "zh-CN": "← 较新"},
    "sms_outbox_older": {"en": "Older →", "zh-CN": "较早 →"},
    "sms_outbox_page": {"en": "Page {n}", "zh-CN": "第 {n} 页"},
    # Simulated replies (portal/console_sms.py: development, owners only)
    "sms_outbox_reply_intro": {
        "en": (
            "A shopper's reply reaches Portico only through Alibaba Cloud's push. In development "
            "an owner can reply to a text here as its shopper would: the reply is handled as a "
            "pushed one is, so an opt-out word such as T ends that number's consent to "
            "marketing texts at every merchant."
        ),
        "zh-CN": (
            "顾客的回复短信只能经阿里云推送到达 Portico。开发环境中，商户所有者可在此以收件顾客的"
            "身份回复某条短信：该回复按推送的回复同样处理，回复 T 等退订词将撤回该号码在所有商户"
            "的营销短信同意。"
        ),
    },
    "sms_outbox_col_reply": {"en": "Shopper's reply (simulated)", "zh-CN": "顾客回复（模拟）"},
    "sms_outbox_reply_label": {"en": "Reply from {masked}", "zh-CN": "以 {masked} 的身份回复"},
    "sms_outbox_reply_button": {"en": "Simulate reply", "zh-CN": "模拟回复"},
    "sms_outbox_replied_opt_out": {
        "en": (
            "The reply was handled as a pushed reply: an opt-out word. Marketing-text consents "
            "of that number ended: {ended}."
        ),
        "zh-CN": "该回复已按推送的回复处理：为退订词。已撤回该号码的营销短信同意：{ended} 项。",
    },
    "sms_outbox_replied_other": {
        "en": "The reply was handled as a pushed reply: not an opt-out word, so nothing changed.",
        "zh-CN": "该回复已按推送的回复处理：不是退订词，未作任何更改。",
    },
    "sms_outbox_error_reply": {
        "en": "Type the shopper's reply (at most {max} characters).",
        "zh-CN": "请输入顾客的回复（最多 {max} 个字符）。",
    },
    "sms_outbox_error_owner_only": {
        "en": "Only the merchant's owners can simulate a shopper's reply.",
        "zh-CN": "只有商户所有者可以模拟顾客回复。",
    },
}
