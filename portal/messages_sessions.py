"""The shopper pages' texts of the sessions part of logins (issue 8), in zh-CN and English; merged
into portal.messages.CATALOG: the session's policy on the online page, extending it, and the
coupon's QR code."""

MESSAGES: dict[str, dict[str, str]] = {
    "data_both": {"en": "{down} download, {up} upload", "zh-CN": "下载 {down}，上传 {up}"},
    "data_mb": {"en": "{n} MB", "zh-CN": "{n} MB"},
    "data_mb_of": {"en": "{n} of {of} MB", "zh-CN": "{n} MB（共 {of} MB）"},
    "online_speed": {"en": "Speed:", "zh-CN": "网速："},
    "speed_both": {
        "en": "up to {down} download, {up} upload",
        "zh-CN": "下载最高 {down}，上传最高 {up}",
    },
    "speed_kbps": {"en": "{n} kbit/s", "zh-CN": "{n} kbit/s"},
    "speed_mbps": {"en": "{n} Mbit/s", "zh-CN": "{n} Mbit/s"},
    "speed_unlimited": {"en": "no limit", "zh-CN": "不限速"},
    "online_idle": {"en": "Idle timeout:", "zh-CN": "闲置断开："},
    "idle_value": {
        "en": "after {m} min without use",
        "zh-CN": "闲置 {m} 分钟后断开",
    },
    "extend_button": {"en": "Add {m} min", "zh-CN": "延长 {m} 分钟"},
    "extend_hint": {
        "en": "You can extend this session {n} more time(s).",
        "zh-CN": "本次上网还可延长 {n} 次。",
    },
    "extend_used_up": {
        "en": "This session cannot be extended any more.",
        "zh-CN": "本次上网已不能再延长。",
    },
    "extended_notice": {
        "en": "Done: {m} minutes added.",
        "zh-CN": "已为您延长 {m} 分钟。",
    },
    "coupon_qr_alt": {
        "en": "QR code of your coupon code, to scan at the till",
        "zh-CN": "优惠券码二维码，可在结账时扫码",
    },
    "error_extend_not_allowed": {
        "en": "Sessions cannot be extended at this WiFi.",
        "zh-CN": "此 WiFi 不支持延长上网时间。",
    },
    "error_extend_limit": {
        "en": "This session has been extended as often as this WiFi allows.",
        "zh-CN": "本次上网的延长次数已用完。",
    },
    "error_extend_quota": {
        "en": (
            "Your data allowance for this session is used up: an extension adds time, not data."
        ),
        "zh-CN": "本次上网的流量已用完：延长只增加时间，不增加流量。",
    },
    "error_extend_ended": {
        "en": (
            "This session has ended and cannot be extended. To go online again, turn WiFi off "
            "and on, then open any web page."
        ),
        "zh-CN": "本次上网已结束，无法延长。如需继续上网，请关闭再打开 WiFi，然后打开任意网页。",
    },
    "error_extend_failed": {
        "en": (
            "The WiFi router did not confirm the extension, so your session ends as before. "
            "Tap Try again."
        ),
        "zh-CN": "路由器未确认延长，本次上网仍按原时间结束。请点击“重试”。",
    },
    "error_extend_offline": {
        "en": (
            "The WiFi router is not connected to us right now, so we cannot extend your session "
            "yet. Please try again in a minute."
        ),
        "zh-CN": "路由器当前未与我们连接，暂时无法延长上网时间。请一分钟后重试。",
    },
    "error_extend_lost": {
        "en": (
            "The WiFi router could not let your device back in after extending, so this session "
            "has ended. Turn WiFi off and on, then open any web page to log in again."
        ),
        "zh-CN": "延长时路由器未能重新为您开通网络，本次上网已结束。"
        "请关闭再打开 WiFi，然后打开任意网页重新登录。",
    },
}

# The session policy section of the console's Logins page (portal/console_session_policy.py;
# merged into the console's catalog).
CONSOLE: dict[str, dict[str, str]] = {
    "ps_title": {"en": "Session policy", "zh-CN": "上网策略"},
    "ps_hint": {
        "en": (
            "What each login gets: its length, the idle time after which it ends, its speed and "
            "data per session (0: no limit), and whether shoppers may extend it from the "
            "“You're online” page. The router enforces them; new logins get changes within "
            "seconds, running sessions keep what they were granted."
        ),
        "zh-CN": (
            "每次登录的上网时长、闲置多久后断开、每次上网的网速和流量（0：不限），以及顾客能否在"
            "“已连接”页面延长。由路由器执行；修改几秒内对新登录生效，进行中的上网保持原有设置。"
        ),
    },
    "ps_session_minutes": {"en": "Session length", "zh-CN": "上网时长"},
    "ps_idle_minutes": {"en": "Idle timeout", "zh-CN": "闲置断开"},
    "ps_down_kbps": {"en": "Download speed", "zh-CN": "下载网速"},
    "ps_up_kbps": {"en": "Upload speed", "zh-CN": "上传网速"},
    "ps_down_quota_mb": {"en": "Download data per session", "zh-CN": "每次下载流量"},
    "ps_up_quota_mb": {"en": "Upload data per session", "zh-CN": "每次上传流量"},
    "ps_extend_minutes": {"en": "Extension", "zh-CN": "每次延长"},
    "ps_max_extensions": {"en": "Extensions per session", "zh-CN": "每次上网可延长次数"},
    "ps_unit_minutes": {"en": "minutes", "zh-CN": "分钟"},
    "ps_unit_minutes_or_never": {"en": "minutes (0: never)", "zh-CN": "分钟（0：不断开）"},
    "ps_unit_minutes_or_none": {"en": "minutes (0: no extension)", "zh-CN": "分钟（0：不可延长）"},
    "ps_unit_kbps": {"en": "kbit/s (0: no limit)", "zh-CN": "kbit/s（0：不限）"},
    "ps_unit_mb": {"en": "MB (0: no limit)", "zh-CN": "MB（0：不限）"},
    "ps_unit_times": {"en": "times", "zh-CN": "次"},
    "ps_saved": {"en": "Session policy saved.", "zh-CN": "上网策略已保存。"},
    "ps_error_range": {
        "en": "Enter a whole number from {low} to {high}.",
        "zh-CN": "请输入 {low} 到 {high} 之间的整数。",
    },
    "ps_error_extend_pair": {
        "en": "To allow extensions set both the extension and how many; to allow none, both 0.",
        "zh-CN": "允许延长须同时设置每次延长时间和次数；不允许延长则两者都填 0。",
    },
}
