"""The texts of the vouchers part of logins (issue 8), in zh-CN and English: the shopper pages'
(MESSAGES, merged into portal.messages.CATALOG) and the console's Vouchers pages (CONSOLE,
used by portal/console_vouchers.py beside the console's own catalog)."""

MESSAGES: dict[str, dict[str, str]] = {
    "voucher_heading": {"en": "Have a voucher?", "zh-CN": "有上网券？"},
    "voucher_code_label": {"en": "Voucher code", "zh-CN": "上网券码"},
    "voucher_code_hint": {
        "en": "Letters and digits, as printed. Upper or lower case both work.",
        "zh-CN": "按券上印的字母和数字输入，大小写均可。",
    },
    "voucher_connect": {"en": "Connect with voucher", "zh-CN": "使用上网券连接"},
    "error_voucher_missing": {
        "en": "Enter the code printed on your voucher.",
        "zh-CN": "请输入上网券上印的券码。",
    },
    "error_voucher_malformed": {
        "en": "That is not a voucher code. It looks like ABCDE-23456: check it and try again.",
        "zh-CN": "这不是有效的上网券码（格式如 ABCDE-23456），请检查后重试。",
    },
    "error_voucher_unknown": {
        "en": "We do not know this voucher code. Check it and try again.",
        "zh-CN": "未找到该上网券码，请检查后重试。",
    },
    "error_voucher_revoked": {
        "en": "This voucher has been withdrawn. Please ask the staff for a new one.",
        "zh-CN": "该上网券已被作废，请向店员索取新券。",
    },
    "error_voucher_expired": {
        "en": "This voucher is past its valid-until date. Please ask the staff for a new one.",
        "zh-CN": "该上网券已过有效期，请向店员索取新券。",
    },
    "error_voucher_time_used": {
        "en": "This voucher's time has run out. Please ask the staff for a new one.",
        "zh-CN": "该上网券的上网时长已用完，请向店员索取新券。",
    },
    "error_voucher_full": {
        "en": "This voucher is already in use on as many devices as it allows.",
        "zh-CN": "该上网券的可用设备数已满。",
    },
    "error_voucher_data_used": {
        "en": "This voucher's data has been used up. Please ask the staff for a new one.",
        "zh-CN": "该上网券的流量已用完，请向店员索取新券。",
    },
    "error_voucher_other_store": {
        "en": "This voucher is not valid at this store.",
        "zh-CN": "该上网券不适用于本门店。",
    },
    "error_voucher_rate": {
        "en": "Too many wrong codes. Please wait 10 minutes, then try again.",
        "zh-CN": "输错次数过多，请 10 分钟后再试。",
    },
}

CONSOLE: dict[str, dict[str, str]] = {
    "nav_vouchers": {"en": "Vouchers", "zh-CN": "上网券"},
    "vch_title": {"en": "WiFi vouchers", "zh-CN": "WiFi 上网券"},
    "vch_intro": {
        "en": (
            "Print vouchers for guests: each code lets a few devices online for a set time, "
            "counted from its first use. Switch the voucher login on in a store's portal "
            "settings for shoppers to see the code field."
        ),
        "zh-CN": (
            "为顾客打印上网券：每个券码可让若干台设备上网一段时间，时长从首次使用时开始计算。"
            "需在门店的门户设置中开启“上网券登录”，顾客才会看到输入框。"
        ),
    },
    "vch_merchant": {"en": "Merchant", "zh-CN": "商户"},
    "vch_show": {"en": "Show", "zh-CN": "显示"},
    "vch_new_batch": {"en": "New batch", "zh-CN": "新建一批"},
    "vch_batches": {"en": "Batches", "zh-CN": "批次"},
    "vch_no_batches": {"en": "No vouchers yet.", "zh-CN": "还没有上网券。"},
    "vch_staff_view": {
        "en": "You can view and print vouchers; only an owner can create or revoke them.",
        "zh-CN": "您可以查看和打印上网券；只有所有者可以新建或作废。",
    },
    "vch_name": {"en": "Name", "zh-CN": "名称"},
    "vch_name_hint": {
        "en": "For you, e.g. “Room cards, May”",
        "zh-CN": "仅您可见，例如“五月客房卡”",
    },
    "vch_store": {"en": "Store", "zh-CN": "门店"},
    "vch_all_stores": {"en": "All stores", "zh-CN": "所有门店"},
    "vch_minutes": {"en": "Time from first use (minutes)", "zh-CN": "首次使用起的时长（分钟）"},
    "vch_quota_mb": {"en": "Data limit (MB, 0: none)", "zh-CN": "流量上限（MB，0 为不限）"},
    "vch_max_devices": {"en": "Devices per voucher", "zh-CN": "每张券的设备数"},
    "vch_valid_until": {"en": "Valid until (optional)", "zh-CN": "有效期至（可选）"},
    "vch_valid_until_hint": {
        "en": "The last day a new device may start using a voucher (store time).",
        "zh-CN": "新设备可开始使用该券的最后一天（门店时间）。",
    },
    "vch_count": {"en": "How many vouchers", "zh-CN": "数量"},
    "vch_create": {"en": "Create vouchers", "zh-CN": "生成上网券"},
    "vch_created": {
        "en": "{count} vouchers created. Print them from this page.",
        "zh-CN": "已生成 {count} 张上网券，可在本页打印。",
    },
    "vch_duration": {"en": "Time", "zh-CN": "时长"},
    "vch_data": {"en": "Data", "zh-CN": "流量"},
    "vch_devices": {"en": "Devices", "zh-CN": "设备数"},
    "vch_valid": {"en": "Valid until", "zh-CN": "有效期至"},
    "vch_no_end": {"en": "no end", "zh-CN": "长期有效"},
    "vch_unlimited": {"en": "no limit", "zh-CN": "不限"},
    "vch_mb": {"en": "{mb} MB", "zh-CN": "{mb} MB"},
    "vch_gb": {"en": "{gb} GB", "zh-CN": "{gb} GB"},
    "vch_one_day": {"en": "1 day", "zh-CN": "1 天"},
    "vch_days": {"en": "{d} days", "zh-CN": "{d} 天"},
    "vch_hours": {"en": "{h} h", "zh-CN": "{h} 小时"},
    "vch_hours_minutes": {"en": "{h} h {m} min", "zh-CN": "{h} 小时 {m} 分钟"},
    "vch_min": {"en": "{m} min", "zh-CN": "{m} 分钟"},
    "vch_up_to_devices": {"en": "up to {n} devices", "zh-CN": "最多 {n} 台设备"},
    "vch_one_device": {"en": "1 device", "zh-CN": "1 台设备"},
    "vch_created_at": {"en": "Created", "zh-CN": "创建于"},
    "vch_total": {"en": "Codes", "zh-CN": "券数"},
    "vch_used": {"en": "Used", "zh-CN": "已使用"},
    "vch_unused": {"en": "Unused", "zh-CN": "未使用"},
    "vch_revoked": {"en": "Revoked", "zh-CN": "已作废"},
    "vch_open": {"en": "Open", "zh-CN": "查看"},
    "vch_print": {"en": "Printable sheet", "zh-CN": "打印页"},
    "vch_pdf": {"en": "PDF", "zh-CN": "PDF"},
    "vch_back": {"en": "All batches", "zh-CN": "全部批次"},
    "vch_code": {"en": "Code", "zh-CN": "券码"},
    "vch_state": {"en": "State", "zh-CN": "状态"},
    "vch_first_used": {"en": "First used", "zh-CN": "首次使用"},
    "vch_state_unused": {"en": "unused", "zh-CN": "未使用"},
    "vch_state_used": {"en": "used", "zh-CN": "已使用"},
    "vch_state_revoked": {"en": "revoked", "zh-CN": "已作废"},
    "vch_revoke": {"en": "Revoke", "zh-CN": "作废"},
    "vch_revoke_batch": {
        "en": "Revoke every code of this batch",
        "zh-CN": "作废本批全部券码",
    },
    "vch_revoke_hint": {
        "en": (
            "A revoked code lets no device in again; sessions already running go on to their end."
        ),
        "zh-CN": "作废后任何设备都不能再用该券上网；正在进行的上网不受影响，到时结束。",
    },
    "vch_revoked_batch": {
        "en": "{count} codes revoked.",
        "zh-CN": "已作废 {count} 个券码。",
    },
    "vch_revoked_code": {"en": "Code {code} revoked.", "zh-CN": "券码 {code} 已作废。"},
    "vch_revoke_none": {
        "en": "That code is not a live code of this batch.",
        "zh-CN": "该券码不是本批次的有效券码。",
    },
    "vch_fix_errors": {
        "en": "Nothing was created: please correct the fields marked below.",
        "zh-CN": "未生成：请修改下方标出的字段。",
    },
    "vch_error_required": {"en": "Required.", "zh-CN": "必填。"},
    "vch_error_too_long": {"en": "At most {max} characters.", "zh-CN": "最多 {max} 个字符。"},
    "vch_error_whole_number": {"en": "A whole number, please.", "zh-CN": "请输入整数。"},
    "vch_error_range": {
        "en": "Between {low} and {high}.",
        "zh-CN": "须在 {low} 到 {high} 之间。",
    },
    "vch_error_date": {"en": "A date, please (YYYY-MM-DD).", "zh-CN": "请输入日期（年-月-日）。"},
    "vch_error_past": {"en": "This day is already over.", "zh-CN": "该日期已过。"},
    "vch_error_store": {"en": "Choose one of your stores.", "zh-CN": "请选择您的门店。"},
    "vch_error_batch": {
        "en": "This batch of vouchers is not valid.",
        "zh-CN": "该批上网券的设置无效。",
    },
    "vch_error_owner_only": {
        "en": "Only an owner of this merchant can create or revoke vouchers.",
        "zh-CN": "只有该商户的所有者可以新建或作废上网券。",
    },
    "vch_error_no_merchant": {
        "en": "Your account does not belong to a merchant yet.",
        "zh-CN": "您的账户尚未加入任何商户。",
    },
    # The printed sheet
    "vch_sheet_title": {"en": "WiFi vouchers", "zh-CN": "WiFi 上网券"},
    "vch_sheet_card": {"en": "Free WiFi voucher", "zh-CN": "WiFi 上网券"},
    "vch_sheet_how": {
        "en": "Join the WiFi, open any web page, enter this code.",
        "zh-CN": "连接 WiFi，打开任意网页，输入此券码。",
    },
    "vch_sheet_print_hint": {
        "en": "Print this page on A4 (your browser's Print), then cut along the dashed lines.",
        "zh-CN": "用浏览器的“打印”在 A4 纸上打印本页，再沿虚线剪开。",
    },
    "vch_sheet_empty": {
        "en": "This batch has no live codes to print.",
        "zh-CN": "本批次没有可打印的有效券码。",
    },
    "vch_sheet_from_first_use": {"en": "from first use", "zh-CN": "自首次使用起"},
    # The audit log's names (accounts/audit_page.py: au_action_<record>_<verb>, au_field_<name>)
    "au_action_voucher_batch_create": {"en": "Voucher batch made", "zh-CN": "生成上网券批次"},
    "au_action_voucher_batch_revoke": {"en": "Vouchers revoked", "zh-CN": "作废上网券"},
    "au_field_minutes": {"en": "Minutes", "zh-CN": "时长（分钟）"},
    "au_field_quota_kb": {"en": "Data limit (KB)", "zh-CN": "流量上限（KB）"},
    "au_field_max_devices": {"en": "Devices per code", "zh-CN": "每码设备数"},
    "au_field_valid_until": {"en": "Valid until", "zh-CN": "有效期至"},
    "au_field_codes_revoked": {"en": "Codes revoked", "zh-CN": "作废券码数"},
}
