"""The console's till page (ads/redemption_page.py) and POS API keys page
(ads/pos_keys_page.py) in zh-CN and English, merged into the console's catalog by
portico/console_app.py; and the POS API's error messages (ads/pos_api.py, POS_API)."""

CONSOLE: dict[str, dict[str, str]] = {
    "nav_till": {"en": "Till", "zh-CN": "核销"},
    "red_title": {"en": "Redeem a coupon", "zh-CN": "核销优惠券"},
    "red_intro": {
        "en": (
            "Type the code the shopper shows (dashes and case do not matter), check it, then "
            "redeem it. A redemption can be undone for {minutes} minutes, if the sale is "
            "cancelled."
        ),
        "zh-CN": "输入顾客出示的券码（不区分大小写，可省略短横线），查询后核销。如交易取消，"
        "{minutes} 分钟内可撤销核销。",
    },
    "red_merchant": {"en": "Merchant", "zh-CN": "商户"},
    "red_store": {"en": "Store", "zh-CN": "门店"},
    "red_code_label": {"en": "Coupon code", "zh-CN": "券码"},
    "red_check_button": {"en": "Check", "zh-CN": "查询"},
    "red_redeem_button": {"en": "Redeem", "zh-CN": "确认核销"},
    "red_undo_button": {"en": "Undo", "zh-CN": "撤销"},
    "red_valid_until": {"en": "Valid until {when}", "zh-CN": "有效期至 {when}"},
    "red_ready": {"en": "Valid: ready to redeem.", "zh-CN": "券码有效，可以核销。"},
    "red_done": {"en": "Redeemed: {title} ({code}).", "zh-CN": "已核销：{title}（{code}）。"},
    "red_undone": {
        "en": "Redemption of {code} undone: the code can be used again.",
        "zh-CN": "已撤销 {code} 的核销，该券码可再次使用。",
    },
    "red_recent": {"en": "Redeemed at this store", "zh-CN": "本店核销记录"},
    "red_col_time": {"en": "Time ({zone})", "zh-CN": "时间（{zone}）"},
    "red_col_code": {"en": "Code", "zh-CN": "券码"},
    "red_col_coupon": {"en": "Coupon", "zh-CN": "优惠券"},
    "red_undone_mark": {"en": "undone", "zh-CN": "已撤销"},
    "red_none": {"en": "No redemptions at this store yet.", "zh-CN": "本店暂无核销记录。"},
    "red_no_store": {
        "en": "This merchant has no store yet: add one before redeeming coupons.",
        "zh-CN": "该商户还没有门店，请先添加门店再核销。",
    },
    "red_error_mistyped": {
        "en": "That is not a valid code: check it for a typo.",
        "zh-CN": "券码无效，请检查是否输错。",
    },
    "red_error_unknown": {
        "en": "No coupon of this merchant has that code.",
        "zh-CN": "本商户没有这个券码。",
    },
    "red_error_not_claimed": {
        "en": "This code was never given to a shopper.",
        "zh-CN": "该券码尚未发放给顾客。",
    },
    "red_error_redeemed": {
        "en": "This code was already redeemed ({when}).",
        "zh-CN": "该券码已于 {when} 核销。",
    },
    "red_error_expired": {"en": "This coupon has expired.", "zh-CN": "该优惠券已过期。"},
    "red_error_void": {"en": "This code is no longer valid.", "zh-CN": "该券码已作废。"},
    "red_error_locked": {
        "en": "This code is being redeemed by a till system right now: try again in a few minutes.",
        "zh-CN": "该券码正在收银系统中核销，请几分钟后再试。",
    },
    "red_error_undo_late": {
        "en": "This redemption can no longer be undone.",
        "zh-CN": "该核销已无法撤销。",
    },
    "red_void_button": {"en": "Void", "zh-CN": "作废"},
    "red_void_hint": {
        "en": "Owners only: nobody can use a void code any more.",
        "zh-CN": "仅店主可操作：作废后该券码不能再使用。",
    },
    "red_voided": {
        "en": "Code {code} is void: it can no longer be used.",
        "zh-CN": "券码 {code} 已作废，不能再使用。",
    },
    "red_error_void_owners": {
        "en": "Only the merchant's owners can void a code.",
        "zh-CN": "只有店主可以作废券码。",
    },
    "red_error_void_refused": {
        "en": "This code cannot be voided: it was redeemed, is void already, or a till system "
        "is redeeming it right now.",
        "zh-CN": "该券码无法作废：已核销、已作废，或正在收银系统中核销。",
    },
    # The import page of an imported pool (ads/code_import_page.py).
    "import_link": {"en": "Import POS codes", "zh-CN": "导入收银系统券码"},
    "import_title": {"en": "Import your own coupon codes", "zh-CN": "导入自有券码"},
    "import_intro": {
        "en": (
            "For a coupon whose codes come from your own till system: upload a text or CSV "
            "file, one code a line (the first column; a header line is fine), 4 to 32 letters "
            "and digits, not 11 (the length of our own codes), at most {max_codes} codes and "
            "{max_kb} KB. The file is taken whole or not at all; every problem is listed with "
            "its line."
        ),
        "zh-CN": "适用于券码来自您自有收银系统的优惠券：上传文本或 CSV 文件，每行一个券码"
        "（取第一列，可含标题行），4 至 32 位字母或数字，但不能是 11 位（本平台券码的长度），"
        "最多 {max_codes} 个、{max_kb} KB。文件要么全部导入，要么全部不导入；每个问题都会注明"
        "行号。",
    },
    "import_col_codes": {"en": "Codes", "zh-CN": "券码数"},
    "import_col_available": {"en": "Not yet handed out", "zh-CN": "未发放"},
    "import_file_label": {"en": "File (.csv or .txt)", "zh-CN": "文件（.csv 或 .txt）"},
    "import_button": {"en": "Import", "zh-CN": "导入"},
    "import_done": {"en": "{n} codes imported.", "zh-CN": "已导入 {n} 个券码。"},
    "import_no_pools": {
        "en": "No coupon of this merchant takes imported codes.",
        "zh-CN": "本商户没有使用导入券码的优惠券。",
    },
    "import_owners_only": {
        "en": "Only the merchant's owners can import codes.",
        "zh-CN": "只有店主可以导入券码。",
    },
    "import_no_file": {"en": "Choose a file to import.", "zh-CN": "请选择要导入的文件。"},
    "import_refused": {
        "en": "Nothing was imported: correct these lines and upload the file again.",
        "zh-CN": "未导入任何券码：请修改以下各行后重新上传。",
    },
    "import_unreadable_size": {
        "en": "Nothing was imported: the file is larger than {limit} bytes.",
        "zh-CN": "未导入任何券码：文件超过 {limit} 字节。",
    },
    "import_unreadable_count": {
        "en": "Nothing was imported: the file holds more than {limit} codes.",
        "zh-CN": "未导入任何券码：文件中的券码超过 {limit} 个。",
    },
    "import_unreadable_encoding": {
        "en": "Nothing was imported: the file is not UTF-8 text (save it as CSV UTF-8).",
        "zh-CN": "未导入任何券码：文件不是 UTF-8 文本（请另存为 CSV UTF-8）。",
    },
    "import_unreadable_csv": {
        "en": "Nothing was imported: the file is not a CSV file we can read.",
        "zh-CN": "未导入任何券码：无法读取该 CSV 文件。",
    },
    "import_unreadable_empty": {
        "en": "Nothing was imported: there are no codes in the file.",
        "zh-CN": "未导入任何券码：文件中没有券码。",
    },
    "import_wrong_pool": {
        "en": "This coupon does not take imported codes.",
        "zh-CN": "该优惠券不使用导入券码。",
    },
    "import_col_line": {"en": "Line", "zh-CN": "行号"},
    "import_col_problem": {"en": "Problem", "zh-CN": "问题"},
    "import_col_text": {"en": "As written", "zh-CN": "原文"},
    "import_problem_symbols": {
        "en": "only letters A-Z and digits (dashes and spaces are ignored)",
        "zh-CN": "只能包含字母 A-Z 和数字（短横线和空格会被忽略）",
    },
    "import_problem_length": {
        "en": "4 to 32 characters, not 11",
        "zh-CN": "长度须为 4 至 32 位，且不能是 11 位",
    },
    "import_problem_repeated": {
        "en": "the same code as line {first}",
        "zh-CN": "与第 {first} 行的券码重复",
    },
    "import_problem_taken": {
        "en": "this merchant has this code already",
        "zh-CN": "本商户已有该券码",
    },
    "import_more": {"en": "…and {n} more problems.", "zh-CN": "……另有 {n} 个问题。"},
    "red_error_bad_store": {
        "en": "Choose one of the merchant's stores.",
        "zh-CN": "请选择本商户的门店。",
    },
    "red_api_keys_link": {"en": "POS API keys", "zh-CN": "收银系统 API 密钥"},
    # The POS API keys page (ads/pos_keys_page.py).
    "pos_keys_title": {"en": "POS API keys", "zh-CN": "收银系统 API 密钥"},
    "pos_keys_intro": {
        "en": (
            "A point-of-sale system checks, locks, redeems and rolls back coupon codes through "
            "the POS API with one of these keys. A key is shown once, when it is made: copy it "
            "into the POS system then. Revoke a key that is no longer used or may have leaked."
        ),
        "zh-CN": "收银系统通过 POS API 使用以下密钥查询、锁定、核销和撤销券码。密钥仅在创建时"
        "显示一次，请当即复制到收银系统中。不再使用或可能泄露的密钥请及时吊销。",
    },
    "pos_keys_owner_only": {
        "en": "Only an owner of the merchant can make or revoke keys.",
        "zh-CN": "只有商户所有者可以创建或吊销密钥。",
    },
    "pos_keys_new": {"en": "New key", "zh-CN": "新建密钥"},
    "pos_keys_name": {"en": "Name (e.g. the till it is for)", "zh-CN": "名称（如所用的收银台）"},
    "pos_keys_store": {"en": "Store", "zh-CN": "门店"},
    "pos_keys_any_store": {"en": "Any store", "zh-CN": "所有门店"},
    "pos_keys_create": {"en": "Make key", "zh-CN": "创建密钥"},
    "pos_keys_made": {
        "en": "Key “{name}” made. Copy it now: it is not shown again.",
        "zh-CN": "已创建密钥“{name}”。请立即复制，此后不再显示。",
    },
    "pos_keys_revoked_notice": {
        "en": "Key revoked: requests with it are refused from now on.",
        "zh-CN": "密钥已吊销，此后使用该密钥的请求将被拒绝。",
    },
    "pos_keys_col_name": {"en": "Name", "zh-CN": "名称"},
    "pos_keys_col_key": {"en": "Key", "zh-CN": "密钥"},
    "pos_keys_col_store": {"en": "Store", "zh-CN": "门店"},
    "pos_keys_col_made": {"en": "Made ({zone})", "zh-CN": "创建时间（{zone}）"},
    "pos_keys_col_used": {"en": "Last used", "zh-CN": "最近使用"},
    "pos_keys_never": {"en": "never", "zh-CN": "从未使用"},
    "pos_keys_revoke": {"en": "Revoke", "zh-CN": "吊销"},
    "pos_keys_revoked_mark": {"en": "revoked {when}", "zh-CN": "已于 {when} 吊销"},
    "pos_keys_none": {"en": "No keys yet.", "zh-CN": "暂无密钥。"},
    "pos_keys_docs": {
        "en": "The API is described at {url} (OpenAPI 3.1).",
        "zh-CN": "API 说明见 {url}（OpenAPI 3.1）。",
    },
    "pos_keys_error_name": {
        "en": "Give the key a name of 1 to 100 characters.",
        "zh-CN": "请为密钥填写 1 至 100 个字符的名称。",
    },
    "pos_keys_error_too_many": {
        "en": "This merchant has as many keys as it may: revoke one first.",
        "zh-CN": "该商户的密钥数量已达上限，请先吊销一个。",
    },
    "pos_keys_error_unknown": {
        "en": "No such key in use at this merchant.",
        "zh-CN": "该商户没有这个正在使用的密钥。",
    },
    # The audit log's names (accounts/audit_page.py: au_action_<record>_<verb>, au_field_<name>)
    "au_action_pos_key_create": {"en": "POS API key made", "zh-CN": "创建 POS 接口密钥"},
    "au_action_pos_key_revoke": {"en": "POS API key revoked", "zh-CN": "停用 POS 接口密钥"},
    "au_action_coupon_undo": {"en": "Redemption undone", "zh-CN": "撤销核销"},
    "au_action_coupon_void": {"en": "Coupon code voided", "zh-CN": "作废优惠券码"},
    "au_action_coupon_codes_import": {"en": "POS codes imported", "zh-CN": "导入 POS 券码"},
    "au_action_ad_approval_request": {"en": "Ad asks to run", "zh-CN": "广告申请投放"},
    "au_action_ad_approval_decide": {"en": "Ad approved or rejected", "zh-CN": "审核广告"},
    "au_action_ad_block_create": {"en": "Ads blocked", "zh-CN": "屏蔽广告"},
    "au_action_ad_block_delete": {"en": "Ads unblocked", "zh-CN": "取消屏蔽广告"},
    "au_field_advertiser": {"en": "Advertiser", "zh-CN": "广告主"},
    "au_field_codes_added": {"en": "Codes added", "zh-CN": "新增券码数"},
}

# The POS API's answers (ads/pos_api.py): with CONSOLE's red_error_* for the codes' refusals.
POS_API: dict[str, dict[str, str]] = {
    "pos_error_bad_request": {"en": "Bad request: {problem}", "zh-CN": "请求有误：{problem}"},
    "pos_error_body_too_large": {
        "en": "The request body is too large.",
        "zh-CN": "请求正文过大。",
    },
    "pos_error_not_json": {
        "en": "Send the body as JSON (Content-Type: application/json).",
        "zh-CN": "请以 JSON 发送请求正文（Content-Type: application/json）。",
    },
    "pos_error_key_missing": {
        "en": "Send the API key as Authorization: Bearer <key>.",
        "zh-CN": "请以 Authorization: Bearer <密钥> 发送 API 密钥。",
    },
    "pos_error_key_invalid": {"en": "This API key is not valid.", "zh-CN": "API 密钥无效。"},
    "pos_error_key_revoked": {
        "en": "This API key was revoked.",
        "zh-CN": "该 API 密钥已被吊销。",
    },
    "pos_error_merchant_suspended": {
        "en": "This merchant is suspended by Portico: its POS API is unavailable. Contact "
        "Portico support.",
        "zh-CN": "该商户已被 Portico 暂停服务：其 POS 接口暂不可用。请联系 Portico 客服。",
    },
    "pos_error_not_found": {"en": "No such endpoint.", "zh-CN": "没有这个接口。"},
    "pos_error_method_not_allowed": {
        "en": "This endpoint does not take that method.",
        "zh-CN": "该接口不支持此请求方法。",
    },
    "pos_error_server": {
        "en": "Something went wrong on our side: try again.",
        "zh-CN": "服务器出错，请重试。",
    },
    "pos_error_held_back": {
        "en": "Too many refused codes: try again in {seconds} seconds.",
        "zh-CN": "被拒绝的券码过多，请 {seconds} 秒后再试。",
    },
    "pos_error_lock_unknown": {
        "en": "No lock of this merchant has that id.",
        "zh-CN": "本商户没有这个锁定。",
    },
    "pos_error_lock_ended": {
        "en": "This lock has ended: lock the code again.",
        "zh-CN": "该锁定已结束，请重新锁定券码。",
    },
    "pos_error_redemption_unknown": {
        "en": "No redemption of this merchant has that id.",
        "zh-CN": "本商户没有这条核销记录。",
    },
    "pos_error_rolled_back": {
        "en": "This redemption was rolled back already.",
        "zh-CN": "该核销已撤销。",
    },
    "pos_error_idempotency_reused": {
        "en": "This Idempotency-Key was used for another redemption: use a new key.",
        "zh-CN": "该 Idempotency-Key 已用于另一次核销，请使用新的键。",
    },
    "pos_error_store_unknown": {
        "en": "store_id is not one of the merchant's stores.",
        "zh-CN": "store_id 不是本商户的门店。",
    },
    "pos_error_store_not_allowed": {
        "en": "This API key is for another store.",
        "zh-CN": "该 API 密钥仅限其他门店使用。",
    },
}

# Why an advertiser's upload was refused (ads/creative_errors.py, ads/creative_files.py).
CREATIVE_FILES: dict[str, dict[str, str]] = {
    "upload_error_title": {"en": "File not accepted", "zh-CN": "文件未被接受"},
    "upload_error_broken": {
        "en": "This file could not be read. Upload a JPEG, PNG or WebP image or an MP4 video.",
        "zh-CN": "无法读取该文件。请上传 JPEG、PNG 或 WebP 图片，或 MP4 视频。",
    },
    "upload_error_empty": {
        "en": "The file is empty (0 bytes): choose the file again and upload it.",
        "zh-CN": "文件为空（0 字节），请重新选择文件上传。",
    },
    "upload_error_type": {
        "en": (
            "This is a {kind} file, which is not accepted: upload a JPEG, PNG or WebP image "
            "or an MP4 (H.264) video. Files are checked by their content, not their name."
        ),
        "zh-CN": "这是 {kind} 文件，不被接受：请上传 JPEG、PNG 或 WebP 图片，或 MP4（H.264）视频。"
        "系统按文件内容检查，而非文件名。",
    },
    "upload_error_type_unknown": {
        "en": (
            "This file is not a JPEG, PNG or WebP image or an MP4 video (its content was "
            "checked, not its name). Export it in one of these formats and upload it again."
        ),
        "zh-CN": "该文件不是 JPEG、PNG、WebP 图片或 MP4 视频（按内容检查，而非文件名）。"
        "请导出为上述格式后重新上传。",
    },
    "upload_error_image_too_large": {
        "en": "The image is {size} MB; images may be at most {limit} MB. Make it smaller.",
        "zh-CN": "图片大小为 {size} MB，图片最大 {limit} MB，请缩小后重新上传。",
    },
    "upload_error_video_too_large": {
        "en": "The video is {size} MB; videos may be at most {limit} MB. Export it smaller.",
        "zh-CN": "视频大小为 {size} MB，视频最大 {limit} MB，请导出更小的文件。",
    },
    "upload_error_pixels": {
        "en": (
            "The image has too many pixels: at most {limit} million (such as 6000 × 4000) "
            "are accepted. Make it smaller and upload it again."
        ),
        "zh-CN": "图片像素过多：最多 {limit} 百万像素（如 6000 × 4000）。请缩小后重新上传。",
    },
    "upload_error_animated": {
        "en": "Animated images are not accepted: upload a still image, or the animation as an "
        "MP4 video.",
        "zh-CN": "不接受动图：请上传静态图片，或将动画导出为 MP4 视频。",
    },
    "upload_error_broken_image": {
        "en": (
            "The image could not be read to its end: it is damaged or cut short. Export it "
            "again and upload the new file."
        ),
        "zh-CN": "图片无法完整读取：文件已损坏或不完整。请重新导出后上传。",
    },
    "upload_error_broken_video": {
        "en": (
            "The video could not be read to its end: it is damaged or cut short (an upload or "
            "copy that stopped halfway). Export it again as MP4 and upload the new file."
        ),
        "zh-CN": "视频无法完整读取：文件已损坏或不完整（如上传或复制中断）。"
        "请重新导出为 MP4 后上传。",
    },
    "upload_error_video_tracks": {
        "en": "The video must have one picture track and at most one sound track.",
        "zh-CN": "视频须有且仅有一条画面轨道，声音轨道最多一条。",
    },
    "upload_error_video_codec": {
        "en": (
            "The video is encoded as {codec}, which not every phone plays: export it as H.264 "
            "(8-bit, 4:2:0) in MP4."
        ),
        "zh-CN": "视频编码为 {codec}，部分手机无法播放："
        "请导出为 MP4 格式的 H.264（8 位、4:2:0）视频。",
    },
    "upload_error_audio_codec": {
        "en": "The video's sound is {codec}: export it with AAC sound, or without sound.",
        "zh-CN": "视频的音频为 {codec}：请以 AAC 音频导出，或去掉声音。",
    },
    "upload_error_video_too_long": {
        "en": "The video lasts {seconds} s; videos may last at most {limit} s. Shorten it.",
        "zh-CN": "视频时长 {seconds} 秒，视频最长 {limit} 秒，请剪短后上传。",
    },
    "upload_error_video_too_short": {
        "en": "The video lasts {seconds} s; videos must last at least {limit} s.",
        "zh-CN": "视频时长 {seconds} 秒，视频至少须 {limit} 秒。",
    },
    "upload_error_video_frame": {
        "en": (
            "The video is {width} × {height} pixels; videos may be at most {long} × {short} "
            "(either way round). Export it at 1080p or less."
        ),
        "zh-CN": "视频分辨率为 {width} × {height}，最大 {long} × {short}（横竖均可）。"
        "请以 1080p 或更低分辨率导出。",
    },
    "upload_error_video_frame_rate": {
        "en": "The video has {rate} frames a second; at most {limit} are accepted.",
        "zh-CN": "视频帧率为每秒 {rate} 帧，最高 {limit} 帧。",
    },
}


# The advertiser console (ads/advertiser_pages.py) and the merchant's approval queue
# (ads/approvals_page.py), merged into the console's catalog by portico/console_app.py.
ADVERTISERS: dict[str, dict[str, str]] = {
    "nav_advertiser": {"en": "Advertising", "zh-CN": "广告投放"},
    "nav_approvals": {"en": "Ad approvals", "zh-CN": "广告审核"},
    "adv_title": {"en": "Advertiser console", "zh-CN": "广告主后台"},
    "adv_intro": {
        "en": (
            "Your campaigns, their line items (schedule, budget, pricing, targeting), frequency "
            "caps and creatives. A campaign appears in a venue only once that merchant approves "
            "it."
        ),
        "zh-CN": (
            "管理广告活动及其投放单元（排期、预算、计价、定向）、频次上限和素材。活动须经商户"
            "审核通过后才会在其场所展示。"
        ),
    },
    "adv_advertiser": {"en": "Advertiser", "zh-CN": "广告主"},
    "adv_switch": {"en": "Show", "zh-CN": "切换"},
    "adv_campaigns": {"en": "Campaigns", "zh-CN": "广告活动"},
    "adv_campaign": {"en": "Campaign", "zh-CN": "广告活动"},
    "adv_no_campaigns": {"en": "No campaigns yet.", "zh-CN": "还没有广告活动。"},
    "adv_new_campaign": {"en": "New campaign", "zh-CN": "新建广告活动"},
    "adv_create": {"en": "Create campaign", "zh-CN": "创建活动"},
    "adv_save": {"en": "Save", "zh-CN": "保存"},
    "adv_cancel": {"en": "Cancel", "zh-CN": "取消"},
    "adv_edit": {"en": "Edit", "zh-CN": "编辑"},
    "adv_remove": {"en": "Remove", "zh-CN": "删除"},
    "adv_flight": {"en": "Flight", "zh-CN": "投放时间"},
    "adv_line_items": {"en": "Line items", "zh-CN": "投放单元"},
    "adv_creatives": {"en": "Creatives", "zh-CN": "素材"},
    "adv_no_line_items": {
        "en": "No line items yet: add one below to start delivering.",
        "zh-CN": "还没有投放单元，请在下方添加。",
    },
    "adv_new_line_item": {"en": "New line item", "zh-CN": "新建投放单元"},
    "adv_edit_line_item": {"en": "Edit line item", "zh-CN": "编辑投放单元"},
    "adv_targets": {"en": "Targeting", "zh-CN": "定向"},
    "adv_everyone": {"en": "Everyone, everywhere", "zh-CN": "不限"},
    "adv_no_creatives": {"en": "No creatives yet.", "zh-CN": "还没有素材。"},
    "adv_new_creative": {"en": "Upload a creative", "zh-CN": "上传素材"},
    "adv_upload": {"en": "Upload", "zh-CN": "上传"},
    "adv_needs_upload": {"en": "needs a new file", "zh-CN": "需重新上传"},
    "adv_countdown_s": {"en": "countdown {s} s", "zh-CN": "倒计时 {s} 秒"},
    "adv_caps": {"en": "Frequency caps", "zh-CN": "频次上限"},
    "adv_caps_intro": {
        "en": (
            "How often one shopper may see your ads, counted per shopper identity (verified phone"
            " or email, else the device), never per browser cookie."
        ),
        "zh-CN": (
            "同一顾客最多看到广告的次数，按顾客身份计数（已验证的手机号或邮箱，否则为设备），"
            "不按浏览器 Cookie。"
        ),
    },
    "adv_no_caps": {
        "en": "No caps: shoppers may see this campaign at every login.",
        "zh-CN": "未设上限：顾客每次登录都可能看到此活动。",
    },
    "adv_add_cap": {"en": "Add cap", "zh-CN": "添加上限"},
    "adv_admin_only": {
        "en": "Only the advertiser's admins can change campaigns; you can look.",
        "zh-CN": "只有广告主管理员可以修改广告活动；您可以查看。",
    },
    "adv_saved_campaign": {"en": "Campaign saved.", "zh-CN": "活动已保存。"},
    "adv_saved_line_item": {
        "en": "Line item saved. Merchants it targets have been asked for approval.",
        "zh-CN": "投放单元已保存，已向所定向的商户提交审核。",
    },
    "adv_saved_cap": {"en": "Frequency caps saved.", "zh-CN": "频次上限已保存。"},
    "adv_saved_creative": {"en": "Creative uploaded.", "zh-CN": "素材已上传。"},
    "adv_error_field": {
        "en": "Please check “{field}”: it is missing or not in the expected form.",
        "zh-CN": "请检查“{field}”：未填写或格式不正确。",
    },
    "adv_error_segments_unavailable": {
        "en": (
            "Segments cannot be targeted yet: no shopper is put in a segment so far, so this "
            "line item would never be shown. Leave “Segments” empty."
        ),
        "zh-CN": (
            "暂不能按人群分组定向：目前尚无顾客被归入任何分组，此投放单元将永远不会展示。"
            "请将“人群分组”留空。"
        ),
    },
    "adv_error_flight_outside": {
        "en": "A line item's flight must lie inside its campaign's flight.",
        "zh-CN": "投放单元的投放时间必须在活动投放时间之内。",
    },
    "adv_error_no_file": {
        "en": "Choose an image or video file to upload.",
        "zh-CN": "请选择要上传的图片或视频文件。",
    },
    "adv_f_name": {"en": "Name", "zh-CN": "名称"},
    "adv_f_category": {"en": "Category", "zh-CN": "类别"},
    "adv_f_status": {"en": "Status", "zh-CN": "状态"},
    "adv_f_starts_at": {"en": "Starts (China time)", "zh-CN": "开始（北京时间）"},
    "adv_f_ends_at": {"en": "Ends (China time)", "zh-CN": "结束（北京时间）"},
    "adv_f_holdout_percent": {"en": "Holdout, % of shoppers", "zh-CN": "对照组（顾客百分比）"},
    "adv_f_tier": {"en": "Tier", "zh-CN": "层级"},
    "adv_f_pricing": {"en": "Pricing", "zh-CN": "计价方式"},
    "adv_f_bid": {"en": "Bid, yuan", "zh-CN": "出价（元）"},
    "adv_f_budget": {"en": "Budget, yuan", "zh-CN": "预算（元）"},
    "adv_f_goal_impressions": {"en": "Impression goal", "zh-CN": "展示目标"},
    "adv_f_pacing": {"en": "Pacing", "zh-CN": "投放节奏"},
    "adv_f_weight": {"en": "Weight", "zh-CN": "权重"},
    "adv_f_dayparts": {"en": "Dayparts (venue's local time)", "zh-CN": "投放时段（场所当地时间）"},
    "adv_f_target_merchants": {"en": "Merchants (venues)", "zh-CN": "商户（场所）"},
    "adv_f_target_stores": {"en": "Stores", "zh-CN": "门店"},
    "adv_f_target_categories": {"en": "Merchant categories", "zh-CN": "商户类别"},
    "adv_f_target_cities": {"en": "Cities", "zh-CN": "城市"},
    "adv_f_target_languages": {"en": "Languages", "zh-CN": "语言"},
    "adv_f_target_segments": {"en": "Segments", "zh-CN": "人群分组"},
    "adv_f_target_audience": {"en": "New or returning", "zh-CN": "新老顾客"},
    "adv_f_headline_zh": {"en": "Headline (Chinese)", "zh-CN": "标题（中文）"},
    "adv_f_headline_en": {"en": "Headline (English)", "zh-CN": "标题（英文）"},
    "adv_f_body_zh": {"en": "Text (Chinese)", "zh-CN": "正文（中文）"},
    "adv_f_body_en": {"en": "Text (English)", "zh-CN": "正文（英文）"},
    "adv_f_landing_url": {"en": "Landing page", "zh-CN": "落地页"},
    "adv_f_countdown_seconds": {"en": "Video countdown, seconds", "zh-CN": "视频倒计时（秒）"},
    "adv_f_file": {"en": "Image or video", "zh-CN": "图片或视频"},
    "adv_f_scope": {"en": "Applies to", "zh-CN": "适用于"},
    "adv_f_scope_id": {"en": "Which one", "zh-CN": "具体对象"},
    "adv_f_max_count": {"en": "At most, times", "zh-CN": "最多次数"},
    "adv_f_period": {"en": "Per", "zh-CN": "周期"},
    "adv_f_window_hours": {"en": "Rolling window, hours", "zh-CN": "滚动窗口（小时）"},
    "adv_f_decision": {"en": "Decision", "zh-CN": "审核结果"},
    "adv_f_reason": {"en": "Reason", "zh-CN": "原因"},
    "adv_f_block": {"en": "Block", "zh-CN": "屏蔽"},
    "adv_f_advertiser": {"en": "Advertiser", "zh-CN": "广告主"},
    "adv_f_role": {"en": "Role", "zh-CN": "角色"},
    "adv_hint_holdout": {
        "en": "0 to 50. These shoppers never see the campaign, to measure its real effect.",
        "zh-CN": "0 到 50。这部分顾客不会看到此活动，用于衡量真实效果。",
    },
    "adv_hint_bid": {
        "en": "CPM: per 1,000 impressions; CPC: per click; CPA: per claimed coupon.",
        "zh-CN": "CPM：每千次展示；CPC：每次点击；CPA：每次领券。",
    },
    "adv_hint_optional_limit": {"en": "Empty: no limit.", "zh-CN": "留空表示不限。"},
    "adv_hint_dayparts": {
        "en": "Empty: all day, every day. E.g. Mon-Fri 11-14, Sat-Sun 10-22 (hours end-exclusive).",
        "zh-CN": "留空表示全天。例如 Mon-Fri 11-14, Sat-Sun 10-22（结束小时不含）。",
    },
    "adv_hint_ids": {
        "en": "Ids separated by spaces; empty: any.",
        "zh-CN": "以空格分隔的 ID；留空表示不限。",
    },
    "adv_hint_words": {
        "en": "Separated by commas; empty: any.",
        "zh-CN": "以逗号分隔；留空表示不限。",
    },
    "adv_hint_targets": {
        "en": (
            "Every targeting field left empty matches everyone. Targeting a merchant asks it to "
            "approve the campaign."
        ),
        "zh-CN": "定向项留空表示不限。定向某商户会向其提交审核。",
    },
    "adv_hint_countdown": {
        "en": "Videos only (1-60; default 5): the impression counts after it.",
        "zh-CN": "仅视频（1–60，默认 5）：倒计时结束后计为一次展示。",
    },
    "adv_hint_file": {
        "en": (
            "JPEG, PNG or WebP image, or MP4 video. Checked by content and re-encoded; SVG is not"
            " accepted."
        ),
        "zh-CN": "JPEG、PNG、WebP 图片或 MP4 视频。按内容检查并重新编码；不接受 SVG。",
    },
    "adv_status_draft": {"en": "Draft", "zh-CN": "草稿"},
    "adv_status_active": {"en": "Active", "zh-CN": "投放中"},
    "adv_status_paused": {"en": "Paused", "zh-CN": "已暂停"},
    "adv_status_ended": {"en": "Ended", "zh-CN": "已结束"},
    "tier_sponsorship": {"en": "Sponsorship", "zh-CN": "独家赞助"},
    "tier_guaranteed": {"en": "Guaranteed", "zh-CN": "保量"},
    "tier_performance": {"en": "Performance", "zh-CN": "效果竞价"},
    "tier_house": {"en": "House", "zh-CN": "自有推广"},
    "pricing_cpm": {"en": "CPM (per 1,000 impressions)", "zh-CN": "CPM（每千次展示）"},
    "pricing_cpc": {"en": "CPC (per click)", "zh-CN": "CPC（每次点击）"},
    "pricing_cpa": {"en": "CPA (per claim)", "zh-CN": "CPA（每次领券）"},
    "pacing_even": {"en": "Even", "zh-CN": "匀速"},
    "pacing_asap": {"en": "As fast as possible", "zh-CN": "尽快"},
    "audience_all": {"en": "Everyone", "zh-CN": "所有顾客"},
    "audience_new": {"en": "New shoppers", "zh-CN": "新顾客"},
    "audience_returning": {"en": "Returning shoppers", "zh-CN": "老顾客"},
    "cat_food": {"en": "Food & drink", "zh-CN": "餐饮"},
    "cat_fashion": {"en": "Fashion", "zh-CN": "服饰"},
    "cat_beauty": {"en": "Beauty", "zh-CN": "美妆"},
    "cat_electronics": {"en": "Electronics", "zh-CN": "数码电子"},
    "cat_grocery": {"en": "Grocery", "zh-CN": "超市便利"},
    "cat_services": {"en": "Services", "zh-CN": "生活服务"},
    "cat_entertainment": {"en": "Entertainment", "zh-CN": "休闲娱乐"},
    "cat_other": {"en": "Other", "zh-CN": "其他"},
    "cap_scope_creative": {"en": "Creative", "zh-CN": "素材"},
    "cap_scope_line_item": {"en": "Line item", "zh-CN": "投放单元"},
    "cap_scope_campaign": {"en": "This campaign", "zh-CN": "本活动"},
    "cap_scope_advertiser": {"en": "All my campaigns", "zh-CN": "我的全部活动"},
    "cap_period_lifetime": {"en": "lifetime", "zh-CN": "总计"},
    "cap_period_day": {"en": "day", "zh-CN": "每天"},
    "cap_period_window": {"en": "{hours} hours", "zh-CN": "每 {hours} 小时"},
    "cap_rule": {"en": "at most {n} per {period}", "zh-CN": "{period}最多 {n} 次"},
    "appr_title": {"en": "Ad approvals", "zh-CN": "广告审核"},
    "appr_intro": {
        "en": (
            "Campaigns asking to appear in your venues. Nothing is shown until you approve it; "
            "your own campaigns need no approval. Blocked advertisers and categories never ask "
            "again."
        ),
        "zh-CN": (
            "申请在您场所展示的广告活动。经您批准后才会展示；您自己的活动无需审核。被屏蔽的广"
            "告主和类别不会再次申请。"
        ),
    },
    "appr_requests": {"en": "Requests", "zh-CN": "申请"},
    "appr_none": {
        "en": "No campaign has asked to appear in your venues.",
        "zh-CN": "暂无广告活动申请在您的场所展示。",
    },
    "appr_status_pending": {"en": "Pending", "zh-CN": "待审核"},
    "appr_status_approved": {"en": "Approved", "zh-CN": "已批准"},
    "appr_status_rejected": {"en": "Rejected", "zh-CN": "已拒绝"},
    "appr_status_blocked": {"en": "Blocked", "zh-CN": "已屏蔽"},
    "appr_reason": {"en": "Reason (needed to reject)", "zh-CN": "原因（拒绝时必填）"},
    "appr_reason_shown": {"en": "Reason: {reason}", "zh-CN": "原因：{reason}"},
    "appr_approve": {"en": "Approve", "zh-CN": "批准"},
    "appr_reject": {"en": "Reject", "zh-CN": "拒绝"},
    "appr_blocks": {"en": "Block list", "zh-CN": "屏蔽列表"},
    "appr_blocks_intro": {
        "en": (
            "Ads from a blocked advertiser or category are never shown in your venues, and "
            "pending requests they cover are rejected."
        ),
        "zh-CN": "被屏蔽的广告主或类别的广告不会在您的场所展示，相关待审核申请将被拒绝。",
    },
    "appr_no_blocks": {"en": "Nothing is blocked.", "zh-CN": "没有屏蔽任何内容。"},
    "appr_block_advertiser": {"en": "Advertiser", "zh-CN": "广告主"},
    "appr_block_category": {"en": "Category", "zh-CN": "类别"},
    "appr_block": {"en": "Block", "zh-CN": "屏蔽"},
    "appr_unblock": {"en": "Unblock", "zh-CN": "取消屏蔽"},
    "appr_block_hint": {
        "en": "Choose an advertiser or a category (one at a time).",
        "zh-CN": "选择一个广告主或一个类别（每次一项）。",
    },
    "appr_owner_only": {
        "en": "Only the merchant's owners can approve, reject or block.",
        "zh-CN": "只有商户所有者可以批准、拒绝或屏蔽。",
    },
    "appr_saved_decision": {"en": "Decision saved.", "zh-CN": "审核结果已保存。"},
    "appr_saved_block": {"en": "Blocked.", "zh-CN": "已屏蔽。"},
    "appr_saved_unblock": {"en": "Unblocked.", "zh-CN": "已取消屏蔽。"},
    "error_invalid_category": {"en": "Unknown category.", "zh-CN": "未知类别。"},
    # The campaign report (ads/report_pages.py, docs/ad-reports.md)
    "rep_title": {"en": "Report", "zh-CN": "效果报告"},
    "rep_link": {"en": "Report", "zh-CN": "查看报告"},
    "rep_range": {"en": "From {first} to {last} ({zone})", "zh-CN": "{first} 至 {last}（{zone}）"},
    "rep_first": {"en": "From", "zh-CN": "开始日期"},
    "rep_last": {"en": "To", "zh-CN": "结束日期"},
    "rep_window": {"en": "Attribution window (days)", "zh-CN": "归因窗口（天）"},
    "rep_show": {"en": "Show", "zh-CN": "查看"},
    "rep_csv": {"en": "Download CSV", "zh-CN": "下载 CSV"},
    "rep_delivery": {"en": "Delivery (exposed shoppers)", "zh-CN": "投放（曝光组）"},
    "rep_total": {"en": "Whole campaign", "zh-CN": "整个活动"},
    "rep_by_line_item": {"en": "By line item", "zh-CN": "按投放单元"},
    "rep_by_creative": {"en": "By creative", "zh-CN": "按创意"},
    "rep_by_day": {"en": "By day", "zh-CN": "按日"},
    "rep_impressions": {"en": "Impressions", "zh-CN": "曝光"},
    "rep_reach": {"en": "Reach", "zh-CN": "触达人数"},
    "rep_frequency": {"en": "Frequency", "zh-CN": "频次"},
    "rep_clicks": {"en": "Clicks", "zh-CN": "点击"},
    "rep_ctr": {"en": "CTR", "zh-CN": "点击率"},
    "rep_outcomes": {"en": "Results and lift", "zh-CN": "转化与增量"},
    "rep_outcomes_intro": {
        "en": (
            "Shoppers who saw the ad, against the holdout (shoppers kept from it at random). "
            "Each result counts a shopper once, within {days} days of first seeing the ad (or "
            "of being held out). Lift is the exposed rate less the holdout rate, with its 95 % "
            "confidence interval."
        ),
        "zh-CN": "看到广告的顾客与对照组（随机不展示广告的顾客）比较。每项结果每位顾客只计一次，"
        "以首次看到广告（或被留作对照）后 {days} 天内为准。增量 = 曝光组比率 − 对照组比率，"
        "附 95% 置信区间。",
    },
    "rep_group": {"en": "Group", "zh-CN": "分组"},
    "rep_exposed": {"en": "Saw the ad", "zh-CN": "曝光组"},
    "rep_holdout": {"en": "Holdout", "zh-CN": "对照组"},
    "rep_lift": {"en": "Lift (95 % CI)", "zh-CN": "增量（95% 置信区间）"},
    "rep_shoppers": {"en": "Shoppers", "zh-CN": "顾客数"},
    "rep_claims": {"en": "Claimed the coupon", "zh-CN": "领券"},
    "rep_redemptions": {"en": "Redeemed it", "zh-CN": "核销"},
    "rep_returns": {"en": "Came back", "zh-CN": "回访"},
    "rep_pp": {"en": "{d} pts ({low} to {high})", "zh-CN": "{d} 个百分点（{low} 至 {high}）"},
    "rep_fewer_than_50": {"en": "fewer than 50", "zh-CN": "少于 50"},
    "rep_fewer_than_10": {"en": "fewer than 10", "zh-CN": "少于 10"},
    "rep_not_enough_shoppers": {"en": "not enough shoppers yet", "zh-CN": "顾客数尚不足"},
    "rep_privacy": {
        "en": (
            "To protect shoppers' privacy, a figure about fewer than 50 shoppers (10 for clicks "
            "and results) is not shown, nor one that the others would give away."
        ),
        "zh-CN": "为保护顾客隐私，涉及少于 50 位顾客（点击和转化少于 10 位）的数据不予显示，"
        "可由其他数据推算出的也不显示。",
    },
    "rep_nothing": {"en": "Nothing ran in these days.", "zh-CN": "这段时间没有投放。"},
    "rep_error_range": {
        "en": "Check the dates: the range ends before it starts, or covers more than a year.",
        "zh-CN": "请检查日期：结束早于开始，或超过一年。",
    },
    "rep_error_window": {"en": "The window is 1 to 30 days.", "zh-CN": "归因窗口为 1 至 30 天。"},
    "rep_merchant_title": {"en": "Ad reports", "zh-CN": "广告效果报告"},
    "rep_merchant_intro": {
        "en": (
            "The campaigns that ran in your venues in the last 180 days. Each report counts "
            "only your venues' shoppers, in your stores' time zone."
        ),
        "zh-CN": "最近 180 天在您门店投放过的广告活动。报告只统计您门店的顾客，按门店时区计。",
    },
    "rep_advertiser": {"en": "Advertiser", "zh-CN": "广告主"},
    "rep_none_ran": {
        "en": "No campaign ran in your venues in the last 180 days.",
        "zh-CN": "最近 180 天没有广告活动在您门店投放。",
    },
    "rep_owner_only": {
        "en": "Only the merchant's owners can read the ad reports (they cover every store).",
        "zh-CN": "只有商户所有者可以查看广告效果报告（报告涵盖所有门店）。",
    },
    "rep_error_not_signed_in": {
        "en": "Sign in to the advertiser console first.",
        "zh-CN": "请先登录广告主控制台。",
    },
    "rep_error_date": {
        "en": "Dates are like 2026-11-30 (years 2000 to 2099).",
        "zh-CN": "日期格式如 2026-11-30（2000 至 2099 年）。",
    },
}
