"""The texts of a trigger's closed-loop report page in zh-CN and English
(marketing/console_reports.py; merged into the console's catalog by portico/console_app.py)."""

from __future__ import annotations

from kernel.i18n import Catalog

REPORTS: Catalog = {
    "mkr_title": {"en": "Closed-loop report", "zh-CN": "闭环效果报表"},
    "mkr_heading": {"en": "Closed-loop report: {name}", "zh-CN": "闭环效果报表：{name}"},
    "mkr_link": {"en": "Report", "zh-CN": "效果报表"},
    "mkr_link_long": {
        "en": "The closed-loop report: contacts, conversions and the uplift against the holdout",
        "zh-CN": "闭环效果报表：触达、转化及相对对照组的增量",
    },
    "mkr_back": {"en": "The trigger", "zh-CN": "触发器"},
    "mkr_intro": {
        "en": "Each shopper the trigger picks is in one of two arms: the treatment gets the "
        "offer, the holdout ({percent} %) gets nothing. What the treatment converts beyond "
        "the holdout is what the offer added.",
        "zh-CN": "触发器选中的每位顾客分入两组之一：实验组收到优惠，对照组（{percent}%）不推送。"
        "实验组超出对照组的转化，就是优惠带来的增量。",
    },
    "mkr_from": {"en": "From", "zh-CN": "开始日期"},
    "mkr_to": {"en": "To", "zh-CN": "结束日期"},
    "mkr_show": {"en": "Show", "zh-CN": "查看"},
    "mkr_csv": {"en": "Download CSV", "zh-CN": "下载 CSV"},
    "mkr_range": {
        "en": "{first} to {last}, days in {zone}; conversion window {days} days.",
        "zh-CN": "{first} 至 {last}（按 {zone} 时间计日）；转化窗口 {days} 天。",
    },
    "mkr_not_final": {
        "en": "A contact converts within {days} days: figures of the last {days} days are not "
        "final yet.",
        "zh-CN": "触达后 {days} 天内的转化都会计入：最近 {days} 天的数字尚未最终确定。",
    },
    # The experiment
    "mkr_experiment": {"en": "The experiment", "zh-CN": "实验结果"},
    "mkr_experiment_intro": {
        "en": "Each shopper counts once, in the arm of their first contact of the trigger, on "
        "the day of that contact; converted when a coupon redemption or a return visit (an "
        "hour or more later) followed it within the window. A treated shopper the budget held "
        "back stays in the treatment.",
        "zh-CN": "每位顾客只计一次：按其在该触发器下的首次触达分组、计入当天；此后在转化窗口内"
        "核销优惠券或再次到店（一小时以后）即为转化。因触达预算未能推送的实验组顾客仍计入实验组。",
    },
    "mkr_arm": {"en": "Arm", "zh-CN": "分组"},
    "mkr_arm_treatment": {"en": "Treatment (offer made)", "zh-CN": "实验组（推送优惠）"},
    "mkr_arm_holdout": {"en": "Holdout (nothing sent)", "zh-CN": "对照组（不推送）"},
    "mkr_arm_outside": {"en": "In no arm", "zh-CN": "未入组"},
    "mkr_arm_all": {"en": "All contacts", "zh-CN": "全部触达"},
    "mkr_shoppers": {"en": "Shoppers", "zh-CN": "顾客数"},
    "mkr_measure_converted": {"en": "Converted", "zh-CN": "转化"},
    "mkr_measure_redemption": {"en": "By a redemption", "zh-CN": "核销优惠券"},
    "mkr_measure_return_visit": {"en": "By a return visit", "zh-CN": "再次到店"},
    "mkr_uplift": {"en": "Uplift (95 % interval)", "zh-CN": "增量（95% 区间）"},
    "mkr_uplift_converted": {"en": "Uplift in conversions", "zh-CN": "转化增量"},
    "mkr_uplift_redemption": {"en": "Uplift in redemptions", "zh-CN": "核销增量"},
    "mkr_uplift_return_visit": {"en": "Uplift in return visits", "zh-CN": "再次到店增量"},
    "mkr_pp": {"en": "{d} pts", "zh-CN": "{d} 个百分点"},
    "mkr_interval": {"en": "95 %: {low} to {high}", "zh-CN": "95% 区间：{low} 至 {high}"},
    "mkr_reading_up": {
        "en": "Above 0 with 95 % confidence: the offer adds conversions.",
        "zh-CN": "以 95% 的置信度高于 0：优惠带来了额外转化。",
    },
    "mkr_reading_down": {
        "en": "Below 0 with 95 % confidence: the offer costs conversions.",
        "zh-CN": "以 95% 的置信度低于 0：优惠减少了转化。",
    },
    "mkr_reading_none": {
        "en": "The interval includes 0: no difference shown yet.",
        "zh-CN": "区间包含 0：尚未显示出差异。",
    },
    "mkr_not_enough": {
        "en": "Not enough data: an arm has no shopper yet.",
        "zh-CN": "数据不足：尚有一组没有顾客。",
    },
    "mkr_of": {"en": "{count} ({rate})", "zh-CN": "{count}（{rate}）"},
    # Contacts
    "mkr_contacts": {"en": "Contacts", "zh-CN": "触达"},
    "mkr_contacts_intro": {
        "en": "Every contact the trigger decided in these days, by what became of it. "
        "In no arm: the shopper could not be contacted at all (no consent, opted out) or had "
        "the offer already.",
        "zh-CN": "这些天触发器决定的每一次触达及其结果。未入组：顾客无法被触达（未授权、已退订）"
        "或已获得过该优惠。",
    },
    "mkr_decided": {"en": "Decided", "zh-CN": "决定触达"},
    "mkr_suppressed_because": {"en": "suppressed: {reason}", "zh-CN": "已抑制：{reason}"},
    "mkr_converted_redemption": {
        "en": "Converted by a redemption",
        "zh-CN": "转化：核销优惠券",
    },
    "mkr_converted_return_visit": {
        "en": "Converted by a return visit",
        "zh-CN": "转化：再次到店",
    },
    "mkr_reason_quiet_hours": {"en": "quiet hours", "zh-CN": "静默时段"},
    "mkr_reason_budget_day": {"en": "the day's budget", "zh-CN": "当日预算已满"},
    "mkr_reason_budget_week": {"en": "the week's budget", "zh-CN": "本周预算已满"},
    "mkr_reason_no_consent": {"en": "no consent", "zh-CN": "未授权"},
    "mkr_reason_opted_out": {"en": "opted out", "zh-CN": "已退订"},
    "mkr_reason_duplicate_offer": {"en": "had the offer already", "zh-CN": "已获得过该优惠"},
    "mkr_reason_no_channel": {"en": "no channel", "zh-CN": "无可用渠道"},
    "mkr_no_contacts": {"en": "No contacts in these days.", "zh-CN": "这些天没有触达。"},
    # Day by day
    "mkr_days": {"en": "Day by day", "zh-CN": "每日数据"},
    "mkr_chart_contacts": {"en": "Contacts decided per day", "zh-CN": "每日触达"},
    "mkr_chart_rate": {
        "en": "Conversion rate of the shoppers so far",
        "zh-CN": "截至当日的累计转化率",
    },
    "mkr_day": {"en": "Day", "zh-CN": "日期"},
    "mkr_going_out": {"en": "Going out", "zh-CN": "实际推送"},
    "mkr_new_shoppers": {"en": "New shoppers", "zh-CN": "新入组顾客"},
    "mkr_of_them_converted": {"en": "Of them converted", "zh-CN": "其中转化"},
    "mkr_days_note": {
        "en": "Shoppers are counted on the day of their first contact; the chart's rate is "
        "their conversions over all shoppers assigned up to that day.",
        "zh-CN": "顾客计入其首次触达的当天；图中的转化率为截至当日入组的全部顾客中已转化的比例。",
    },
    # Errors
    "mkr_error_date": {
        "en": "Dates are written YYYY-MM-DD, from 2000-01-01 to a year from today, each given "
        "once.",
        "zh-CN": "日期格式为 YYYY-MM-DD，范围为 2000-01-01 至一年后，且每项只能给出一次。",
    },
    "mkr_error_format": {
        "en": "The report comes as a page or as CSV (format=csv) only.",
        "zh-CN": "报表只提供网页或 CSV（format=csv）两种格式。",
    },
}
