"""The console's segment pages' texts in zh-CN and English (marketing/console_segments.py), and
how the audit log names their changes."""

from __future__ import annotations

from kernel.i18n import Catalog

SEGMENTS: Catalog = {
    "mks_title": {"en": "Segments", "zh-CN": "人群"},
    "mks_intro": {
        "en": "A segment is a saved combination of tags and facts; its size is counted over "
        "your shoppers now. Advertisers see only the segments you share, with a count only "
        "when it is at least {k} shoppers, and never a shopper.",
        "zh-CN": "人群是标签与行为条件的组合，人数按当前时刻实时统计。广告主只能看到您共享的人群，"
        "且仅在人数不少于 {k} 人时显示人数，绝不显示任何顾客。",
    },
    "mks_overview_intro": {
        "en": "Saved combinations of tags and facts, their size now, and whether advertisers "
        "see them.",
        "zh-CN": "已保存的标签与条件组合、当前人数，以及是否与广告主共享。",
    },
    "mks_all": {"en": "All segments", "zh-CN": "全部人群"},
    "mks_new": {"en": "New segment", "zh-CN": "新建人群"},
    "mks_edit": {"en": "Segment", "zh-CN": "人群"},
    "mks_add": {"en": "Add the segment", "zh-CN": "添加人群"},
    "mks_empty": {"en": "No segments yet.", "zh-CN": "暂无人群。"},
    "mks_col_segment": {"en": "Segment", "zh-CN": "人群"},
    "mks_col_advertisers": {"en": "Advertisers", "zh-CN": "广告主"},
    "mks_not_shared": {"en": "Not shared", "zh-CN": "未共享"},
    "mks_shared": {"en": "Shared", "zh-CN": "已共享"},
    "mks_they_see": {
        "en": "They see its name and {count} shoppers.",
        "zh-CN": "广告主可见名称及人数 {count} 人。",
    },
    "mks_they_see_fewer": {
        "en": "They see its name and “fewer than {k}”.",
        "zh-CN": "广告主可见名称及“少于 {k} 人”。",
    },
    "mks_size_now": {"en": "Shoppers in it now: {count}", "zh-CN": "当前人数：{count} 人"},
    "mks_size_note": {
        "en": "Sizes are counted over your shoppers as they are now, at most a minute old.",
        "zh-CN": "人数按顾客当前状态统计，最多延迟一分钟。",
    },
    "mks_form_intro": {
        "en": "Choose who is in it with the rule below; Preview counts them now, before you save.",
        "zh-CN": "用下方规则选出人群；保存前可点击“预览受众”查看当前人数。",
    },
    "mks_shared_label": {
        "en": "Share with advertisers (its name, and its size when at least {k} shoppers)",
        "zh-CN": "与广告主共享（名称，以及人数不少于 {k} 人时的人数）",
    },
    "mks_shared_hint": {
        "en": "Only advertisers with a campaign you approved see it, and never who is in it.",
        "zh-CN": "仅您批准过其广告活动的广告主可见，且绝不显示人群中的任何顾客。",
    },
    "mks_delete": {"en": "Delete this segment", "zh-CN": "删除该人群"},
    "mks_delete_hint": {
        "en": "Advertisers stop seeing it at once; the audit log keeps its rule.",
        "zh-CN": "删除后广告主立即不再可见；审计日志会保留其规则。",
    },
    "mks_notice_added": {"en": "The segment was added.", "zh-CN": "人群已添加。"},
    "mks_notice_saved": {"en": "The segment was saved.", "zh-CN": "人群已保存。"},
    "mks_notice_deleted": {"en": "The segment was deleted.", "zh-CN": "人群已删除。"},
    "mks_err_too_many": {
        "en": "A merchant has at most {count} segments: delete one first.",
        "zh-CN": "每个商户最多 {count} 个人群，请先删除一个。",
    },
    # The audit log's names (accounts/audit_page.py)
    "au_action_marketing_segment_create": {"en": "Segment added", "zh-CN": "添加人群"},
    "au_action_marketing_segment_update": {"en": "Segment changed", "zh-CN": "修改人群"},
    "au_action_marketing_segment_delete": {"en": "Segment deleted", "zh-CN": "删除人群"},
    "au_field_mkc_shared": {"en": "shared with advertisers", "zh-CN": "与广告主共享"},
}
