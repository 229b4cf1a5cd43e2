"""The advertiser console's Segments page's texts in zh-CN and English
(ads/advertiser_segments.py)."""

from __future__ import annotations

from kernel.i18n import Catalog

SEGMENTS: Catalog = {
    "advs_link": {"en": "Shared segments", "zh-CN": "共享人群"},
    "advs_title": {"en": "Shared segments", "zh-CN": "共享人群"},
    "advs_intro": {
        "en": "The shopper segments the venues you advertise at share with advertisers: each "
        "one's name, and how many shoppers are in it now when they are at least the venue's "
        "threshold. You never see a shopper. A venue appears once it has approved one of your "
        "campaigns.",
        "zh-CN": "您投放的场所与广告主共享的顾客人群：名称，以及人数达到该场所门槛时的当前人数。"
        "您不会看到任何顾客。场所批准您的任一广告活动后即会显示在这里。",
    },
    "advs_k": {
        "en": "Counts under {k} shoppers are not shown.",
        "zh-CN": "少于 {k} 人的人群不显示人数。",
    },
    "advs_col_segment": {"en": "Segment", "zh-CN": "人群"},
    "advs_col_size": {"en": "Shoppers now", "zh-CN": "当前人数"},
    "advs_size": {"en": "{count}", "zh-CN": "{count} 人"},
    "advs_fewer": {"en": "fewer than {k}", "zh-CN": "少于 {k} 人"},
    "advs_none_shared": {
        "en": "This venue shares no segments yet.",
        "zh-CN": "该场所暂未共享任何人群。",
    },
    "advs_no_venues": {
        "en": "No venue has approved one of your campaigns yet: the segments a venue shares "
        "appear here once it does.",
        "zh-CN": "暂无场所批准您的广告活动；场所批准后，其共享的人群会显示在这里。",
    },
}
