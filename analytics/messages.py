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
    # Footfall dashboards (analytics/dashboards.py) ------------------------------------------
    "nav_footfall": {"en": "Footfall", "zh-CN": "客流"},
    "ff_title": {"en": "Footfall", "zh-CN": "客流分析"},
    "ff_page_overview": {"en": "Overview", "zh-CN": "概况"},
    "ff_page_trends": {"en": "Trends", "zh-CN": "趋势"},
    "ff_page_dwell": {"en": "Dwell & loyalty", "zh-CN": "停留与忠诚度"},
    "ff_page_heatmap": {"en": "Busy hours", "zh-CN": "热力图"},
    "ff_page_stores": {"en": "Stores", "zh-CN": "门店对比"},
    "ff_merchant": {"en": "Merchant", "zh-CN": "商户"},
    "ff_store": {"en": "Store", "zh-CN": "门店"},
    "ff_all_stores": {"en": "All stores", "zh-CN": "全部门店"},
    "ff_zone": {"en": "Zone (access point)", "zh-CN": "区域（接入点）"},
    "ff_all_zones": {"en": "Whole store", "zh-CN": "整个门店"},
    "ff_zone_needs_store": {
        "en": "Choose one store to see its zones.",
        "zh-CN": "请先选择一个门店再选区域。",
    },
    "ff_day": {"en": "Day", "zh-CN": "日期"},
    "ff_from": {"en": "From", "zh-CN": "开始日期"},
    "ff_to": {"en": "To", "zh-CN": "结束日期"},
    "ff_show": {"en": "Show", "zh-CN": "查看"},
    "ff_error_bad_filter": {
        "en": "The filter “{name}” is not valid. Pick it again from the form.",
        "zh-CN": "筛选条件“{name}”无效，请在表单中重新选择。",
    },
    "ff_suppressed_note": {
        "en": "means fewer than 10 devices: such small numbers are hidden so that no shopper "
        "can be singled out, and rates and medians built on them are hidden too.",
        "zh-CN": "表示少于 10 台设备：为避免识别出个别顾客，此类小数字不予显示，"
        "基于它们计算的比率和中位数也一并隐藏。",
    },
    "ff_definitions_note": {
        "en": "Visitors: inside the store for 5 minutes or more, or logged in to the WiFi. "
        "Passers-by: detected nearby but not visitors. Capture rate: visitors ÷ all detected "
        "devices. Counts over several days add up each day's devices (phones change their "
        "random addresses, so a device is only recognised within a day). Times are store-local.",
        "zh-CN": "到店顾客：在店内停留 5 分钟以上，或登录了 WiFi。"
        "路过客流：在附近被探测到但未进店。"
        "进店率：到店顾客 ÷ 全部探测到的设备。多天的数量为每天设备数之和（手机会更换随机地址，"
        "只能在同一天内识别同一设备）。时间均为门店当地时间。",
    },
    "ff_overview_heading_live": {"en": "Today, {day}", "zh-CN": "今天，{day}"},
    "ff_overview_heading": {"en": "{day}", "zh-CN": "{day}"},
    "ff_usual_explained": {
        "en": "Usual: the average {weekday} of the last 4 weeks ({days} with data)",
        "zh-CN": "平常：过去 4 周{weekday}的平均值（{days} 天有数据）",
    },
    "ff_usual_none": {
        "en": "No earlier {weekday} with data to compare with yet",
        "zh-CN": "还没有之前{weekday}的数据可供对比",
    },
    "ff_usual_by": {
        "en": "counts set against a usual day up to {time}",
        "zh-CN": "计数与平常截至 {time} 的数值对比",
    },
    "ff_usual": {"en": "usual", "zh-CN": "平常"},
    "ff_usual_now": {"en": "usual at this hour", "zh-CN": "平常此时"},
    "ff_m_occupancy": {"en": "In the store now", "zh-CN": "当前在店"},
    "ff_occupancy_unit": {
        "en": "devices seen in the last 10 minutes",
        "zh-CN": "过去 10 分钟内出现的设备数",
    },
    "ff_people_now": {"en": "≈ {people} people (estimate)", "zh-CN": "约 {people} 人（估算）"},
    "ff_occupancy_heading": {
        "en": "In the store, the last 24 hours",
        "zh-CN": "过去 24 小时在店设备数",
    },
    "ff_series_average": {"en": "Average", "zh-CN": "平均"},
    "ff_series_peak": {"en": "Peak", "zh-CN": "峰值"},
    "ff_m_visitors": {"en": "Visitors", "zh-CN": "到店顾客"},
    "ff_m_passers_by": {"en": "Passers-by", "zh-CN": "路过客流"},
    "ff_m_detected": {"en": "Detected devices", "zh-CN": "探测到的设备"},
    "ff_m_connected": {"en": "Connected", "zh-CN": "已连接 WiFi"},
    "ff_m_capture_rate": {"en": "Capture rate", "zh-CN": "进店率"},
    "ff_m_visits": {"en": "Visits", "zh-CN": "到访次数"},
    "ff_m_median_dwell": {"en": "Median dwell", "zh-CN": "停留时长中位数"},
    "ff_m_mean_dwell": {"en": "Average dwell", "zh-CN": "平均停留时长"},
    "ff_m_bounce_rate": {"en": "Bounce rate", "zh-CN": "跳出率"},
    "ff_m_engaged_rate": {"en": "Engaged", "zh-CN": "深度到访率"},
    "ff_m_returning_share": {"en": "Returning", "zh-CN": "回头客占比"},
    "ff_m_randomized_share": {"en": "Random addresses", "zh-CN": "随机地址占比"},
    "ff_m_median_dwell_hint": {"en": "of visitors' visits", "zh-CN": "按到店访问计算"},
    "ff_m_bounce_rate_hint": {"en": "left within 3 minutes", "zh-CN": "3 分钟内离开"},
    "ff_m_engaged_rate_hint": {"en": "stayed 15 minutes or more", "zh-CN": "停留 15 分钟及以上"},
    "ff_m_returning_share_hint": {
        "en": "of visits, last visit on another day",
        "zh-CN": "上次到访在另一天的到访占比",
    },
    "ff_visits_by_hour": {"en": "Visits by hour", "zh-CN": "每小时到访次数"},
    "ff_csv": {"en": "CSV", "zh-CN": "导出 CSV"},
    "ff_export": {"en": "Export:", "zh-CN": "导出："},
    "ff_csv_summary": {"en": "summary (CSV)", "zh-CN": "汇总（CSV）"},
    "ff_show_table": {"en": "Show as a table", "zh-CN": "以表格显示"},
    "ff_hour": {"en": "Hour", "zh-CN": "小时"},
    "ff_series_day": {"en": "This day", "zh-CN": "当天"},
    "ff_series_usual": {"en": "Usual {weekday}", "zh-CN": "平常{weekday}"},
    "ff_per_store": {"en": "By store", "zh-CN": "各门店"},
    "ff_measure": {"en": "Measure", "zh-CN": "指标"},
    "ff_granularity": {"en": "By", "zh-CN": "粒度"},
    "ff_by_day": {"en": "Day", "zh-CN": "按日"},
    "ff_by_week": {"en": "Week", "zh-CN": "按周"},
    "ff_by_month": {"en": "Month", "zh-CN": "按月"},
    "ff_compared_with": {
        "en": "compared with {first} – {last}",
        "zh-CN": "对比 {first} 至 {last}",
    },
    "ff_this_period": {"en": "{first} – {last}", "zh-CN": "{first} 至 {last}"},
    "ff_series_this_period": {"en": "This period", "zh-CN": "本期"},
    "ff_so_far": {"en": "{period} (so far)", "zh-CN": "{period}（截至目前）"},
    "ff_series_previous": {"en": "Previous period", "zh-CN": "上期"},
    "ff_table": {"en": "Each period", "zh-CN": "分期明细"},
    "ff_period": {"en": "Period", "zh-CN": "时段"},
    "ff_previous_period": {"en": "Compared with", "zh-CN": "对比时段"},
    "ff_change": {"en": "Change", "zh-CN": "变化"},
    "ff_dwell_heading": {"en": "How long visits last", "zh-CN": "停留时长分布"},
    "ff_dwell": {"en": "Dwell", "zh-CN": "停留时长"},
    "ff_dwell_5_20": {"en": "5–20 min", "zh-CN": "5–20 分钟"},
    "ff_dwell_20_60": {"en": "20–60 min", "zh-CN": "20–60 分钟"},
    "ff_dwell_1_6h": {"en": "1–6 h", "zh-CN": "1–6 小时"},
    "ff_dwell_6h_plus": {"en": "6 h and more", "zh-CN": "6 小时以上"},
    "ff_loyalty_heading": {"en": "Loyalty", "zh-CN": "顾客忠诚度"},
    "ff_loyalty_intro": {
        "en": "Shoppers who logged in to the WiFi, by how often they come back.",
        "zh-CN": "登录过 WiFi 的顾客，按回访频率分类。",
    },
    "ff_loyalty_class": {"en": "Comes", "zh-CN": "回访频率"},
    "ff_shoppers": {"en": "Shoppers", "zh-CN": "顾客数"},
    "ff_total": {"en": "Total", "zh-CN": "合计"},
    "ff_total_hidden": {
        "en": "hidden (it would give away the < 10)",
        "zh-CN": "不显示（否则可推算出 < 10 的数字）",
    },
    "ff_loyalty_first_time": {"en": "First time", "zh-CN": "首次到访"},
    "ff_loyalty_daily": {"en": "Daily", "zh-CN": "每天"},
    "ff_loyalty_weekly": {"en": "Weekly", "zh-CN": "每周"},
    "ff_loyalty_biweekly": {"en": "Every two weeks", "zh-CN": "每两周"},
    "ff_loyalty_monthly": {"en": "Monthly", "zh-CN": "每月"},
    "ff_heatmap_heading": {"en": "Visits by weekday and hour", "zh-CN": "按星期和小时的到访次数"},
    "ff_peak_hour": {"en": "Peak hour:", "zh-CN": "高峰时段："},
    "ff_visits_unit": {"en": "visits", "zh-CN": "次到访"},
    "ff_busiest": {"en": "busiest slot:", "zh-CN": "最繁忙："},
    "ff_no_visits": {"en": "No visits in this range.", "zh-CN": "该时间范围内没有到访。"},
    "ff_heat_legend": {"en": "Fewer visits → more", "zh-CN": "到访少 → 多"},
    "ff_stores_heading": {"en": "Stores side by side", "zh-CN": "门店对比"},
    # Footfall settings (analytics/settings_page.py) -----------------------------------------
    "ff_page_settings": {"en": "Settings", "zh-CN": "设置"},
    "ffs_intro": {
        "en": "How footfall is counted at one store, and how long its data is kept.",
        "zh-CN": "单个门店的客流统计规则，以及数据的保留时长。",
    },
    "ffs_staff_readonly": {
        "en": "Only an owner of {merchant} can change these settings.",
        "zh-CN": "只有{merchant}的管理员可以修改这些设置。",
    },
    "ffs_error_owner_only": {
        "en": "Only an owner of the merchant can change footfall settings.",
        "zh-CN": "只有商户管理员可以修改客流设置。",
    },
    "ffs_save": {"en": "Save", "zh-CN": "保存"},
    "ffs_not_saved": {
        "en": "Nothing was saved: correct the fields marked below.",
        "zh-CN": "未保存：请修改下方标出的字段。",
    },
    "ffs_limits": {
        "en": "Default {default}; {low} to {high}.",
        "zh-CN": "默认 {default}；可设 {low} 至 {high}。",
    },
    "ffs_unit_dbm": {"en": "dBm", "zh-CN": "dBm"},
    "ffs_unit_seconds": {"en": "seconds", "zh-CN": "秒"},
    "ffs_unit_hours": {"en": "hours", "zh-CN": "小时"},
    "ffs_unit_days": {"en": "days", "zh-CN": "天"},
    "ffs_error_required": {"en": "Enter a value.", "zh-CN": "请输入数值。"},
    "ffs_error_whole_number": {"en": "Enter a whole number.", "zh-CN": "请输入整数。"},
    "ffs_error_range": {
        "en": "Enter a whole number from {low} to {high}.",
        "zh-CN": "请输入 {low} 至 {high} 之间的整数。",
    },
    "ffs_error_inside_weaker": {
        "en": "Must not be weaker than the detection threshold ({detected} dBm).",
        "zh-CN": "不能低于探测阈值（{detected} dBm）。",
    },
    # Metric definitions
    "ffs_metrics_heading": {"en": "Footfall definitions", "zh-CN": "客流统计规则"},
    "ffs_metrics_intro": {
        "en": "For {store} only. New values apply to footfall computed from now on; days "
        "already counted keep their numbers.",
        "zh-CN": "仅适用于{store}。新数值对此后统计的客流生效，已统计的日期保持原有数字。",
    },
    "ffs_f_detected_rssi": {"en": "Detected from", "zh-CN": "探测信号阈值"},
    "ffs_f_detected_rssi_hint": {
        "en": "A sighting weaker than this is ignored.",
        "zh-CN": "信号弱于此值的记录将被忽略。",
    },
    "ffs_f_inside_rssi": {"en": "Inside the store from", "zh-CN": "店内信号阈值"},
    "ffs_f_inside_rssi_hint": {
        "en": "A sighting at least this strong is inside the store. Lower it for a large "
        "shop, raise it on a busy street.",
        "zh-CN": "信号不弱于此值即视为在店内。大型门店可调低，临街热闹的门店可调高。",
    },
    "ffs_f_visitor_min_dwell": {"en": "Visitor after", "zh-CN": "到店顾客最短停留"},
    "ffs_f_visitor_min_dwell_hint": {
        "en": "Inside for at least this long makes a visitor (anyone who logs in to the WiFi "
        "is one anyway).",
        "zh-CN": "在店内停留至少这么久才算到店顾客（登录 WiFi 的设备一律算到店顾客）。",
    },
    "ffs_f_visit_gap": {"en": "Visit ends after a silence of", "zh-CN": "到访结束间隔"},
    "ffs_f_visit_gap_hint": {
        "en": "A device not heard for longer than this has left; its next sighting starts a "
        "new visit.",
        "zh-CN": "设备超过此时长未被探测到即视为离开，再次出现算作新的到访。",
    },
    "ffs_f_visit_cap": {"en": "Longest visit", "zh-CN": "单次到访上限"},
    "ffs_f_visit_cap_hint": {
        "en": "A visit is cut at this length.",
        "zh-CN": "到访时长达到此值即截断。",
    },
    "ffs_f_bounce": {"en": "Bounce if shorter than", "zh-CN": "跳出时长"},
    "ffs_f_bounce_hint": {
        "en": "A visit that entered the store and lasted less than this bounced.",
        "zh-CN": "进店后停留短于此时长的到访算作跳出。",
    },
    "ffs_f_engaged": {"en": "Engaged from", "zh-CN": "深度到访时长"},
    "ffs_f_engaged_hint": {
        "en": "A visit that entered the store and lasted at least this long is engaged.",
        "zh-CN": "进店后停留不短于此时长的到访算作深度到访。",
    },
    "ffs_saved_metrics": {
        "en": "Saved the footfall definitions of {store}. They apply from now on.",
        "zh-CN": "已保存{store}的客流统计规则，自现在起生效。",
    },
    # Retention
    "ffs_retention_heading": {"en": "How long data is kept", "zh-CN": "数据保留时长"},
    "ffs_retention_intro": {
        "en": "For every store of {merchant}. Hourly and daily totals are kept; no MAC address "
        "is ever stored.",
        "zh-CN": "适用于{merchant}的所有门店。每小时和每日汇总会一直保留；"
        "任何时候都不保存 MAC 地址。",
    },
    "ffs_f_raw_hours": {"en": "Raw observations", "zh-CN": "原始探测记录"},
    "ffs_f_raw_hours_hint": {
        "en": "Each sighting of a device, by its pseudonymous id. They are dropped by whole "
        "days, so one may stay up to a day longer.",
        "zh-CN": "每条设备探测记录（以匿名标识保存）。按整天删除，因此最多可能多保留一天。",
    },
    "ffs_f_visits_days": {"en": "Visits", "zh-CN": "到访记录"},
    "ffs_f_visits_days_hint": {
        "en": "Each visit of a device. Returning visitors are recognised within this time.",
        "zh-CN": "每台设备的每次到访。回头客只在此期间内能被识别。",
    },
    "ffs_saved_retention": {
        "en": "Saved how long the footfall data of {merchant} is kept.",
        "zh-CN": "已保存{merchant}客流数据的保留时长。",
    },
    # Staff and fixed devices
    "ffs_devices_heading": {"en": "Staff and fixed devices", "zh-CN": "员工及固定设备"},
    "ffs_devices_intro": {
        "en": "These devices of {store} are not counted. A device seen over 6 hours a day on 3 "
        "of the last 7 days is found by itself, and counted again once it no longer is; you "
        "can also add one by its MAC address.",
        "zh-CN": "{store}的以下设备不计入客流。过去 7 天中有 3 天每天出现超过 6 小时的设备会被"
        "自动识别，不再符合条件后重新计入；您也可以按 MAC 地址手动添加。",
    },
    "ffs_devices_none": {
        "en": "No staff or fixed devices yet.",
        "zh-CN": "暂无员工或固定设备。",
    },
    "ffs_devices_more": {
        "en": "Showing the newest {shown} of {total}.",
        "zh-CN": "显示最新的 {shown} 台，共 {total} 台。",
    },
    "ffs_col_device": {"en": "Device", "zh-CN": "设备"},
    "ffs_col_reason": {"en": "How", "zh-CN": "来源"},
    "ffs_col_since": {"en": "Not counted since", "zh-CN": "不计入起始时间"},
    "ffs_col_long_days": {"en": "Days over 6 h (last 7)", "zh-CN": "超过 6 小时的天数（近 7 天）"},
    "ffs_col_last_day": {"en": "Last day over 6 h", "zh-CN": "最近一次超过 6 小时"},
    "ffs_col_longest": {"en": "Longest day", "zh-CN": "单日最长"},
    "ffs_hours": {"en": "{hours} h", "zh-CN": "{hours} 小时"},
    "ffs_reason_listed": {"en": "Added by you", "zh-CN": "手动添加"},
    "ffs_reason_detected": {"en": "Found by itself", "zh-CN": "自动识别"},
    "ffs_remove": {"en": "Count again", "zh-CN": "重新计入"},
    "ffs_add_device": {"en": "Add a device", "zh-CN": "添加设备"},
    "ffs_f_mac": {"en": "MAC address", "zh-CN": "MAC 地址"},
    "ffs_f_mac_hint": {
        "en": "The address the device uses on this store's WiFi (phones show a private "
        "address per network). Only a keyed hash of it is kept.",
        "zh-CN": "设备连接本店 WiFi 时使用的地址（手机对每个网络显示不同的私有地址）。"
        "系统只保存其加密哈希，不保存地址本身。",
    },
    "ffs_add": {"en": "Add", "zh-CN": "添加"},
    "ffs_error_mac": {
        "en": "Enter a MAC address such as 3c:22:fb:12:34:56.",
        "zh-CN": "请输入 MAC 地址，例如 3c:22:fb:12:34:56。",
    },
    "ffs_error_mac_group": {
        "en": "That is a group (multicast) address, not a device's.",
        "zh-CN": "这是组播地址，不是设备地址。",
    },
    "ffs_error_not_listed": {
        "en": "That device is not on the list of devices you added.",
        "zh-CN": "该设备不在手动添加的列表中。",
    },
    "ffs_device_added": {
        "en": "Added the device: its sightings at {store} are dropped within a minute.",
        "zh-CN": "已添加该设备：一分钟内起，它在{store}的探测记录将被忽略。",
    },
    "ffs_device_removed": {
        "en": "The device is counted again at {store} within a minute.",
        "zh-CN": "一分钟内起，该设备将在{store}重新计入客流。",
    },
    # Occupancy calibration
    "ffs_calibration_heading": {"en": "People in the store", "zh-CN": "在店人数估算"},
    "ffs_calibration_intro": {
        "en": "The overview estimates how many people are in the store from the devices it "
        "hears, once the estimate is calibrated on a few head counts of your own.",
        "zh-CN": "完成校准后，概况页会根据探测到的设备估算店内人数。校准需要几次您亲自清点的人数。",
    },
    "ffs_calibration_none": {
        "en": "Not calibrated: the overview shows devices, not people.",
        "zh-CN": "尚未校准：概况页只显示设备数，不显示人数。",
    },
    "ffs_calibration_current": {
        "en": "people ≈ {w_random} × devices with a random address + {w_static} × devices with "
        "a fixed address + {intercept}",
        "zh-CN": "人数 ≈ {w_random} × 随机地址设备数 + {w_static} × 固定地址设备数 + {intercept}",
    },
    "ffs_calibration_how": {
        "en": "Count the people in the store at 2 to 4 moments of the day — some busy, some "
        "quiet — and enter them here within {hours} hours (the raw observations are kept that "
        "long). The new calibration replaces the current one; the counts themselves are not "
        "kept.",
        "zh-CN": "请在一天中的 2 至 4 个时刻（有忙有闲）清点店内人数，并在 {hours} 小时内于此录入"
        "（原始探测记录只保留这么久）。新的校准会替换当前校准，清点的人数本身不会保存。",
    },
    "ffs_f_count_time": {"en": "Time (store time)", "zh-CN": "时间（门店时间）"},
    "ffs_f_people": {"en": "People counted", "zh-CN": "清点人数"},
    "ffs_calibrate": {"en": "Calibrate", "zh-CN": "校准"},
    "ffs_forget_calibration": {"en": "Remove the calibration", "zh-CN": "删除校准"},
    "ffs_error_row_incomplete": {
        "en": "Enter both the time and the number of people.",
        "zh-CN": "请同时填写时间和人数。",
    },
    "ffs_error_time": {
        "en": "Enter a date and time such as 2026-05-04 14:00.",
        "zh-CN": "请输入日期和时间，例如 2026-05-04 14:00。",
    },
    "ffs_error_time_recent": {
        "en": "Must be at least {minutes} minutes ago.",
        "zh-CN": "必须是至少 {minutes} 分钟之前的时间。",
    },
    "ffs_error_time_old": {
        "en": "Older than the {hours} hours the raw observations are kept.",
        "zh-CN": "早于原始探测记录的保留时长（{hours} 小时）。",
    },
    "ffs_error_too_few": {
        "en": "Enter at least {count} head counts.",
        "zh-CN": "请至少录入 {count} 次清点人数。",
    },
    "ffs_error_flat": {
        "en": "The store heard the same number of devices at each of these times: add a count "
        "from a busier or a quieter moment.",
        "zh-CN": "这些时刻探测到的设备数相同：请补充一个更忙或更闲时刻的清点。",
    },
    "ffs_error_backwards": {
        "en": "These counts give fewer people for more devices: check them, or add counts from "
        "other moments.",
        "zh-CN": "这些清点结果显示设备越多人数越少：请检查数字，或补充其他时刻的清点。",
    },
    "ffs_calibrated": {
        "en": "Calibrated: the overview now estimates the people in {store}.",
        "zh-CN": "校准完成：概况页现在会估算{store}的在店人数。",
    },
    "ffs_calibration_forgotten": {
        "en": "Removed the calibration of {store}.",
        "zh-CN": "已删除{store}的校准。",
    },
    # The audit log's names (accounts/audit_page.py: au_action_<record>_<verb>, au_field_<name>)
    "au_action_footfall_metrics": {"en": "Footfall settings changed", "zh-CN": "修改客流设置"},
    "au_action_footfall_retention": {"en": "Footfall data kept", "zh-CN": "修改客流数据保留期"},
    "au_action_footfall_add_device": {"en": "Fixed device listed", "zh-CN": "添加固定设备"},
    "au_action_footfall_remove_device": {"en": "Fixed device removed", "zh-CN": "移除固定设备"},
    "au_action_footfall_calibrate": {"en": "Occupancy calibrated", "zh-CN": "校准在店人数"},
    "au_action_footfall_forget_calibration": {
        "en": "Occupancy calibration removed",
        "zh-CN": "删除在店人数校准",
    },
    "au_field_inside_rssi": {"en": "Inside signal (dBm)", "zh-CN": "店内信号（dBm）"},
    "au_field_detected_rssi": {"en": "Detected signal (dBm)", "zh-CN": "探测信号（dBm）"},
    "au_field_visitor_min_dwell": {"en": "Visitor after (s)", "zh-CN": "访客最短停留（秒）"},
    "au_field_visit_gap": {"en": "Visit gap (s)", "zh-CN": "到访间隔（秒）"},
    "au_field_visit_cap": {"en": "Longest visit (s)", "zh-CN": "最长到访（秒）"},
    "au_field_bounce": {"en": "Bounce under (s)", "zh-CN": "跳出时长（秒）"},
    "au_field_engaged": {"en": "Engaged over (s)", "zh-CN": "深度停留（秒）"},
    "au_field_raw_hours": {"en": "Raw data kept (hours)", "zh-CN": "原始数据保留（小时）"},
    "au_field_visits_days": {"en": "Visits kept (days)", "zh-CN": "到访记录保留（天）"},
    "au_field_fixed_devices": {"en": "Fixed devices", "zh-CN": "固定设备数"},
    "au_field_w_random": {"en": "Weight, random MACs", "zh-CN": "随机 MAC 权重"},
    "au_field_w_static": {"en": "Weight, fixed MACs", "zh-CN": "固定 MAC 权重"},
    "au_field_intercept": {"en": "Intercept", "zh-CN": "截距"},
}
