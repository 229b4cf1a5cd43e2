"""The online page's "Follow us on WeChat" block (portal/templates/portal/online_wechat.html;
the code comes from marketing/wechat_follow.py), in zh-CN and English; merged into
portal.messages.CATALOG."""

MESSAGES: dict[str, dict[str, str]] = {
    "wechat_follow_title": {
        "en": "Follow us on WeChat for offers",
        "zh-CN": "关注公众号获取优惠",
    },
    "wechat_follow_hint": {
        "en": (
            "Scan this code with WeChat. On this phone: save the picture, then in WeChat tap "
            "Scan and pick it from your album. Following lets {brand} send you offers in "
            "WeChat; unfollow at any time to stop them."
        ),
        "zh-CN": (
            "用微信扫一扫此二维码。在本机上：保存图片，再在微信“扫一扫”中从相册选取。"
            "关注后，{brand} 可通过微信向您发送优惠；随时取消关注即可停止。"
        ),
    },
    "wechat_follow_alt": {
        "en": "QR code to follow {brand} on WeChat",
        "zh-CN": "关注 {brand} 微信公众号的二维码",
    },
}
