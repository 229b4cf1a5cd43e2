"""Texts of the console's Team pages and invitations (accounts/team_pages.py), in zh-CN and
English."""

from __future__ import annotations

from kernel.i18n import Catalog

TEAM: Catalog = {
    "nav_team": {"en": "Team", "zh-CN": "团队"},
    "role_owner_hint": {
        "en": "Everything, including stores, team and audit log.",
        "zh-CN": "全部权限，包括门店、团队和操作日志。",
    },
    "role_staff_hint": {
        "en": "Day-to-day work at the stores chosen below.",
        "zh-CN": "在下方所选门店处理日常工作。",
    },
    "tm_title": {"en": "Team", "zh-CN": "团队"},
    "tm_intro": {
        "en": "Who can use the console for your merchant, and the invitations not yet accepted.",
        "zh-CN": "可以使用本商户后台的成员，以及尚未接受的邀请。",
    },
    "tm_members": {"en": "Members", "zh-CN": "成员"},
    "tm_col_name": {"en": "Name", "zh-CN": "姓名"},
    "tm_col_role": {"en": "Role", "zh-CN": "角色"},
    "tm_col_stores": {"en": "Stores", "zh-CN": "门店"},
    "tm_col_expires": {"en": "Link expires", "zh-CN": "链接到期"},
    "tm_all_stores": {"en": "All stores", "zh-CN": "全部门店"},
    "tm_you": {"en": "(you)", "zh-CN": "（您）"},
    "tm_edit": {"en": "Change", "zh-CN": "修改"},
    "tm_invitations": {"en": "Pending invitations", "zh-CN": "待接受的邀请"},
    "tm_no_invitations": {"en": "No invitations are waiting.", "zh-CN": "没有待接受的邀请。"},
    "tm_revoke": {"en": "Revoke", "zh-CN": "撤销"},
    "tm_revoke_label": {"en": "Revoke the invitation of {email}", "zh-CN": "撤销对 {email} 的邀请"},
    "tm_resend": {"en": "Re-send", "zh-CN": "重新发送"},
    "tm_resend_label": {
        "en": "Send the invitation of {email} again, with a new link",
        "zh-CN": "以新链接重新发送对 {email} 的邀请",
    },
    "tm_not_sent": {"en": "Email not sent", "zh-CN": "邮件未发出"},
    "tm_invite_title": {"en": "Invite someone", "zh-CN": "邀请成员"},
    "tm_invite_hint": {
        "en": "They get an email with a link, valid for 7 days, to join with a password.",
        "zh-CN": "对方会收到一封邮件，其中的链接 7 天内有效，可设置密码后加入。",
    },
    "tm_role": {"en": "Role", "zh-CN": "角色"},
    "tm_stores": {"en": "Stores (staff)", "zh-CN": "门店（店员）"},
    "tm_no_stores": {
        "en": "Add a store first: staff work at stores.",
        "zh-CN": "请先添加门店：店员需要分配到门店。",
    },
    "tm_invite_button": {"en": "Send the invitation", "zh-CN": "发送邀请"},
    "tm_notice_invited": {"en": "The invitation was sent.", "zh-CN": "邀请已发送。"},
    "tm_notice_resent": {
        "en": "The invitation was sent again, with a new link (the old one no longer works).",
        "zh-CN": "邀请已重新发送，附有新链接（旧链接已失效）。",
    },
    "tm_notice_not_sent": {
        "en": "The invitation is saved, but its email could not be sent: the mail server did "
        "not take it. Press Re-send beside it when email works again.",
        "zh-CN": "邀请已保存，但邮件未能发出：邮件服务器未接收。请在邮件恢复后点击旁边的"
        "“重新发送”。",
    },
    "tm_notice_revoked": {"en": "The invitation was revoked.", "zh-CN": "邀请已撤销。"},
    "tm_notice_saved": {"en": "The member was changed.", "zh-CN": "成员已修改。"},
    "tm_notice_unchanged": {"en": "Nothing was changed.", "zh-CN": "没有任何更改。"},
    "tm_notice_removed": {"en": "The member was removed.", "zh-CN": "成员已移除。"},
    "tm_error_email": {"en": "Enter an email address.", "zh-CN": "请输入邮箱地址。"},
    "tm_error_role": {"en": "Choose a role.", "zh-CN": "请选择角色。"},
    "error_invalid_stores": {
        "en": "Choose at least one of the merchant's stores for staff.",
        "zh-CN": "请为店员至少选择一家本商户的门店。",
    },
    "error_already_member": {
        "en": "This address is a member of the merchant already.",
        "zh-CN": "该邮箱已经是本商户的成员。",
    },
    "error_last_owner": {
        "en": "A merchant needs an owner: make someone else an owner first.",
        "zh-CN": "商户至少需要一名管理员：请先将其他成员设为管理员。",
    },
    "error_invitation_link": {
        "en": "This invitation link is unknown, used, revoked or expired. Ask for a new one.",
        "zh-CN": "该邀请链接无效、已使用、已撤销或已过期。请联系对方重新邀请。",
    },
    "tm_member_title": {"en": "Change a member", "zh-CN": "修改成员"},
    "tm_save": {"en": "Save", "zh-CN": "保存"},
    "tm_back": {"en": "Back to the team", "zh-CN": "返回团队"},
    "tm_remove_title": {"en": "Remove from the merchant", "zh-CN": "从商户移除"},
    "tm_remove_hint": {
        "en": "They can no longer use the console for this merchant. Their account stays.",
        "zh-CN": "对方将无法再使用本商户的后台，其账号仍保留。",
    },
    "tm_remove": {"en": "Remove", "zh-CN": "移除"},
    "tm_mail_subject": {
        "en": "You are invited to {merchant} on Portico",
        "zh-CN": "您受邀加入 Portico 上的 {merchant}",
    },
    "tm_mail_body_owner": {
        "en": "You are invited to join {merchant} on Portico as an owner.\n\n"
        "Open this link to accept (it works once, for {days} days):\n{link}\n\n"
        "If you did not expect this, ignore this email.",
        "zh-CN": "您受邀以管理员身份加入 Portico 上的 {merchant}。\n\n"
        "打开以下链接接受邀请（仅可使用一次，{days} 天内有效）：\n{link}\n\n"
        "如非本人预期，请忽略此邮件。",
    },
    "tm_mail_body_staff": {
        "en": "You are invited to join {merchant} on Portico as staff.\n\n"
        "Open this link to accept (it works once, for {days} days):\n{link}\n\n"
        "If you did not expect this, ignore this email.",
        "zh-CN": "您受邀以店员身份加入 Portico 上的 {merchant}。\n\n"
        "打开以下链接接受邀请（仅可使用一次，{days} 天内有效）：\n{link}\n\n"
        "如非本人预期，请忽略此邮件。",
    },
    "tm_accept_title": {"en": "Join {merchant}", "zh-CN": "加入 {merchant}"},
    "tm_accept_intro": {
        "en": "{email} is invited to join {merchant} as {role}.",
        "zh-CN": "{email} 受邀以{role}身份加入 {merchant}。",
    },
    "tm_accept_new": {
        "en": "Choose your name and a password to join.",
        "zh-CN": "请设置您的姓名和密码以加入。",
    },
    "tm_accept_existing": {
        "en": "This address has a Portico account: enter its password to join.",
        "zh-CN": "该邮箱已有 Portico 账号：请输入该账号的密码以加入。",
    },
    "tm_accept_name": {"en": "Your name", "zh-CN": "您的姓名"},
    "tm_accept_button": {"en": "Join", "zh-CN": "加入"},
    "tm_error_name": {
        "en": "Enter a name of 1 to {max} characters.",
        "zh-CN": "请输入 1 至 {max} 个字符的姓名。",
    },
    "au_action_invitation_create": {"en": "Invitation sent", "zh-CN": "发送邀请"},
    "au_action_invitation_resend": {"en": "Invitation sent again", "zh-CN": "重新发送邀请"},
    "au_action_invitation_revoke": {"en": "Invitation revoked", "zh-CN": "撤销邀请"},
    "au_action_membership_update": {"en": "Member changed", "zh-CN": "修改成员"},
    "au_action_membership_delete": {"en": "Member removed", "zh-CN": "移除成员"},
    "au_field_stores": {"en": "Stores", "zh-CN": "门店"},
}
