"""The console shell's texts (layout, sign-in, error pages) in zh-CN and English."""

from __future__ import annotations

from kernel.i18n import Catalog

MESSAGES: Catalog = {
    "console_title": {"en": "Merchant console", "zh-CN": "商户后台"},
    "sign_out": {"en": "Sign out", "zh-CN": "退出登录"},
    "signed_in_as": {"en": "Signed in as {name}", "zh-CN": "当前用户：{name}"},
    "switch_language": {"en": "Language", "zh-CN": "语言"},
    "nav_main": {"en": "Pages", "zh-CN": "页面"},
    "nav_dashboard": {"en": "Dashboard", "zh-CN": "概览"},
    "nav_routers": {"en": "Routers", "zh-CN": "路由器"},
    "sign_in_title": {"en": "Sign in", "zh-CN": "登录"},
    "sign_in_intro": {
        "en": "Sign in to see your stores' WiFi logins.",
        "zh-CN": "登录后查看各门店的 WiFi 登录情况。",
    },
    "email": {"en": "Email", "zh-CN": "邮箱"},
    "password": {"en": "Password", "zh-CN": "密码"},
    "sign_in_button": {"en": "Sign in", "zh-CN": "登录"},
    "home_link": {"en": "Back to the console", "zh-CN": "返回后台首页"},
    "error_title": {"en": "Something went wrong", "zh-CN": "出错了"},
    "error_not_found": {"en": "This page does not exist.", "zh-CN": "页面不存在。"},
    "error_too_large": {
        "en": "That was too much to send at once: nothing was saved.",
        "zh-CN": "一次提交的内容过大，未保存任何内容。",
    },
    "error_length_required": {
        "en": "The form arrived without its length: send it again from the page.",
        "zh-CN": "表单提交时缺少长度信息，请从页面重新提交。",
    },
    "error_method_not_allowed": {
        "en": "This page cannot be used that way.",
        "zh-CN": "不支持此操作。",
    },
    "error_server": {
        "en": "The console hit an unexpected error. Please try again in a moment.",
        "zh-CN": "后台出现意外错误，请稍后再试。",
    },
    "error_generic": {"en": "The request could not be completed.", "zh-CN": "请求无法完成。"},
    "error_csrf": {
        "en": "This form has expired. Go back, reload the page and try again.",
        "zh-CN": "表单已失效，请返回并刷新页面后重试。",
    },
    "error_account": {"en": "The account could not be changed.", "zh-CN": "账户操作失败。"},
    "error_invalid_email": {
        "en": "Enter a valid email address.",
        "zh-CN": "请输入有效的邮箱地址。",
    },
    "error_weak_password": {
        "en": "The password is too short or too long.",
        "zh-CN": "密码过短或过长。",
    },
    "error_invalid_name": {"en": "Enter a name.", "zh-CN": "请输入名称。"},
    "error_email_taken": {
        "en": "An account with this email already exists.",
        "zh-CN": "该邮箱已注册。",
    },
    "error_invalid_timezone": {"en": "Unknown time zone.", "zh-CN": "无效的时区。"},
    "error_invalid_role": {"en": "Unknown role.", "zh-CN": "无效的角色。"},
    "error_unknown_merchant_or_user": {
        "en": "No such merchant or user.",
        "zh-CN": "商户或用户不存在。",
    },
    "error_invalid_credentials": {
        "en": "Wrong email or password.",
        "zh-CN": "邮箱或密码错误。",
    },
    "error_login_locked": {
        "en": "Too many failed sign-ins for this account. Try again in {minutes} minutes.",
        "zh-CN": "该账户登录失败次数过多，请 {minutes} 分钟后再试。",
    },
    "error_login_locked_here": {
        "en": "Too many failed sign-ins from this network. Try again in {minutes} minutes.",
        "zh-CN": "此网络登录失败次数过多，请 {minutes} 分钟后再试。",
    },
}
