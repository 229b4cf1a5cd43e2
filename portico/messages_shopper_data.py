"""A shopper's data requests in the console's audit log, in zh-CN and English
(portico/shopper_data.py records them): the actions, each domain, and what each counted. A
count is shown as "<domain>: <record> <n>, …" (accounts/audit_page.py labels a field's keys
`au_field_<field>_<key>`)."""

from __future__ import annotations

from kernel.i18n import Catalog

AUDIT: Catalog = {
    "au_action_shopper_export": {"en": "Shopper's data exported", "zh-CN": "导出顾客数据"},
    "au_action_shopper_erase": {"en": "Shopper's data erased", "zh-CN": "删除顾客数据"},
    "au_field_marketing": {"en": "Marketing", "zh-CN": "精准营销"},
    "au_field_portal": {"en": "Portal", "zh-CN": "认证页面"},
    "au_field_ads": {"en": "Ads and coupons", "zh-CN": "广告与优惠券"},
    "au_field_analytics": {"en": "Analytics", "zh-CN": "客流分析"},
    "au_field_controller": {"en": "Routers", "zh-CN": "路由器"},
    # marketing (marketing/privacy.py)
    "au_field_marketing_profiles": {"en": "profiles", "zh-CN": "顾客画像"},
    "au_field_marketing_devices": {"en": "device links", "zh-CN": "设备关联"},
    "au_field_marketing_contacts": {"en": "contacts", "zh-CN": "触达记录"},
    "au_field_marketing_events": {"en": "events", "zh-CN": "事件"},
    "au_field_marketing_opt_outs_kept": {"en": "opt-outs kept", "zh-CN": "保留的退订"},
    # portal (portal/privacy.py)
    "au_field_portal_identities": {"en": "phone numbers and emails", "zh-CN": "手机号与邮箱"},
    "au_field_portal_device_links": {"en": "device links", "zh-CN": "设备关联"},
    "au_field_portal_consents": {"en": "consents", "zh-CN": "营销同意"},
    "au_field_portal_sessions": {"en": "sessions", "zh-CN": "上网会话"},
    "au_field_portal_terms_accepted": {"en": "terms accepted", "zh-CN": "接受的条款"},
    "au_field_portal_opt_outs": {"en": "opt-outs", "zh-CN": "退订"},
    "au_field_portal_opt_outs_kept": {"en": "opt-outs kept", "zh-CN": "保留的退订"},
    "au_field_portal_sms_codes": {"en": "SMS codes", "zh-CN": "短信验证码"},
    "au_field_portal_sms_outbox": {"en": "outbox texts", "zh-CN": "发件箱短信"},
    "au_field_portal_voucher_devices": {"en": "voucher devices", "zh-CN": "上网券设备"},
    "au_field_portal_rate_limits": {"en": "rate-limit counters", "zh-CN": "频率计数"},
    "au_field_portal_wifidog_tokens": {"en": "WiFiDog tokens", "zh-CN": "WiFiDog 令牌"},
    "au_field_portal_authmon_grants": {"en": "authmon grants", "zh-CN": "authmon 授权"},
    # ads (ads/privacy.py)
    "au_field_ads_claims": {"en": "coupon claims", "zh-CN": "领取的优惠券"},
    "au_field_ads_redemptions": {"en": "redemptions", "zh-CN": "核销记录"},
    "au_field_ads_ad_events": {"en": "ad events", "zh-CN": "广告事件"},
    "au_field_ads_identity_devices": {"en": "device links", "zh-CN": "设备关联"},
    # analytics (analytics/privacy.py)
    "au_field_analytics_events": {"en": "events", "zh-CN": "事件"},
    "au_field_analytics_observations": {"en": "sightings", "zh-CN": "探测记录"},
    "au_field_analytics_visits": {"en": "visits", "zh-CN": "到访"},
    "au_field_analytics_login_days": {"en": "login days", "zh-CN": "登录天数"},
    "au_field_analytics_long_stays": {"en": "long stays", "zh-CN": "长时停留"},
    "au_field_analytics_fixed_devices": {"en": "fixed devices", "zh-CN": "固定设备"},
    "au_field_analytics_device_os": {"en": "OS families", "zh-CN": "操作系统"},
    # controller (controller/privacy.py)
    "au_field_controller_telemetry": {"en": "telemetry events", "zh-CN": "遥测事件"},
    "au_field_controller_commands": {"en": "commands holding a MAC", "zh-CN": "含 MAC 的指令"},
}
