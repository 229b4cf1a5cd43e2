"""Marketing's texts of a shopper's data requests, in zh-CN and English: how the console's
audit log names them (portico/shopper_data.py records them)."""

from __future__ import annotations

from kernel.i18n import Catalog

AUDIT: Catalog = {
    "au_action_shopper_export": {
        "en": "Shopper's data exported",
        "zh-CN": "导出顾客数据",
    },
    "au_action_shopper_erase": {
        "en": "Shopper's marketing data erased",
        "zh-CN": "删除顾客营销数据",
    },
    "au_field_profiles": {"en": "Profiles", "zh-CN": "顾客画像"},
    "au_field_devices": {"en": "Device links", "zh-CN": "设备关联"},
    "au_field_contacts": {"en": "Contacts", "zh-CN": "触达记录"},
    "au_field_events": {"en": "Events", "zh-CN": "事件"},
    "au_field_opt_outs_kept": {"en": "Opt-outs kept", "zh-CN": "保留的退订"},
}
