"""The shopper pages' texts of marketing-SMS consent and of opting out (issue 14), in zh-CN
and English; merged into portal.messages.CATALOG.

The SMS login's consent wording is versioned as the email login's is (messages_email.py): a
consent row records the version shown, a version's words are never edited once shown (a new
wording is a new version added below), and tests/portal/test_sms_consent.py pins each one.
"""

# The marketing-SMS box's words, by version; the last is the one shown now. `{brand}`: the
# store's brand name. The words say how to withdraw (docs/logins.md, "Marketing SMS consent").
SMS_CONSENT_WORDINGS: dict[str, dict[str, str]] = {
    "sms-1": {
        "en": (
            "Yes, {brand} may send me offers by text message to this number. I can stop them "
            "at any time: reply T to any offer text, use the link shown after I connect, or "
            "ask the staff."
        ),
        "zh-CN": (
            "我同意 {brand} 向此手机号发送优惠短信。我可随时退订：回复 T 至任一优惠短信，"
            "使用连接后页面上的撤回链接，或告知店员。"
        ),
    },
}
SMS_CONSENT_WORDING = list(SMS_CONSENT_WORDINGS)[-1]

# What every marketing text ends with (portal/services.py text_identity): the opt-out
# instruction Chinese operators' rules ask of marketing texts, "reply T to unsubscribe".
OPT_OUT_SMS = {"zh-CN": "回T退订", "en": "Reply T to opt out"}

MESSAGES: dict[str, dict[str, str]] = {
    **{f"consent_{version}": words for version, words in SMS_CONSENT_WORDINGS.items()},
    "sms_consent_wording_version": {"en": SMS_CONSENT_WORDING, "zh-CN": SMS_CONSENT_WORDING},
    "sms_consent_note": {
        "en": "The offers box is optional: you get online either way.",
        "zh-CN": "优惠短信一项可不勾选，不影响上网。",
    },
    # The online page's consent line for an SMS consent (portal/templates/portal/
    # online_consent.html)
    "consent_given_sms": {
        "en": "You agreed to receive offers by text message. Changed your mind?",
        "zh-CN": "您已同意接收优惠短信。改变主意了？",
    },
    # The withdrawal page for an SMS consent (portal/templates/portal/consent_withdraw.html)
    "withdraw_title_sms": {"en": "Offers by text message", "zh-CN": "优惠短信"},
    "withdraw_question_sms": {
        "en": (
            "You agreed on {date} to receive offers by text message from {brand} ({address}). "
            "Withdraw this consent?"
        ),
        "zh-CN": "您于 {date} 同意接收 {brand} 的优惠短信（{address}）。要撤回此同意吗？",
    },
    "withdrawn_done_sms": {
        "en": "Done: {brand} will text no more offers to {address}. You need do nothing else.",
        "zh-CN": "已撤回：{brand} 将不再向 {address} 发送优惠短信，您无需再做任何操作。",
    },
    "withdrawn_already_sms": {
        "en": "Your consent was withdrawn on {date}: {brand} texts no offers to {address}.",
        "zh-CN": "您已于 {date} 撤回同意：{brand} 不会再向 {address} 发送优惠短信。",
    },
    # "No more offers" on the online page (portal/templates/portal/online_opt_out.html)
    "opt_out_button": {"en": "No more offers", "zh-CN": "不再接收优惠"},
    "opt_out_hint": {
        "en": (
            "Stops every offer from {brand} to this device and the number or address you "
            "logged in with: on this page, by text message and by any other channel."
        ),
        "zh-CN": (
            "停止 {brand} 向本设备及您登录所用号码或邮箱发送的所有优惠："
            "包括本页面、短信及其他渠道。"
        ),
    },
    "opt_out_done": {
        "en": "Done: {brand} will send you no more offers. You need do nothing else.",
        "zh-CN": "已退订：{brand} 将不再向您发送任何优惠，您无需再做任何操作。",
    },
}
