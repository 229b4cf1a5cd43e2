"""The console's Marketing pages' texts in zh-CN and English (marketing/console_pages.py)."""

from __future__ import annotations

from kernel.i18n import Catalog

CONSOLE: Catalog = {
    "mkc_nav": {"en": "Marketing", "zh-CN": "精准营销"},
    "mkc_title": {"en": "Marketing", "zh-CN": "精准营销"},
    "mkc_intro": {
        "en": "Tag your shoppers by what they do, send an offer the moment a visit matches, "
        "and keep every shopper within one contact budget.",
        "zh-CN": "按顾客的行为打标签，到店场景一旦符合即刻推送优惠，所有渠道共用一份触达预算。",
    },
    "mkc_no_merchant": {
        "en": "You belong to no merchant yet.",
        "zh-CN": "您还不属于任何商户。",
    },
    "mkc_read_only": {
        "en": "You can look at this merchant's marketing; only an owner can change it or send "
        "a test.",
        "zh-CN": "您可以查看该商户的营销设置；只有商户管理员可以修改或发送测试。",
    },
    "mkc_notice_tag_added": {"en": "The tag was added.", "zh-CN": "标签已添加。"},
    "mkc_notice_tag_saved": {"en": "The tag was saved.", "zh-CN": "标签已保存。"},
    "mkc_notice_trigger_added": {"en": "The trigger was added.", "zh-CN": "触发器已添加。"},
    "mkc_notice_trigger_saved": {"en": "The trigger was saved.", "zh-CN": "触发器已保存。"},
    "mkc_notice_budget_saved": {
        "en": "The contact budget was saved.",
        "zh-CN": "触达预算已保存。",
    },
    "mkc_notice_unchanged": {"en": "Nothing was changed.", "zh-CN": "没有任何改动。"},
    "mkc_not_saved": {
        "en": "Nothing was saved: see the fields marked below.",
        "zh-CN": "未保存：请查看下方标出的字段。",
    },
    "mkc_back": {"en": "Marketing", "zh-CN": "精准营销"},
    "mkc_save": {"en": "Save", "zh-CN": "保存"},
    "mkc_cancel": {"en": "Cancel", "zh-CN": "取消"},
    "mkc_off": {"en": "off", "zh-CN": "已停用"},
    # The overview
    "mkc_tags": {"en": "Tags", "zh-CN": "标签"},
    "mkc_tags_intro": {
        "en": "A tag is a rule over what a shopper did; it is updated at each of their visits.",
        "zh-CN": "标签是基于顾客行为的规则，每次到店时自动更新。",
    },
    "mkc_tags_empty": {"en": "No tags yet.", "zh-CN": "暂无标签。"},
    "mkc_tag_new": {"en": "New tag", "zh-CN": "新建标签"},
    "mkc_col_tag": {"en": "Tag", "zh-CN": "标签"},
    "mkc_col_rule": {"en": "Rule", "zh-CN": "规则"},
    "mkc_col_version": {"en": "Version", "zh-CN": "版本"},
    "mkc_col_holders": {"en": "Shoppers now", "zh-CN": "当前顾客数"},
    "mkc_holders": {"en": "{count}", "zh-CN": "{count} 人"},
    "mkc_triggers": {"en": "Triggers", "zh-CN": "场景触发"},
    "mkc_triggers_intro": {
        "en": "When a shopper's visit matches, the offer goes out at once, within the budget. "
        "Contacts are counted over the last 7 days.",
        "zh-CN": "顾客到店场景符合时立即推送优惠（受触达预算约束）。触达数为近 7 天的数据。",
    },
    "mkc_triggers_empty": {"en": "No triggers yet.", "zh-CN": "暂无触发器。"},
    "mkc_trigger_new": {"en": "New trigger", "zh-CN": "新建触发器"},
    "mkc_col_trigger": {"en": "Trigger", "zh-CN": "触发器"},
    "mkc_col_event": {"en": "When", "zh-CN": "触发时机"},
    "mkc_col_channel": {"en": "Channel", "zh-CN": "渠道"},
    "mkc_col_contacts": {"en": "Contacts, 7 days", "zh-CN": "近 7 天触达"},
    "mkc_no_contacts": {"en": "none", "zh-CN": "无"},
    "mkc_minutes": {"en": "{count} min", "zh-CN": "{count} 分钟"},
    "mkc_every_store": {"en": "Every store", "zh-CN": "所有门店"},
    "mkc_other_store": {"en": "A store you are not given", "zh-CN": "未分配给您的门店"},
    "mkc_status_sent": {"en": "sent", "zh-CN": "已发送"},
    "mkc_status_delivered": {"en": "delivered", "zh-CN": "已送达"},
    "mkc_status_pending": {"en": "to send", "zh-CN": "待发送"},
    "mkc_status_failed": {"en": "failed", "zh-CN": "发送失败"},
    "mkc_status_holdout": {"en": "held out", "zh-CN": "对照组"},
    "mkc_status_suppressed": {"en": "suppressed", "zh-CN": "已抑制"},
    "mkc_budget": {"en": "Contact budget", "zh-CN": "触达预算"},
    "mkc_budget_intro": {
        "en": "At most so many contacts per shopper over every channel, none in quiet hours "
        "(each store's local time).",
        "zh-CN": "每位顾客在所有渠道合计的触达上限，静默时段（按门店当地时间）不触达。",
    },
    "mkc_budget_edit": {"en": "Change", "zh-CN": "修改"},
    "mkc_budget_view": {"en": "Details", "zh-CN": "详情"},
    "mkc_quiet_none": {"en": "none", "zh-CN": "无"},
    # Events and channels
    "mkc_event_arrival": {"en": "Arrives", "zh-CN": "到店"},
    "mkc_event_dwell": {"en": "Stays", "zh-CN": "停留"},
    "mkc_event_login": {"en": "Logs in to the WiFi", "zh-CN": "登录 WiFi"},
    "mkc_event_redemption": {"en": "Redeems a coupon", "zh-CN": "核销优惠券"},
    "mkc_channel_portal": {"en": "Offer on the portal", "zh-CN": "门户页优惠"},
    "mkc_channel_sms": {"en": "SMS", "zh-CN": "短信"},
    "mkc_channel_webhook": {"en": "Webhook", "zh-CN": "Webhook 回调"},
    "mkc_channel_wechat": {"en": "WeChat message", "zh-CN": "微信模板消息"},
    # The forms
    "mkc_tag_edit": {"en": "Tag", "zh-CN": "标签"},
    "mkc_tag_id": {"en": "Tag id", "zh-CN": "标签 ID"},
    "mkc_tag_id_hint": {
        "en": "Lower-case letters, digits and _, starting with a letter; it cannot change later.",
        "zh-CN": "小写字母、数字和下划线，以字母开头；保存后不能修改。",
    },
    "mkc_name_zh": {"en": "Name in Chinese", "zh-CN": "中文名称"},
    "mkc_name_en": {"en": "Name in English", "zh-CN": "英文名称"},
    "mkc_tag_enabled": {"en": "In use (shoppers get it)", "zh-CN": "启用（顾客可获得此标签）"},
    "mkc_add_tag": {"en": "Add the tag", "zh-CN": "添加标签"},
    "mkc_tag_version_hint": {
        "en": "A changed rule is a new version; shoppers tagged since say which version tagged "
        "them.",
        "zh-CN": "修改规则即生成新版本；之后获得标签的顾客会记录对应版本。",
    },
    "mkc_rule": {"en": "Who: the rule", "zh-CN": "对象：规则"},
    "mkc_rule_now": {"en": "Saved rule:", "zh-CN": "已保存的规则："},
    "mkc_rule_help": {
        "en": "Each row compares one fact about the shopper. Leave a row's fact empty to "
        "ignore it.",
        "zh-CN": "每一行比较顾客的一项事实；事实留空的行会被忽略。",
    },
    "mkc_rule_unshaped": {
        "en": "This rule was made elsewhere and cannot be shown as rows. It stays as it is "
        "unless you tick the box below: then the rows replace it.",
        "zh-CN": "该规则由其他方式创建，无法以行的形式显示。除非勾选下方选项，否则保持不变；"
        "勾选后由下方各行替换。",
    },
    "mkc_rule_replace": {
        "en": "Replace the saved rule with the rows below",
        "zh-CN": "用下方各行替换已保存的规则",
    },
    "mkc_combine": {"en": "The shopper matches when", "zh-CN": "顾客符合条件的方式"},
    "mkc_combine_all": {"en": "all of the rows hold", "zh-CN": "满足以下全部条件"},
    "mkc_combine_any": {"en": "any of the rows holds", "zh-CN": "满足以下任一条件"},
    "mkc_row_fact": {"en": "Condition {n}: fact", "zh-CN": "条件 {n}：事实"},
    "mkc_row_op": {"en": "Condition {n}: comparison", "zh-CN": "条件 {n}：比较方式"},
    "mkc_row_value": {"en": "Condition {n}: number", "zh-CN": "条件 {n}：数值"},
    "mkc_fact_none": {"en": "— no condition —", "zh-CN": "— 无条件 —"},
    "mkc_facts_numbers": {"en": "Numbers", "zh-CN": "数值"},
    "mkc_facts_flags": {"en": "Yes or no", "zh-CN": "是或否"},
    "mkc_ops_numbers": {"en": "Compared with the number", "zh-CN": "与数值比较"},
    "mkc_ops_flags": {"en": "For a yes-or-no fact", "zh-CN": "用于是/否类事实"},
    "mkc_op_ge": {"en": "at least (≥)", "zh-CN": "至少 (≥)"},
    "mkc_op_gt": {"en": "more than (>)", "zh-CN": "多于 (>)"},
    "mkc_op_le": {"en": "at most (≤)", "zh-CN": "至多 (≤)"},
    "mkc_op_lt": {"en": "fewer than (<)", "zh-CN": "少于 (<)"},
    "mkc_op_eq": {"en": "exactly (=)", "zh-CN": "等于 (=)"},
    "mkc_op_ne": {"en": "not (≠)", "zh-CN": "不等于 (≠)"},
    "mkc_op_yes": {"en": "is yes", "zh-CN": "是"},
    "mkc_op_no": {"en": "is no", "zh-CN": "否"},
    "mkc_rows_hint": {
        "en": "A yes-or-no fact takes “is yes” or “is no” and no number.",
        "zh-CN": "是/否类事实请选择“是”或“否”，无需填写数值。",
    },
    "mkc_tags_required": {
        "en": "And the shopper holds these tags",
        "zh-CN": "并且顾客拥有以下标签",
    },
    "mkc_preview": {"en": "Preview the audience", "zh-CN": "预览受众"},
    "mkc_add_row": {"en": "Add a row", "zh-CN": "添加一行"},
    "mkc_audience_rule": {"en": "The rule:", "zh-CN": "规则："},
    "mkc_audience_count": {
        "en": "Shoppers matching now: {count}",
        "zh-CN": "当前符合的顾客：{count} 人",
    },
    "mkc_audience_note": {
        "en": "Counted over this merchant's shopper profiles, as of now and each shopper's "
        "latest visit. Nothing was saved.",
        "zh-CN": "按本商户的顾客画像统计，以当前时间和每位顾客最近一次到店为准。尚未保存。",
    },
    "mkc_trigger_edit": {"en": "Trigger", "zh-CN": "触发器"},
    "mkc_add_trigger": {"en": "Add the trigger", "zh-CN": "添加触发器"},
    "mkc_trigger_enabled": {"en": "On (sends offers)", "zh-CN": "启用（推送优惠）"},
    "mkc_trigger_version_hint": {
        "en": "Each save is a new version; every contact says which version made it. Changes "
        "reach the trigger engine within 5 seconds.",
        "zh-CN": "每次保存生成新版本，每条触达记录对应的版本。修改在 5 秒内生效。",
    },
    "mkc_when": {"en": "When", "zh-CN": "时机"},
    "mkc_event": {"en": "The shopper", "zh-CN": "顾客"},
    "mkc_dwell_minutes": {"en": "Minutes in the store", "zh-CN": "停留分钟数"},
    "mkc_dwell_hint": {
        "en": "For “Stays” only: 1 to 720 minutes, once per visit.",
        "zh-CN": "仅用于“停留”：1 至 720 分钟，每次到店触发一次。",
    },
    "mkc_store": {"en": "At", "zh-CN": "门店"},
    "mkc_what": {"en": "What", "zh-CN": "内容"},
    "mkc_channel": {"en": "Channel", "zh-CN": "渠道"},
    "mkc_channel_hint": {
        "en": "An SMS goes only to shoppers known by phone who agreed to marketing texts; "
        "a WeChat message only to shoppers who followed your Official Account through the code "
        "on their WiFi page.",
        "zh-CN": "短信只发送给已留手机号并同意接收营销短信的顾客；微信模板消息只发送给通过上网页面"
        "二维码关注了您公众号的顾客。",
    },
    "mkc_webhook": {"en": "Webhook", "zh-CN": "Webhook"},
    "mkc_webhook_none": {"en": "— choose one —", "zh-CN": "— 请选择 —"},
    "mkc_webhook_hint": {
        "en": "For the webhook channel: where the signed request goes.",
        "zh-CN": "用于 Webhook 渠道：签名请求的接收地址。",
    },
    "mkc_webhooks_empty": {
        "en": "This merchant has no webhook yet, so the webhook channel cannot be chosen.",
        "zh-CN": "该商户尚未配置 Webhook，因此无法选择 Webhook 渠道。",
    },
    "mkc_offer_key": {"en": "Offer key", "zh-CN": "优惠标识"},
    "mkc_offer_key_hint": {
        "en": "Names the offer: a shopper gets one offer once, on any channel, whichever "
        "trigger makes it. Letters, digits and . _ : -",
        "zh-CN": "用于识别优惠：同一优惠在任何渠道、无论由哪个触发器发出，每位顾客只会收到一次。"
        "可用字母、数字和 . _ : -",
    },
    "mkc_message_zh": {"en": "Message in Chinese", "zh-CN": "中文文案"},
    "mkc_message_en": {"en": "Message in English", "zh-CN": "英文文案"},
    "mkc_measure": {"en": "Measure", "zh-CN": "效果评估"},
    "mkc_holdout_percent": {"en": "Holdout, %", "zh-CN": "对照组比例 (%)"},
    "mkc_holdout_hint": {
        "en": "0 to 99: this share of matching shoppers gets nothing and is compared.",
        "zh-CN": "0 至 99：符合条件的顾客中这部分不推送，用作对照。",
    },
    "mkc_window_days": {"en": "Conversion window, days", "zh-CN": "转化窗口（天）"},
    "mkc_window_hint": {
        "en": "1 to 90: a redemption or return visit this long after counts.",
        "zh-CN": "1 至 90：在此期间内的核销或回访计为转化。",
    },
    # Send a test
    "mkc_test": {"en": "Send a test to yourself", "zh-CN": "发送测试给自己"},
    "mkc_test_help": {
        "en": "Tries the trigger as it is typed, saved or not. A test is never a contact: it "
        "spends no budget and is in no report.",
        "zh-CN": "按当前填写的内容测试（无论是否已保存）。测试不计为触达：不占用预算，"
        "也不计入报表。",
    },
    "mkc_test_phone": {"en": "Your mobile number (SMS)", "zh-CN": "您的手机号（短信）"},
    "mkc_test_phone_hint": {
        "en": "A test SMS goes to this merchant's SMS outbox, marked as a test, never to the "
        "phone itself.",
        "zh-CN": "测试短信会放入本商户的短信发件箱并标记为测试，不会真正发送到手机。",
    },
    "mkc_test_send": {"en": "Send a test", "zh-CN": "发送测试"},
    "mkc_test_sms_sent": {
        "en": "The test text is in the SMS outbox, to {phone}.",
        "zh-CN": "测试短信已放入短信发件箱，收件号码 {phone}。",
    },
    "mkc_test_outbox": {"en": "Open the SMS outbox", "zh-CN": "打开短信发件箱"},
    "mkc_test_webhook": {
        "en": "Not sent: the dispatcher sends a webhook for each contact, and a receiver "
        "could not tell a test from one. This is the request it would send for this trigger, "
        "for an example shopper, signed with the webhook's secret.",
        "zh-CN": "未发送：发送服务为每次触达发出 Webhook，接收方无法区分测试与真实触达。"
        "以下是该触发器将发送的请求（示例顾客），已用该 Webhook 的密钥签名。",
    },
    "mkc_test_webhook_secret": {
        "en": "The webhook's secret could not be opened: set the webhook up again.",
        "zh-CN": "无法读取该 Webhook 的密钥，请重新配置该 Webhook。",
    },
    "mkc_test_portal": {
        "en": "The offer as a shopper's phone shows it on the portal's page after the login.",
        "zh-CN": "顾客登录后，门户页面在手机上显示的优惠效果。",
    },
    "mkc_test_wechat": {
        "en": "Not sent: a WeChat message goes only to a follower, not to you. This is the "
        "message.",
        "zh-CN": "未发送：微信模板消息只发送给关注者，不会发给您。以下为消息内容。",
    },
    "mkc_phone_title_portal": {"en": "You're online", "zh-CN": "您已连接网络"},
    "mkc_phone_label_portal": {"en": "An offer for you", "zh-CN": "为您准备的优惠"},
    "mkc_phone_intro_portal": {
        "en": "You can close this page and browse freely.",
        "zh-CN": "您可以关闭此页面，畅快上网。",
    },
    "mkc_phone_title_wechat": {"en": "WeChat", "zh-CN": "微信"},
    "mkc_phone_label_wechat": {"en": "Template message", "zh-CN": "模板消息"},
    "mkc_phone_language": {"en": "English", "zh-CN": "中文"},
    # The contact budget's form
    "mkc_max_per_day": {"en": "Contacts per shopper per day", "zh-CN": "每位顾客每日触达上限"},
    "mkc_max_per_day_hint": {
        "en": "{low} to {high}, over every channel, per store-local day.",
        "zh-CN": "{low} 至 {high}，所有渠道合计，按门店当地日期计。",
    },
    "mkc_max_per_week": {
        "en": "Contacts per shopper per 7 days",
        "zh-CN": "每位顾客每 7 天触达上限",
    },
    "mkc_max_per_week_hint": {
        "en": "{low} to {high}, over every channel; not below the day's.",
        "zh-CN": "{low} 至 {high}，所有渠道合计；不得低于每日上限。",
    },
    "mkc_quiet_hours": {"en": "Quiet hours", "zh-CN": "静默时段"},
    "mkc_quiet_hint": {
        "en": "No contact from the first time until the second, in each store's local time "
        "(across midnight when the first is later). The same time twice: no quiet hours.",
        "zh-CN": "从开始时间到结束时间（按门店当地时间，开始晚于结束即跨夜）不触达。"
        "两个时间相同表示不设静默时段。",
    },
    "mkc_quiet_from": {"en": "From", "zh-CN": "开始"},
    "mkc_quiet_until": {"en": "Until", "zh-CN": "结束"},
    "mkc_k_legend": {"en": "What advertisers see", "zh-CN": "广告主可见范围"},
    "mkc_k_threshold": {"en": "Smallest audience shown (k)", "zh-CN": "最小可见人数 (k)"},
    "mkc_k_threshold_hint": {
        "en": "{low} to {high}: advertisers see only segments and counts of at least this "
        "many shoppers, never a profile.",
        "zh-CN": "{low} 至 {high}：广告主只能看到不少于此人数的细分和计数，永远看不到个人画像。",
    },
    # Errors
    "mkc_err_fact": {"en": "Choose a fact.", "zh-CN": "请选择事实。"},
    "mkc_err_flag_op": {
        "en": "A yes-or-no fact takes “is yes” or “is no”.",
        "zh-CN": "是/否类事实请选择“是”或“否”。",
    },
    "mkc_err_number_op": {
        "en": "This fact is a number: compare it with one (≥, >, ≤, <, =, ≠).",
        "zh-CN": "该事实是数值，请选择数值比较方式（≥、>、≤、<、=、≠）。",
    },
    "mkc_err_value": {
        "en": "Enter a whole number from 0 to {high}.",
        "zh-CN": "请输入 0 至 {high} 之间的整数。",
    },
    "mkc_err_tag_unknown": {
        "en": "This merchant has no tag {tags}.",
        "zh-CN": "该商户没有标签 {tags}。",
    },
    "mkc_err_tag_self": {
        "en": "A tag cannot require itself.",
        "zh-CN": "标签不能要求自身。",
    },
    "mkc_err_tag_circle": {
        "en": "These tags read this one, so they cannot be required here (a circle): {tags}.",
        "zh-CN": "以下标签引用了本标签，不能在此作为条件（会形成循环）：{tags}。",
    },
    "mkc_err_too_many": {
        "en": "At most {count} conditions and tags together.",
        "zh-CN": "条件和标签合计最多 {count} 个。",
    },
    "mkc_err_tag_id": {
        "en": "Lower-case letters, digits and _, starting with a letter, at most 40.",
        "zh-CN": "请使用小写字母、数字和下划线，以字母开头，最多 40 个字符。",
    },
    "mkc_err_tag_reserved": {
        "en": "“{id}” is kept for the console's own pages: choose another id.",
        "zh-CN": "“{id}”为控制台保留用词，请换一个标识。",
    },
    "mkc_err_tag_exists": {
        "en": "This merchant has a tag with this id already.",
        "zh-CN": "该商户已有相同 ID 的标签。",
    },
    "mkc_err_name": {
        "en": "Enter a name of 1 to {high} characters.",
        "zh-CN": "请输入 1 至 {high} 个字符的名称。",
    },
    "mkc_err_name_zh": {
        "en": "Enter a name of 1 to 60 characters.",
        "zh-CN": "请输入 1 至 60 个字符的名称。",
    },
    "mkc_err_name_en": {
        "en": "Enter a name of 1 to 60 characters.",
        "zh-CN": "请输入 1 至 60 个字符的名称。",
    },
    "mkc_err_event": {"en": "Choose when the trigger fires.", "zh-CN": "请选择触发时机。"},
    "mkc_err_dwell_minutes": {
        "en": "For “Stays”, enter 1 to 720 minutes.",
        "zh-CN": "“停留”需填写 1 至 720 分钟。",
    },
    "mkc_err_store": {
        "en": "Choose one of this merchant's stores.",
        "zh-CN": "请选择本商户的门店。",
    },
    "mkc_err_channel": {"en": "Choose a channel.", "zh-CN": "请选择渠道。"},
    "mkc_err_webhook_id": {
        "en": "The webhook channel needs one of this merchant's webhooks.",
        "zh-CN": "Webhook 渠道需要选择本商户的一个 Webhook。",
    },
    "mkc_err_offer_key": {
        "en": "Letters, digits and . _ : - only, 1 to 80.",
        "zh-CN": "只能使用字母、数字和 . _ : -，1 至 80 个字符。",
    },
    "mkc_err_message_zh": {"en": "At most 300 characters.", "zh-CN": "最多 300 个字符。"},
    "mkc_err_message_en": {"en": "At most 300 characters.", "zh-CN": "最多 300 个字符。"},
    "mkc_err_holdout_share": {
        "en": "Enter a whole percentage from 0 to 99.",
        "zh-CN": "请输入 0 至 99 之间的整数百分比。",
    },
    "mkc_err_window_days": {
        "en": "Enter a whole number of days from 1 to 90.",
        "zh-CN": "请输入 1 至 90 之间的整数天数。",
    },
    "mkc_err_trigger": {
        "en": "This trigger no longer exists.",
        "zh-CN": "该触发器已不存在。",
    },
    "mkc_err_test_no_message": {
        "en": "Write the message first: a test sends it.",
        "zh-CN": "请先填写文案，测试会发送该文案。",
    },
    "mkc_err_test_phone": {
        "en": "Enter a mobile number, e.g. 138 0013 8000 or +44 7911 123456.",
        "zh-CN": "请输入手机号，如 138 0013 8000 或 +44 7911 123456。",
    },
    "mkc_err_range": {
        "en": "Enter a whole number from {low} to {high}.",
        "zh-CN": "请输入 {low} 至 {high} 之间的整数。",
    },
    "mkc_err_week_below_day": {
        "en": "At least the day's maximum ({day}).",
        "zh-CN": "不得低于每日上限（{day}）。",
    },
    "mkc_err_time": {"en": "Enter a time as HH:MM.", "zh-CN": "请按 HH:MM 格式输入时间。"},
    # The audit log's names (accounts/audit_page.py)
    "au_action_marketing_tag_create": {"en": "Tag added", "zh-CN": "添加标签"},
    "au_action_marketing_tag_update": {"en": "Tag changed", "zh-CN": "修改标签"},
    "au_action_marketing_trigger_create": {"en": "Trigger added", "zh-CN": "添加触发器"},
    "au_action_marketing_trigger_update": {"en": "Trigger changed", "zh-CN": "修改触发器"},
    "au_action_marketing_trigger_test_send": {
        "en": "Test SMS of a trigger",
        "zh-CN": "触发器测试短信",
    },
    "au_action_marketing_budget_update": {
        "en": "Contact budget changed",
        "zh-CN": "修改触达预算",
    },
    # `portico wechat set|show --new-token` (portico/wechat_accounts.py)
    "au_action_marketing_wechat_account": {
        "en": "WeChat Official Account set",
        "zh-CN": "设置微信公众号",
    },
    "au_action_marketing_wechat_push_token": {
        "en": "WeChat push token replaced",
        "zh-CN": "更换微信消息推送令牌",
    },
    "au_field_app_id": {"en": "AppID", "zh-CN": "AppID"},
    "au_field_template_id": {"en": "template", "zh-CN": "模板"},
    "au_field_message_key": {"en": "template field", "zh-CN": "模板字段"},
    "au_field_mkc_name_zh": {"en": "name (Chinese)", "zh-CN": "名称（中文）"},
    "au_field_mkc_name_en": {"en": "name (English)", "zh-CN": "名称（英文）"},
    "au_field_mkc_enabled": {"en": "on", "zh-CN": "启用"},
    "au_field_mkc_rule": {"en": "rule", "zh-CN": "规则"},
    "au_field_mkc_version": {"en": "version", "zh-CN": "版本"},
    "au_field_mkc_event": {"en": "event", "zh-CN": "触发时机"},
    "au_field_mkc_dwell_minutes": {"en": "minutes in the store", "zh-CN": "停留分钟数"},
    "au_field_mkc_store": {"en": "store", "zh-CN": "门店"},
    "au_field_mkc_channel": {"en": "channel", "zh-CN": "渠道"},
    "au_field_mkc_webhook": {"en": "webhook", "zh-CN": "Webhook"},
    "au_field_mkc_offer_key": {"en": "offer key", "zh-CN": "优惠标识"},
    "au_field_mkc_message_zh": {"en": "message (Chinese)", "zh-CN": "文案（中文）"},
    "au_field_mkc_message_en": {"en": "message (English)", "zh-CN": "文案（英文）"},
    "au_field_mkc_holdout_percent": {"en": "holdout %", "zh-CN": "对照组比例 %"},
    "au_field_mkc_window_days": {"en": "conversion window (days)", "zh-CN": "转化窗口（天）"},
    "au_field_mkc_to": {"en": "to", "zh-CN": "收件号码"},
    "au_field_mkc_message": {"en": "text", "zh-CN": "内容"},
    "au_field_mkc_max_per_day": {"en": "contacts per day", "zh-CN": "每日触达上限"},
    "au_field_mkc_max_per_week": {"en": "contacts per 7 days", "zh-CN": "每 7 天触达上限"},
    "au_field_mkc_quiet_from": {"en": "quiet from", "zh-CN": "静默开始"},
    "au_field_mkc_quiet_until": {"en": "quiet until", "zh-CN": "静默结束"},
    "au_field_mkc_k_threshold": {"en": "smallest audience shown (k)", "zh-CN": "最小可见人数 (k)"},
}
