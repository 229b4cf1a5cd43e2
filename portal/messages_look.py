"""Texts of the console's Portal settings page (portal/console_look.py) and the audit log's
names for its changes (merged into the console's catalog by portico/console_app.py)."""

from __future__ import annotations

CONSOLE: dict[str, dict[str, str]] = {
    "lk_nav": {"en": "Portal", "zh-CN": "门户外观"},
    "lk_title": {"en": "Portal settings", "zh-CN": "门户设置"},
    "lk_intro": {
        "en": (
            "What shoppers see when they join a store's WiFi: its name, colours, pictures and "
            "welcome text, and where they go once online. The previews show the page as a "
            "phone shows it; saved changes reach the stores' WiFi within seconds."
        ),
        "zh-CN": (
            "顾客连接门店 WiFi 时看到的页面：名称、颜色、图片和欢迎语，以及上网后跳转到哪里。"
            "右侧预览即手机上看到的样子；保存后几秒内门店 WiFi 即生效。"
        ),
    },
    "lk_add_store": {"en": "Add a store", "zh-CN": "添加门店"},
    "lk_look_title": {"en": "Look and text", "zh-CN": "外观与文字"},
    "lk_brand_name": {"en": "Name shown at the top", "zh-CN": "页面顶部显示的名称"},
    "lk_colors": {"en": "Colours", "zh-CN": "颜色"},
    "lk_brand_color": {"en": "Brand (header, buttons)", "zh-CN": "品牌色（顶部、按钮）"},
    "lk_page_color": {"en": "Page background", "zh-CN": "页面背景"},
    "lk_text_color": {"en": "Text", "zh-CN": "文字"},
    "lk_colors_hint": {
        "en": (
            "As #rrggbb. White text on the brand colour, and the text on the page background, "
            "must have a contrast of at least {needed}:1 so that everyone can read them."
        ),
        "zh-CN": "格式 #rrggbb。品牌色上的白色文字、页面背景上的文字，对比度须至少 {needed}:1，"
        "确保人人都能看清。",
    },
    "lk_welcome_zh": {"en": "Welcome text (Chinese)", "zh-CN": "欢迎语（中文）"},
    "lk_welcome_en": {"en": "Welcome text (English)", "zh-CN": "欢迎语（英文）"},
    "lk_welcome_hint": {
        "en": "Up to 300 characters each. Empty: the platform's greeting.",
        "zh-CN": "每种语言最多 300 字。留空则显示平台默认问候语。",
    },
    "lk_landing_url": {"en": "Page after login", "zh-CN": "登录后跳转页面"},
    "lk_landing_hint": {
        "en": "An http:// or https:// address. Empty: the page the shopper first asked for.",
        "zh-CN": "以 http:// 或 https:// 开头的网址。留空则打开顾客最初要访问的页面。",
    },
    "lk_save": {"en": "Save", "zh-CN": "保存"},
    "lk_pictures_title": {"en": "Pictures", "zh-CN": "图片"},
    "lk_pictures_hint": {
        "en": (
            "JPEG, PNG or WebP. Each picture is checked by its content and saved anew from its "
            "pixels; anything else in the file is dropped."
        ),
        "zh-CN": "JPEG、PNG 或 WebP。每张图片按内容检查，并按像素重新保存，"
        "文件中的其他内容一律去除。",
    },
    "lk_logo": {"en": "Logo", "zh-CN": "标志"},
    "lk_background": {"en": "Header background", "zh-CN": "顶部背景图"},
    "lk_logo_hint": {
        "en": "At most {mb} MB and {mp} million pixels; shown up to {side} px.",
        "zh-CN": "最大 {mb} MB、{mp} 百万像素；最多以 {side} 像素显示。",
    },
    "lk_background_hint": {
        "en": "At most {mb} MB and {mp} million pixels; shown up to {side} px, darkened so the "
        "name stays readable.",
        "zh-CN": "最大 {mb} MB、{mp} 百万像素；最多以 {side} 像素显示，并加暗以保证名称清晰。",
    },
    "lk_none": {"en": "none", "zh-CN": "无"},
    "lk_upload": {"en": "Upload", "zh-CN": "上传"},
    "lk_remove": {"en": "Remove", "zh-CN": "移除"},
    "lk_more_title": {"en": "More portal settings", "zh-CN": "更多门户设置"},
    "lk_link_methods": {"en": "Login methods", "zh-CN": "登录方式"},
    "lk_link_terms": {
        "en": "Terms (version {version}): publish a new version",
        "zh-CN": "使用条款（版本 {version}）：发布新版本",
    },
    "lk_link_session": {
        "en": "Session policy: length, speed, data",
        "zh-CN": "上网策略：时长、网速、流量",
    },
    "lk_link_approvals": {
        "en": "Ads in this venue: the approval queue",
        "zh-CN": "本店广告：待审核队列",
    },
    "lk_link_blocks": {
        "en": "Advertisers and categories blocked",
        "zh-CN": "已屏蔽的广告主和类别",
    },
    "lk_preview_title": {"en": "Preview", "zh-CN": "预览"},
    "lk_preview_hint": {
        "en": "Follows the form as you type; the saved look after Save.",
        "zh-CN": "随输入实时更新；保存后显示已保存的外观。",
    },
    "lk_preview_frame": {"en": "The WiFi page in {language}", "zh-CN": "WiFi 页面（{language}）"},
    "lk_saved_look": {
        "en": "Saved. Shoppers see it within seconds.",
        "zh-CN": "已保存，几秒内顾客即可看到。",
    },
    "lk_saved_logo": {"en": "Logo saved.", "zh-CN": "标志已保存。"},
    "lk_saved_background": {"en": "Header background saved.", "zh-CN": "顶部背景图已保存。"},
    "lk_saved_nothing": {"en": "Nothing changed.", "zh-CN": "没有更改。"},
    "lk_not_saved": {
        "en": "Not saved: put right what is marked below.",
        "zh-CN": "未保存：请修改下方标出的内容。",
    },
    "lk_error_owner_only": {
        "en": "Only an owner of this merchant can change its portal settings.",
        "zh-CN": "只有该商户的所有者可以修改门户设置。",
    },
    "lk_error_brand": {
        "en": "Give a name of 1 to {high} characters, on one line.",
        "zh-CN": "请填写 1 到 {high} 个字符的名称，不换行。",
    },
    "lk_error_color": {
        "en": "Give a colour as # and six hexadecimal digits, such as #0a7d5a.",
        "zh-CN": "请以 # 加六位十六进制数填写颜色，如 #0a7d5a。",
    },
    "lk_error_brand_contrast": {
        "en": (
            "White text on this colour has a contrast of {ratio}:1; at least {needed}:1 is "
            "needed to be readable. Choose a darker colour."
        ),
        "zh-CN": "白色文字在此颜色上的对比度为 {ratio}:1，至少需要 {needed}:1 才能看清。"
        "请选更深的颜色。",
    },
    "lk_error_contrast": {
        "en": (
            "This text on this background has a contrast of {ratio}:1; at least {needed}:1 is "
            "needed to be readable. Make one darker or the other lighter."
        ),
        "zh-CN": "此文字颜色在此背景上的对比度为 {ratio}:1，至少需要 {needed}:1 才能看清。"
        "请把其中一个调深或另一个调浅。",
    },
    "lk_error_welcome": {
        "en": "At most {high} characters, without control characters.",
        "zh-CN": "最多 {high} 个字符，不含控制字符。",
    },
    "lk_error_url": {
        "en": "Give a web address starting with http:// or https://, without spaces.",
        "zh-CN": "请填写以 http:// 或 https:// 开头、不含空格的网址。",
    },
    "lk_error_empty": {
        "en": "No file was chosen, or it is empty: choose a picture and upload it.",
        "zh-CN": "未选择文件或文件为空：请选择图片后上传。",
    },
    "lk_error_type": {
        "en": (
            "This is a {kind} file, which is not accepted: upload a JPEG, PNG or WebP picture. "
            "Files are checked by their content, not their name."
        ),
        "zh-CN": "这是 {kind} 文件，不被接受：请上传 JPEG、PNG 或 WebP 图片。"
        "系统按文件内容检查，而非文件名。",
    },
    "lk_error_type_unknown": {
        "en": (
            "This file is not a JPEG, PNG or WebP picture (its content was checked, not its "
            "name). Save it in one of these formats and upload it again."
        ),
        "zh-CN": "该文件不是 JPEG、PNG 或 WebP 图片（按内容检查，而非文件名）。"
        "请另存为上述格式后重新上传。",
    },
    "lk_error_too_large": {
        "en": "The picture is {size} MB; at most {limit} MB is accepted. Make it smaller.",
        "zh-CN": "图片大小为 {size} MB，最大 {limit} MB，请缩小后重新上传。",
    },
    "lk_error_pixels": {
        "en": (
            "The picture has too many pixels: at most {limit} million are accepted. Make it "
            "smaller and upload it again."
        ),
        "zh-CN": "图片像素过多：最多 {limit} 百万像素。请缩小后重新上传。",
    },
    "lk_error_animated": {
        "en": "Animated pictures are not accepted: upload a still one.",
        "zh-CN": "不接受动图：请上传静态图片。",
    },
    "lk_error_broken": {
        "en": (
            "The picture could not be read to its end: it is damaged or cut short. Save it "
            "again and upload the new file."
        ),
        "zh-CN": "图片无法完整读取：文件已损坏或不完整。请重新保存后上传。",
    },
    "lk_error_hidden": {
        "en": (
            "This picture has another file hidden in it ({kind}), which is not accepted. "
            "Open it in an image editor, save it as a new JPEG or PNG and upload that."
        ),
        "zh-CN": "此图片中藏有其他文件（{kind}），不被接受。"
        "请用图片编辑器打开，另存为新的 JPEG 或 PNG 后上传。",
    },
    # The audit log's names (accounts/audit_page.py: au_action_<record>_<verb>, au_field_<name>)
    "au_action_portal_update": {"en": "Portal changed", "zh-CN": "修改门户"},
    "au_field_brand_name": {"en": "name shown", "zh-CN": "显示名称"},
    "au_field_brand_color": {"en": "brand colour", "zh-CN": "品牌色"},
    "au_field_page_color": {"en": "page background", "zh-CN": "页面背景"},
    "au_field_text_color": {"en": "text colour", "zh-CN": "文字颜色"},
    "au_field_welcome_en": {"en": "welcome (English)", "zh-CN": "欢迎语（英文）"},
    "au_field_welcome_zh": {"en": "welcome (Chinese)", "zh-CN": "欢迎语（中文）"},
    "au_field_landing_url": {"en": "page after login", "zh-CN": "登录后跳转页面"},
    "au_field_logo": {"en": "logo", "zh-CN": "标志"},
    "au_action_logins_update": {"en": "Login methods changed", "zh-CN": "修改登录方式"},
    "au_field_login_methods": {"en": "login methods", "zh-CN": "登录方式"},
    "au_field_returning_days": {"en": "returning shoppers (days)", "zh-CN": "回头客免登录（天）"},
    "au_action_session_policy_update": {"en": "Session policy changed", "zh-CN": "修改上网策略"},
    "au_field_session_minutes": {"en": "session length (minutes)", "zh-CN": "上网时长（分钟）"},
    "au_field_idle_minutes": {"en": "idle timeout (minutes)", "zh-CN": "闲置断开（分钟）"},
    "au_field_up_kbps": {"en": "upload (kbit/s)", "zh-CN": "上行速率（kbit/s）"},
    "au_field_down_kbps": {"en": "download (kbit/s)", "zh-CN": "下行速率（kbit/s）"},
    "au_field_up_quota_kb": {"en": "upload quota (kB)", "zh-CN": "上行流量（kB）"},
    "au_field_down_quota_kb": {"en": "download quota (kB)", "zh-CN": "下行流量（kB）"},
    "au_field_extend_minutes": {"en": "extension (minutes)", "zh-CN": "每次延长（分钟）"},
    "au_field_max_extensions": {"en": "extensions allowed", "zh-CN": "可延长次数"},
    "au_action_terms_publish": {"en": "Terms published", "zh-CN": "发布使用条款"},
    "au_field_terms_version": {"en": "terms version", "zh-CN": "条款版本"},
    "au_field_background": {"en": "header background", "zh-CN": "顶部背景图"},
}
