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
