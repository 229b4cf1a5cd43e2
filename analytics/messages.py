"""The dashboard's texts in zh-CN and English."""

from __future__ import annotations

from kernel.i18n import Catalog

MESSAGES: Catalog = {
    "dashboard_title": {"en": "Today's WiFi logins", "zh-CN": "今日 WiFi 登录"},
    "dashboard_intro": {
        "en": "Each store counts its own calendar day, in its own time zone.",
        "zh-CN": "各门店按所在时区的自然日统计。",
    },
    "dashboard_updated": {
        "en": "Updated {time} ({zone}) · refreshes every 30 seconds",
        "zh-CN": "更新于 {time}（{zone}）· 每 30 秒自动刷新",
    },
    "dashboard_no_merchants": {
        "en": "Your account is not linked to any merchant yet. Ask the merchant's owner to "
        "add you.",
        "zh-CN": "您的账户尚未关联任何商户，请联系商户管理员添加。",
    },
    "dashboard_no_stores": {
        "en": "This merchant has no stores yet.",
        "zh-CN": "该商户还没有门店。",
    },
    "role_owner": {"en": "Owner", "zh-CN": "管理员"},
    "role_staff": {"en": "Staff", "zh-CN": "店员"},
    "col_store": {"en": "Store", "zh-CN": "门店"},
    "col_logins": {"en": "Logins today", "zh-CN": "今日登录次数"},
    "col_devices": {"en": "Distinct devices", "zh-CN": "独立设备数"},
    "col_last_login": {"en": "Last login (store time)", "zh-CN": "最近登录（门店时间）"},
    "col_time": {"en": "Time (store time)", "zh-CN": "时间（门店时间）"},
    "col_device": {"en": "Device", "zh-CN": "设备"},
    "col_method": {"en": "Method", "zh-CN": "登录方式"},
    "total": {"en": "All stores", "zh-CN": "全部门店"},
    "recent_title": {"en": "Latest logins (last 24 hours)", "zh-CN": "最近登录（24 小时内）"},
    "recent_none": {"en": "No logins in the last 24 hours.", "zh-CN": "24 小时内暂无登录。"},
    "device_hint": {
        "en": "Devices are shown by a pseudonymous id, never by their MAC address.",
        "zh-CN": "设备以匿名标识显示，不显示 MAC 地址。",
    },
    "unknown_store": {"en": "Unknown store", "zh-CN": "未知门店"},
    "method_click": {"en": "Click-through", "zh-CN": "一键上网"},
    "method_sms": {"en": "SMS code", "zh-CN": "短信验证码"},
    "method_voucher": {"en": "Voucher", "zh-CN": "上网券"},
    "method_email": {"en": "Email", "zh-CN": "邮箱"},
    "method_returning": {"en": "Returning device", "zh-CN": "回头客免登录"},
    "routers_title": {"en": "Routers", "zh-CN": "路由器"},
    "routers_none": {"en": "No routers yet.", "zh-CN": "还没有路由器。"},
    "routers_manage": {"en": "Add or revoke →", "zh-CN": "添加或吊销 →"},
    "col_router": {"en": "Router", "zh-CN": "路由器"},
    "col_gateway": {"en": "Gateway", "zh-CN": "网关类型"},
    "col_status": {"en": "Status", "zh-CN": "状态"},
    "col_last_seen": {"en": "Last heard (store time)", "zh-CN": "最近联系（门店时间）"},
    "gateway_opennds_1": {
        "en": "openNDS + agent, FAS level 1",
        "zh-CN": "openNDS + 代理，FAS 1 级",
    },
    "gateway_opennds_2": {
        "en": "openNDS + agent, FAS level 2",
        "zh-CN": "openNDS + 代理，FAS 2 级",
    },
    "gateway_opennds_3": {
        "en": "openNDS + agent, FAS level 3",
        "zh-CN": "openNDS + 代理，FAS 3 级",
    },
    "gateway_wifidog": {"en": "WiFiDog gateway", "zh-CN": "WiFiDog 网关"},
    "router_online": {"en": "Online", "zh-CN": "在线"},
    "router_offline": {"en": "Offline", "zh-CN": "离线"},
    "never": {"en": "never", "zh-CN": "从未"},
}
