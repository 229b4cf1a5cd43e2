"""Texts of the accounts domain's console pages (audit log, stores, sign-up, first-run
checklist) in zh-CN and English."""

from __future__ import annotations

from kernel.i18n import Catalog

AUDIT: Catalog = {
    "nav_audit": {"en": "Audit log", "zh-CN": "操作日志"},
    "error_owners_only": {
        "en": "Only an owner of the merchant can use this page.",
        "zh-CN": "只有商户管理员可以使用此页面。",
    },
    "au_title": {"en": "Audit log", "zh-CN": "操作日志"},
    "au_intro": {
        "en": "Every change made to your merchant in the console: who, what, when, before and "
        "after. Newest first.",
        "zh-CN": "在后台对商户所做的每一项更改：谁、做了什么、何时、更改前后。最新的在前。",
    },
    "au_merchant": {"en": "Merchant", "zh-CN": "商户"},
    "au_col_time": {"en": "Time ({zone})", "zh-CN": "时间（{zone}）"},
    "au_col_who": {"en": "Who", "zh-CN": "操作人"},
    "au_col_what": {"en": "What", "zh-CN": "操作"},
    "au_col_changes": {"en": "Before → after", "zh-CN": "更改前 → 更改后"},
    "au_empty": {"en": "Nothing has been changed yet.", "zh-CN": "暂无更改记录。"},
    "au_pages": {"en": "Pages of the log", "zh-CN": "日志分页"},
    "au_newest": {"en": "Newest", "zh-CN": "最新"},
    "au_older": {"en": "Older", "zh-CN": "更早"},
    "au_by_platform": {"en": "Portico", "zh-CN": "Portico 平台"},
    "au_former_user": {"en": "A former user", "zh-CN": "已删除的用户"},
    "au_yes": {"en": "yes", "zh-CN": "是"},
    "au_no": {"en": "no", "zh-CN": "否"},
    "au_action_merchant_create": {"en": "Merchant created", "zh-CN": "创建商户"},
    "au_action_store_create": {"en": "Store added", "zh-CN": "添加门店"},
    "au_action_store_update": {"en": "Store changed", "zh-CN": "修改门店"},
    "au_action_membership_create": {"en": "Member added", "zh-CN": "添加成员"},
    "au_field_name": {"en": "Name", "zh-CN": "名称"},
    "au_field_address": {"en": "Address", "zh-CN": "地址"},
    "au_field_city": {"en": "City", "zh-CN": "城市"},
    "au_field_category": {"en": "Category", "zh-CN": "类别"},
    "au_field_timezone": {"en": "Time zone", "zh-CN": "时区"},
    "au_field_opening_hours": {"en": "Opening hours", "zh-CN": "营业时间"},
    "au_field_email": {"en": "Email", "zh-CN": "邮箱"},
    "au_field_role": {"en": "Role", "zh-CN": "角色"},
    # Fields and values that more than one domain's entries have (accounts/audit_page.py).
    "au_field_store": {"en": "Store", "zh-CN": "门店"},
    "au_field_status": {"en": "Status", "zh-CN": "状态"},
    "au_field_reason": {"en": "Reason", "zh-CN": "原因"},
    "au_field_outcome": {"en": "Outcome", "zh-CN": "结果"},
    "au_field_count": {"en": "Codes", "zh-CN": "券码数量"},
    "au_field_in_use": {"en": "In use", "zh-CN": "使用中"},
    "au_field_in_service": {"en": "In service", "zh-CN": "在用"},
    "au_outcome_done": {"en": "done", "zh-CN": "已完成"},
    "au_outcome_failed": {"en": "failed", "zh-CN": "失败"},
    "au_status_pending": {"en": "waiting", "zh-CN": "待审核"},
    "au_status_approved": {"en": "approved", "zh-CN": "已批准"},
    "au_status_rejected": {"en": "rejected", "zh-CN": "已拒绝"},
}

STORES: Catalog = {
    "nav_stores": {"en": "Stores", "zh-CN": "门店"},
    "st_title": {"en": "Stores", "zh-CN": "门店"},
    "st_intro": {
        "en": "Your stores: where they are, what they sell and when they are open. Footfall "
        "and ad targeting use these details.",
        "zh-CN": "您的门店：位置、经营类别和营业时间。客流分析和广告定向会使用这些信息。",
    },
    "st_add": {"en": "Add a store", "zh-CN": "添加门店"},
    "st_new_title": {"en": "Add a store", "zh-CN": "添加门店"},
    "st_edit_title": {"en": "Edit store", "zh-CN": "编辑门店"},
    "st_back": {"en": "All stores", "zh-CN": "全部门店"},
    "st_cancel": {"en": "Cancel", "zh-CN": "取消"},
    "st_save": {"en": "Save", "zh-CN": "保存"},
    "st_empty": {
        "en": "No stores yet. Add your first store to start.",
        "zh-CN": "还没有门店。添加第一家门店即可开始。",
    },
    "st_added": {"en": "The store was added.", "zh-CN": "门店已添加。"},
    "st_saved": {"en": "The store was saved.", "zh-CN": "门店已保存。"},
    "st_unchanged": {"en": "Nothing was changed.", "zh-CN": "没有任何更改。"},
    "st_not_saved": {
        "en": "Nothing was saved: correct the fields marked below.",
        "zh-CN": "未保存：请修改下方标出的项目。",
    },
    "st_name": {"en": "Name", "zh-CN": "名称"},
    "st_address": {"en": "Address", "zh-CN": "地址"},
    "st_city": {"en": "City", "zh-CN": "城市"},
    "st_category": {"en": "Category", "zh-CN": "类别"},
    "st_timezone": {"en": "Time zone", "zh-CN": "时区"},
    "st_hours": {"en": "Opening hours", "zh-CN": "营业时间"},
    "st_hours_unknown": {"en": "Not given", "zh-CN": "未填写"},
    "st_hours_help": {
        "en": "Leave both times empty on a day the store is closed. A closing time before the "
        "opening time runs past midnight; 00:00 to 00:00 is open all day.",
        "zh-CN": "休息日请将两个时间都留空。打烊时间早于开门时间表示营业至次日；"
        "00:00 至 00:00 表示全天营业。",
    },
    "st_opens": {"en": "{day}: opens", "zh-CN": "{day}：开门时间"},
    "st_closes": {"en": "{day}: closes", "zh-CN": "{day}：打烊时间"},
    "st_error_name": {
        "en": "Enter a name of 1 to {max} characters.",
        "zh-CN": "请输入 1 至 {max} 个字符的名称。",
    },
    "st_error_too_long": {
        "en": "This may have at most {max} characters.",
        "zh-CN": "最多 {max} 个字符。",
    },
    "st_error_control": {
        "en": "Use letters, digits and punctuation only (no line breaks or control characters).",
        "zh-CN": "只能使用文字、数字和标点（不能包含换行或控制字符）。",
    },
    "st_error_category": {
        "en": "Choose a category from the list.",
        "zh-CN": "请从列表中选择类别。",
    },
    "st_error_timezone": {
        "en": "Choose a time zone from the list.",
        "zh-CN": "请从列表中选择时区。",
    },
    "st_error_hours_pair": {
        "en": "Enter both the opening and the closing time, or neither if the store is closed.",
        "zh-CN": "请同时填写开门和打烊时间；休息日两个都留空。",
    },
    "st_error_hours_format": {
        "en": "Enter times as hours and minutes, such as 09:30.",
        "zh-CN": "请按“时:分”格式填写时间，例如 09:30。",
    },
    "st_error_hours_same": {
        "en": "Opening and closing times are the same. For open all day, use 00:00 to 00:00.",
        "zh-CN": "开门和打烊时间相同。全天营业请填写 00:00 至 00:00。",
    },
    "wd_mon": {"en": "Mon", "zh-CN": "周一"},
    "wd_tue": {"en": "Tue", "zh-CN": "周二"},
    "wd_wed": {"en": "Wed", "zh-CN": "周三"},
    "wd_thu": {"en": "Thu", "zh-CN": "周四"},
    "wd_fri": {"en": "Fri", "zh-CN": "周五"},
    "wd_sat": {"en": "Sat", "zh-CN": "周六"},
    "wd_sun": {"en": "Sun", "zh-CN": "周日"},
    "wd_mon_long": {"en": "Monday", "zh-CN": "星期一"},
    "wd_tue_long": {"en": "Tuesday", "zh-CN": "星期二"},
    "wd_wed_long": {"en": "Wednesday", "zh-CN": "星期三"},
    "wd_thu_long": {"en": "Thursday", "zh-CN": "星期四"},
    "wd_fri_long": {"en": "Friday", "zh-CN": "星期五"},
    "wd_sat_long": {"en": "Saturday", "zh-CN": "星期六"},
    "wd_sun_long": {"en": "Sunday", "zh-CN": "星期日"},
}

SIGNUP: Catalog = {
    "su_title": {"en": "Sign up", "zh-CN": "注册"},
    "su_intro": {
        "en": "Create your merchant account: you will add your stores, routers and portal next.",
        "zh-CN": "创建商户账户，之后即可添加门店、路由器并设置认证页面。",
    },
    "su_new_merchant": {"en": "New merchant?", "zh-CN": "新商户？"},
    "su_have_account": {"en": "Already have an account?", "zh-CN": "已有账户？"},
    "su_merchant_name": {"en": "Business name", "zh-CN": "商户名称"},
    "su_password_hint": {
        "en": "At least {min} characters.",
        "zh-CN": "至少 {min} 个字符。",
    },
    "su_button": {"en": "Create account", "zh-CN": "创建账户"},
    "su_not_sent": {
        "en": "Nothing was sent: correct the fields marked below.",
        "zh-CN": "未提交：请修改下方标出的项目。",
    },
    "su_error_email": {
        "en": "Enter a valid email address, such as name@example.com.",
        "zh-CN": "请输入有效的邮箱地址，例如 name@example.com。",
    },
    "su_error_password": {
        "en": "Choose a password of {min} to {max} characters.",
        "zh-CN": "请设置 {min} 至 {max} 个字符的密码。",
    },
    "su_error_merchant_name": {
        "en": "Enter your business name (1 to {max} characters).",
        "zh-CN": "请输入商户名称（1 至 {max} 个字符）。",
    },
    "error_signup_throttled": {
        "en": "Too many sign-ups from this network. Please try again in an hour.",
        "zh-CN": "此网络的注册次数过多，请一小时后再试。",
    },
    "error_email_unavailable": {
        "en": "We could not send the email just now. Please try again in a few minutes.",
        "zh-CN": "暂时无法发送邮件，请几分钟后再试。",
    },
    "error_signup_link": {
        "en": "This sign-up link is not valid: it was used already or has expired. Sign up "
        "again, or sign in if you finished.",
        "zh-CN": "此注册链接无效：已被使用或已过期。请重新注册；如已完成注册，请直接登录。",
    },
    "error_signup_has_account": {
        "en": "This email address already has an account. Sign in instead.",
        "zh-CN": "该邮箱已有账户，请直接登录。",
    },
    "su_sent_title": {"en": "Check your email", "zh-CN": "请查收邮件"},
    "su_sent_body": {
        "en": "We sent a message to the address you gave. Open the link in it to finish "
        "signing up. The link works for 24 hours.",
        "zh-CN": "我们已向您填写的邮箱发送邮件。打开邮件中的链接即可完成注册，链接 24 小时内有效。",
    },
    "su_sent_outbox": {
        "en": "Development: no email is sent; the message is in the",
        "zh-CN": "开发环境：不会真正发送邮件，邮件在",
    },
    "su_verify_title": {"en": "Finish signing up", "zh-CN": "完成注册"},
    "su_verify_body": {
        "en": "Your email address is confirmed. Create your merchant account now.",
        "zh-CN": "邮箱已确认。现在创建您的商户账户。",
    },
    "su_verify_button": {"en": "Create my account", "zh-CN": "创建我的账户"},
    "su_mail_verify_subject": {
        "en": "Finish signing up to Portico",
        "zh-CN": "完成 Portico 注册",
    },
    "su_mail_verify_body": {
        "en": "Hello,\n\nTo finish signing up {merchant} to Portico, open this link within "
        "{hours} hours:\n\n{link}\n\nIf you did not sign up, ignore this message: no account "
        "is created without it.\n",
        "zh-CN": "您好：\n\n请在 {hours} 小时内打开以下链接，完成“{merchant}”的 Portico 注册：\n\n"
        "{link}\n\n如果您没有注册，请忽略此邮件：不打开链接不会创建任何账户。\n",
    },
    "su_mail_exists_subject": {
        "en": "Your Portico account",
        "zh-CN": "您的 Portico 账户",
    },
    "su_mail_exists_body": {
        "en": "Hello,\n\nSomeone asked to sign up to Portico with {email}, which already has "
        "an account. Sign in with it instead. If this was not you, you can ignore this "
        "message: nothing was changed.\n",
        "zh-CN": "您好：\n\n有人使用 {email} 申请注册 Portico，但该邮箱已有账户，请直接登录。"
        "如果这不是您本人的操作，请忽略此邮件，账户没有任何变化。\n",
    },
    "eo_title": {"en": "Email outbox", "zh-CN": "邮件发件箱"},
    "eo_intro": {
        "en": "Development only: the emails Portico would have sent, newest first, kept for "
        "24 hours. Nothing here left this machine.",
        "zh-CN": "仅用于开发：Portico 本应发送的邮件，最新的在前，保留 24 小时。"
        "这些邮件均未真正发出。",
    },
    "eo_col_time": {"en": "Time (UTC)", "zh-CN": "时间（UTC）"},
    "eo_col_to": {"en": "To", "zh-CN": "收件人"},
    "eo_col_message": {"en": "Message", "zh-CN": "邮件"},
    "eo_empty": {"en": "No emails yet.", "zh-CN": "暂无邮件。"},
}

CHECKLIST: Catalog = {
    "cl_title": {"en": "Get {merchant} ready", "zh-CN": "完成“{merchant}”的设置"},
    "cl_progress": {"en": "{done} of {total} done", "zh-CN": "已完成 {done}/{total}"},
    "cl_done": {"en": "Done", "zh-CN": "已完成"},
    "cl_todo": {"en": "To do", "zh-CN": "待完成"},
    "cl_store": {"en": "Add a store", "zh-CN": "添加门店"},
    "cl_store_hint": {
        "en": "Where it is, what it sells and when it opens.",
        "zh-CN": "门店位置、经营类别和营业时间。",
    },
    "cl_router": {"en": "Add a router", "zh-CN": "添加路由器"},
    "cl_router_hint": {
        "en": "Run one command on the store's router and watch it come online.",
        "zh-CN": "在门店路由器上运行一条命令，即可看到它上线。",
    },
    "cl_branding": {"en": "Brand your portal", "zh-CN": "设置认证页面品牌"},
    "cl_branding_hint": {
        "en": "Your logo, colours and a welcome text on the page shoppers see when they join "
        "your WiFi, with a preview as you type.",
        "zh-CN": "在顾客连接 WiFi 时看到的页面上设置标志、颜色和欢迎语，输入时即可预览。",
    },
    "cl_staff": {"en": "Add staff", "zh-CN": "添加员工"},
    "cl_staff_hint": {
        "en": "Staff redeem coupons at the till and see their stores (invitations are coming).",
        "zh-CN": "员工可在收银台核销优惠券并查看所属门店（邀请功能即将推出）。",
    },
}
