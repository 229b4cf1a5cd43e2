"""How the console's audit log names the counts of a shopper's data request recorded before
those requests covered every domain (marketing's alone, flat: profiles, contacts, …), in zh-CN
and English. Today's requests and their per-domain counts: portico/messages_shopper_data.py."""

from __future__ import annotations

from kernel.i18n import Catalog

AUDIT: Catalog = {
    "au_field_profiles": {"en": "Profiles", "zh-CN": "顾客画像"},
    "au_field_devices": {"en": "Device links", "zh-CN": "设备关联"},
    "au_field_contacts": {"en": "Contacts", "zh-CN": "触达记录"},
    "au_field_events": {"en": "Events", "zh-CN": "事件"},
    "au_field_opt_outs_kept": {"en": "Opt-outs kept", "zh-CN": "保留的退订"},
}
