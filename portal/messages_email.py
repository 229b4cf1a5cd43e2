"""The shopper pages' texts of the email part of logins (issue 8), of versioned terms and of
returning shoppers, in zh-CN and English; merged into portal.messages.CATALOG.

The marketing-consent wording is versioned (CONSENT_WORDINGS): a consent row records the
version the shopper saw, so a version's text is never edited once it has been shown: a new
wording is a new version, added below, and the old ones stay so any recorded consent can still
be read in the words it was given. tests/portal/test_email_login.py pins each version's text.
"""

# The marketing-consent checkbox's words, by version; the last is the one shown now. `{brand}`
# is the store's brand name. The wording says how to withdraw (docs/logins.md).
CONSENT_WORDINGS: dict[str, dict[str, str]] = {
    "email-1": {
        "en": (
            "Yes, {brand} may send me offers and news by email. I can withdraw this at any "
            "time with the link shown after I connect (also in every email), or by asking "
            "the staff."
        ),
        "zh-CN": (
            "我同意 {brand} 通过电子邮件向我发送优惠和资讯。我可随时撤回：使用连接后页面"
            "（以及每封邮件中）的撤回链接，或告知店员。"
        ),
    },
}
CONSENT_WORDING = list(CONSENT_WORDINGS)[-1]

# The terms of a store that has published none of its own (portal_settings.terms_version's
# default, migration 0001): version "1" is reserved for these words (portal/terms.py).
DEFAULT_TERMS = {
    "en": (
        "This free WiFi is offered by the store named above. Use it lawfully and do not "
        "disturb other users or the network.\n\n"
        "To run the network and count visits we record a pseudonymous identifier of your "
        "device (a keyed hash of its hardware address, never the address itself beyond your "
        "session) and the times of your visits. If you log in with a phone number or an email "
        "address, we keep it encrypted and use it to let you in again; we send you offers only "
        "if you agreed to receive them, and you can withdraw that at any time.\n\n"
        "Your session ends after the time shown when you connect. Access may be limited or "
        "ended at any time. No personal data is sold."
    ),
    "zh-CN": (
        "本免费 WiFi 由上方所示门店提供。请合法使用，不得干扰其他用户或网络。\n\n"
        "为运营网络和统计客流，我们会记录您设备的匿名标识（设备硬件地址的加密哈希，会话结束后"
        "不保留地址本身）以及您的到访时间。如您使用手机号或电子邮箱登录，我们会加密保存，用于"
        "再次为您开通网络；仅在您同意后才会向您发送优惠信息，您可随时撤回同意。\n\n"
        "连接时会显示本次上网时长，到时自动结束。我们可能随时限制或终止访问。我们不会出售任何"
        "个人信息。"
    ),
}

MESSAGES: dict[str, dict[str, str]] = {
    # The email form on the splash (portal/templates/portal/login_email.html)
    "email_heading": {"en": "Connect with your email", "zh-CN": "使用电子邮箱连接"},
    "email_label": {"en": "Your email address", "zh-CN": "您的电子邮箱"},
    "email_note": {
        "en": (
            "We keep your address encrypted to recognise you next time. We email you only if "
            "you tick the box above."
        ),
        "zh-CN": "我们会加密保存您的邮箱，以便下次识别您。只有勾选上方选项，我们才会给您发邮件。",
    },
    "email_connect": {"en": "Connect", "zh-CN": "连接上网"},
    "error_bad_consent_wording": {
        "en": "This form is out of date. Please reload the page and try again.",
        "zh-CN": "此表单已过期，请刷新页面后重试。",
    },
    # The consent line on the "you're online" page (portal/templates/portal/online_consent.html)
    "consent_given": {
        "en": "You agreed to receive offers by email. Changed your mind?",
        "zh-CN": "您已同意接收邮件优惠。改变主意了？",
    },
    "consent_withdraw_link": {"en": "Withdraw your consent", "zh-CN": "撤回同意"},
    # The withdrawal page (portal/templates/portal/consent_withdraw.html)
    "withdraw_title": {"en": "Email offers", "zh-CN": "邮件优惠"},
    "withdraw_question": {
        "en": (
            "You agreed on {date} to receive offers by email from {brand} ({address}). "
            "Withdraw this consent?"
        ),
        "zh-CN": "您于 {date} 同意接收 {brand} 的邮件优惠（{address}）。要撤回此同意吗？",
    },
    "withdraw_button": {"en": "Withdraw my consent", "zh-CN": "撤回我的同意"},
    "withdrawn_done": {
        "en": "Done: {brand} will send no more offers to {address}. You need do nothing else.",
        "zh-CN": "已撤回：{brand} 将不再向 {address} 发送优惠邮件，您无需再做任何操作。",
    },
    "withdrawn_already": {
        "en": "Your consent was withdrawn on {date}: {brand} sends no offers to {address}.",
        "zh-CN": "您已于 {date} 撤回同意：{brand} 不会再向 {address} 发送优惠邮件。",
    },
    "error_bad_withdrawal_link": {
        "en": "This link is not valid. Copy the whole link from the email or page and try again.",
        "zh-CN": "此链接无效，请从邮件或页面完整复制链接后重试。",
    },
    # Terms (portal/terms.py; the splash's footer and portal/templates/portal/terms.html)
    "terms_link": {"en": "Terms of use", "zh-CN": "使用条款"},
    "terms_read": {"en": "read them", "zh-CN": "查看"},
    "terms_title": {"en": "Terms of use", "zh-CN": "使用条款"},
    "terms_version": {
        "en": "Version {version}, published {date}",
        "zh-CN": "版本 {version}，发布于 {date}",
    },
    "terms_version_default": {"en": "Version {version}", "zh-CN": "版本 {version}"},
    "terms_superseded": {
        "en": "A newer version is in force now:",
        "zh-CN": "现行版本已更新：",
    },
    "terms_back": {
        "en": "To go back to the login page, use your device's Back.",
        "zh-CN": "如需返回登录页面，请使用设备的“返回”。",
    },
    "error_unknown_terms": {
        "en": "These terms do not exist.",
        "zh-CN": "该条款不存在。",
    },
    # Returning shoppers (portal/templates/portal/login_returning.html)
    "returning_title": {"en": "Welcome back!", "zh-CN": "欢迎回来！"},
    "returning_text": {
        "en": (
            "You were online with us recently, so you need not log in again: tap Continue "
            "to connect."
        ),
        "zh-CN": "您最近使用过我们的 WiFi，无需再次登录：点击“继续”即可连接。",
    },
    "returning_continue": {"en": "Continue", "zh-CN": "继续"},
    "returning_terms": {
        "en": "By continuing you accept the terms of use.",
        "zh-CN": "继续即表示您同意使用条款。",
    },
    "returning_other": {
        "en": "Not you, or another way? Log in below.",
        "zh-CN": "不是您本人，或想换种方式？请在下方登录。",
    },
    "error_not_returning": {
        "en": "We could not let you straight through this time. Please log in below.",
        "zh-CN": "这次无法为您直接连接，请在下方登录。",
    },
}


def consent_wording_messages() -> dict[str, dict[str, str]]:
    """Each consent wording as a catalog entry `consent_<version>` (the templates' `_()`)."""
    return {f"consent_{version}": words for version, words in CONSENT_WORDINGS.items()}


MESSAGES.update(consent_wording_messages())
# The version the splash shows now, for login_email.html to send back with the form.
MESSAGES["consent_wording_version"] = {"en": CONSENT_WORDING, "zh-CN": CONSENT_WORDING}

# The console's Logins page (portal/console_logins.py; merged into the console's catalog).
CONSOLE: dict[str, dict[str, str]] = {
    "pl_title": {"en": "WiFi logins", "zh-CN": "WiFi 登录"},
    "pl_nav": {"en": "Logins", "zh-CN": "登录方式"},
    "pl_intro": {
        "en": (
            "How shoppers log in to a store's WiFi: the methods its page offers, whether "
            "returning shoppers are let straight through, and the terms they accept."
        ),
        "zh-CN": (
            "顾客如何登录门店 WiFi：登录页提供的方式、回头客是否直接放行，以及顾客同意的使用条款。"
        ),
    },
    "pl_store": {"en": "Store", "zh-CN": "门店"},
    "pl_show": {"en": "Show", "zh-CN": "查看"},
    "pl_no_store": {
        "en": "This merchant has no store yet.",
        "zh-CN": "该商户还没有门店。",
    },
    "pl_no_merchant": {
        "en": "You are not a member of any merchant yet.",
        "zh-CN": "您还不是任何商户的成员。",
    },
    "pl_owner_only_note": {
        "en": "Only an owner can change these settings.",
        "zh-CN": "只有所有者可以修改这些设置。",
    },
    "pl_not_saved": {
        "en": "Not saved: please correct the fields marked below.",
        "zh-CN": "未保存：请更正下方标出的内容。",
    },
    "pl_methods_title": {"en": "Login methods", "zh-CN": "登录方式"},
    "pl_methods_hint": {
        "en": (
            "Tick the methods the store's login page offers; the order numbers set the order "
            "on the page (1 first). Changes show on the page within seconds."
        ),
        "zh-CN": "勾选门店登录页提供的方式；序号决定页面上的顺序（1 在最前）。修改几秒内生效。",
    },
    "pl_method_click": {"en": "Click-through (accept the terms)", "zh-CN": "一键登录（同意条款）"},
    "pl_method_sms": {"en": "SMS code (phone number)", "zh-CN": "短信验证码（手机号）"},
    "pl_method_voucher": {"en": "Voucher code", "zh-CN": "上网券码"},
    "pl_method_email": {
        "en": "Email address (with optional marketing consent)",
        "zh-CN": "电子邮箱（可选同意营销邮件）",
    },
    "pl_col_on": {"en": "On", "zh-CN": "启用"},
    "pl_col_method": {"en": "Method", "zh-CN": "方式"},
    "pl_col_order": {"en": "Order", "zh-CN": "顺序"},
    "pl_returning_days": {"en": "Returning shoppers", "zh-CN": "回头客"},
    "pl_returning_unit": {
        "en": "days (0: always log in)",
        "zh-CN": "天（0：每次都需登录）",
    },
    "pl_returning_hint": {
        "en": (
            "A shopper who was online at any of this merchant's stores within this many days "
            "gets “Welcome back” and one Continue button instead of logging in again. They are "
            "known by their device, or by the phone number or email they logged in with on it "
            "(a phone showing a new random MAC address is new to us until it logs in once). "
            "Voucher logins do not count."
        ),
        "zh-CN": (
            "在该商户任一门店于此天数内上过网的顾客，将看到“欢迎回来”和一个“继续”按钮，无需再次登录。"
            "顾客按设备识别，或按其在该设备上登录用过的手机号或邮箱识别"
            "（换用新随机 MAC 地址的手机，在登录一次之前无法识别）。使用上网券的登录不计入。"
        ),
    },
    "pl_save": {"en": "Save", "zh-CN": "保存"},
    "pl_saved_methods": {"en": "Login settings saved.", "zh-CN": "登录设置已保存。"},
    "pl_terms_title": {"en": "Terms of use", "zh-CN": "使用条款"},
    "pl_terms_current": {
        "en": "Shoppers accept version {version} now; each login records the version accepted.",
        "zh-CN": "顾客当前同意的是版本 {version}；每次登录都会记录所同意的版本。",
    },
    "pl_terms_default": {
        "en": "Version 1 is the platform's standard text, used until you publish your own.",
        "zh-CN": "版本 1 为平台标准文本，在您发布自己的条款前使用。",
    },
    "pl_col_version": {"en": "Version", "zh-CN": "版本"},
    "pl_col_published": {"en": "Published (UTC)", "zh-CN": "发布时间（UTC）"},
    "pl_col_text": {"en": "Text", "zh-CN": "内容"},
    "pl_current": {"en": "current", "zh-CN": "当前"},
    "pl_view": {"en": "View", "zh-CN": "查看"},
    "pl_publish_title": {"en": "Publish a new version", "zh-CN": "发布新版本"},
    "pl_publish_hint": {
        "en": (
            "A published version can never be changed: to change the words, publish a new "
            "version. It applies to every login from now on."
        ),
        "zh-CN": "已发布的版本不可修改：如需修改文字，请发布新版本。新版本对此后的每次登录生效。",
    },
    "pl_version": {"en": "Version", "zh-CN": "版本号"},
    "pl_body_en": {"en": "Text in English", "zh-CN": "英文文本"},
    "pl_body_zh": {"en": "Text in Chinese", "zh-CN": "中文文本"},
    "pl_publish": {"en": "Publish", "zh-CN": "发布"},
    "pl_saved_terms": {
        "en": "Published: shoppers now accept the new version.",
        "zh-CN": "已发布：顾客现在同意的是新版本。",
    },
    "pl_consent_title": {"en": "Marketing consent (email)", "zh-CN": "营销邮件同意"},
    "pl_consent_counts": {
        "en": "{active} shoppers agree to offers by email; {withdrawn} withdrew their consent.",
        "zh-CN": "{active} 位顾客同意接收邮件优惠；{withdrawn} 位已撤回同意。",
    },
    "pl_consent_hint": {
        "en": (
            "Shoppers withdraw with the link shown after they connect (put it in every email "
            "too), or ask you: type their address below. Each consent records its wording "
            "version, store and time; a withdrawal records when and how."
        ),
        "zh-CN": (
            "顾客可使用连接后页面显示的链接撤回（每封邮件中也应附上），也可请您代为撤回："
            "在下方输入其邮箱。每条同意都记录措辞版本、门店和时间；撤回会记录时间和方式。"
        ),
    },
    "pl_consent_email": {"en": "Shopper's email address", "zh-CN": "顾客邮箱"},
    "pl_withdraw": {"en": "Withdraw consent", "zh-CN": "撤回同意"},
    "pl_saved_withdraw": {
        "en": "{count} consent(s) withdrawn for that address.",
        "zh-CN": "已为该邮箱撤回 {count} 条同意。",
    },
    "pl_error_owner_only": {
        "en": "Only an owner of this merchant can change its login settings.",
        "zh-CN": "只有该商户的所有者可以修改登录设置。",
    },
    "pl_error_bad_form": {
        "en": "This form could not be read. Reload the page and try again.",
        "zh-CN": "无法读取此表单，请刷新页面后重试。",
    },
    "pl_error_order": {
        "en": "An order is a number from 1 to {high}.",
        "zh-CN": "顺序须为 1 到 {high} 的数字。",
    },
    "pl_error_no_method": {
        "en": "Tick at least one method, or nobody can log in.",
        "zh-CN": "请至少勾选一种方式，否则无人能登录。",
    },
    "pl_error_days": {
        "en": "A whole number of days from 0 to {high}.",
        "zh-CN": "请输入 0 到 {high} 的整数天数。",
    },
    "pl_error_terms_version": {
        "en": "1 to 32 letters, digits, dots, dashes or underscores (for example 2 or 2024-06).",
        "zh-CN": "1 到 32 个字母、数字、点、横线或下划线（例如 2 或 2024-06）。",
    },
    "pl_error_terms_reserved": {
        "en": "Version 1 is the platform's standard text: choose another.",
        "zh-CN": "版本 1 为平台标准文本，请使用其他版本号。",
    },
    "pl_error_terms_taken": {
        "en": "This version is published already, and a published version never changes.",
        "zh-CN": "该版本已发布，已发布的版本不可修改。",
    },
    "pl_error_terms_body": {
        "en": "Write the text (at most {high} characters).",
        "zh-CN": "请填写文本（最多 {high} 个字符）。",
    },
    "pl_error_no_portal": {
        "en": "This store has no login page settings yet: save its login methods first.",
        "zh-CN": "该门店还没有登录页设置：请先保存登录方式。",
    },
    "pl_error_email": {
        "en": "That is not an email address.",
        "zh-CN": "这不是有效的电子邮箱地址。",
    },
}
