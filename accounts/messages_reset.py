"""Texts of the password reset pages and email (accounts/password_reset_pages.py) and of the
Sessions page (accounts/session_pages.py), in zh-CN and English."""

from __future__ import annotations

from kernel.i18n import Catalog

RESET: Catalog = {
    "pr_forgot_link": {"en": "Forgot your password?", "zh-CN": "忘记密码？"},
    "pr_forgot_title": {"en": "Reset your password", "zh-CN": "重置密码"},
    "pr_forgot_intro": {
        "en": "Enter your account's email address: we send it a link to choose a new password.",
        "zh-CN": "请输入账号的邮箱地址：我们会发送一个链接，用于设置新密码。",
    },
    "pr_forgot_button": {"en": "Send the link", "zh-CN": "发送链接"},
    "pr_sent_title": {"en": "Check your email", "zh-CN": "请查收邮件"},
    "pr_sent_body": {
        "en": "If {email} has a Portico account, we sent it a link to reset the password. "
        "The link works once, for an hour.",
        "zh-CN": "如果 {email} 有 Portico 账号，我们已向其发送重置密码的链接。"
        "链接仅可使用一次，一小时内有效。",
    },
    "pr_error_email": {"en": "Enter an email address.", "zh-CN": "请输入邮箱地址。"},
    "error_reset_throttled": {
        "en": "Too many password resets from this network. Try again in an hour.",
        "zh-CN": "此网络的重置密码请求过多，请一小时后再试。",
    },
    "error_reset_link": {
        "en": "This password reset link is unknown, used or expired. Ask for a new one.",
        "zh-CN": "该重置密码链接无效、已使用或已过期。请重新申请。",
    },
    "pr_reset_title": {"en": "Choose a new password", "zh-CN": "设置新密码"},
    "pr_reset_intro": {
        "en": "Setting it signs you out everywhere: every device signs in again.",
        "zh-CN": "设置后，您将在所有设备上退出登录，需要重新登录。",
    },
    "pr_new_password": {"en": "New password", "zh-CN": "新密码"},
    "pr_reset_button": {"en": "Set the password", "zh-CN": "设置密码"},
    "pr_done": {
        "en": "Your password was changed. Sign in with it.",
        "zh-CN": "密码已修改，请使用新密码登录。",
    },
    "pr_mail_subject": {"en": "Reset your Portico password", "zh-CN": "重置您的 Portico 密码"},
    "pr_mail_body": {
        "en": "Someone asked to reset the password of the Portico account of this address.\n\n"
        "To choose a new password, open this link (it works once, for {minutes} minutes):\n"
        "{link}\n\nIf it was not you, ignore this email: your password stays as it is.",
        "zh-CN": "有人申请重置此邮箱的 Portico 账号密码。\n\n"
        "如需设置新密码，请打开以下链接（仅可使用一次，{minutes} 分钟内有效）：\n"
        "{link}\n\n如非本人操作，请忽略此邮件，您的密码不会改变。",
    },
}

SESSIONS: Catalog = {
    "nav_sessions": {"en": "Sessions", "zh-CN": "登录设备"},
    "ss_title": {"en": "Your sessions", "zh-CN": "您的登录设备"},
    "ss_intro": {
        "en": "Where you are signed in to the console. End any you do not recognise.",
        "zh-CN": "您在这些地方登录了后台。如有不认识的，请结束它。",
    },
    "ss_col_device": {"en": "Browser", "zh-CN": "浏览器"},
    "ss_col_started": {"en": "Signed in", "zh-CN": "登录时间"},
    "ss_col_last_seen": {"en": "Last used", "zh-CN": "最近使用"},
    "ss_unknown_device": {"en": "Unknown browser", "zh-CN": "未知浏览器"},
    "ss_this_one": {"en": "This session", "zh-CN": "当前会话"},
    "ss_end": {"en": "End", "zh-CN": "结束"},
    "ss_sign_out_here": {"en": "Sign out", "zh-CN": "退出登录"},
    "ss_end_others": {"en": "End every other session", "zh-CN": "结束其他所有会话"},
    "ss_notice_ended": {"en": "The session was ended.", "zh-CN": "该会话已结束。"},
    "ss_notice_others": {
        "en": "Every other session was ended.",
        "zh-CN": "其他所有会话均已结束。",
    },
}
