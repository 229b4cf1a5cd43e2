"""The Routers page's texts in zh-CN and English."""

from __future__ import annotations

from kernel.i18n import Catalog

MESSAGES: Catalog = {
    "routers_page_title": {"en": "Routers", "zh-CN": "路由器管理"},
    "routers_page_intro": {
        "en": "Add a router to a store: the console gives you one line to run on it. The router "
        "then logs in with its own account, which you can revoke at any time.",
        "zh-CN": "为门店添加路由器：后台会给出一行安装命令，在路由器上运行即可。"
        "路由器随后使用自己的专属账号连接，您可随时吊销。",
    },
    "routers_revoked_notice": {
        "en": "Router {router_id} is revoked: it has been cut off and can no longer connect.",
        "zh-CN": "路由器 {router_id} 已吊销：已断开连接，且无法再次连接。",
    },
    "routers_list_empty": {
        "en": "No routers yet. Add the first one below.",
        "zh-CN": "还没有路由器，请在下方添加第一台。",
    },
    "col_actions": {"en": "Actions", "zh-CN": "操作"},
    "col_firmware": {"en": "Firmware", "zh-CN": "固件"},
    "col_clients": {"en": "Clients", "zh-CN": "在线终端"},
    "col_config": {"en": "Configuration", "zh-CN": "配置"},
    "config_none": {"en": "—", "zh-CN": "—"},
    "config_in_sync": {"en": "v{desired} applied", "zh-CN": "v{desired} 已生效"},
    "config_pending": {
        "en": "v{desired} not applied yet (v{applied} in effect)",
        "zh-CN": "v{desired} 尚未生效（当前 v{applied}）",
    },
    "config_failed": {
        "en": "v{desired} failed, rolled back to v{applied}: {error}",
        "zh-CN": "v{desired} 应用失败，已回滚到 v{applied}：{error}",
    },
    "config_rejected": {
        "en": "v{desired} rejected by the router: {error}",
        "zh-CN": "v{desired} 被路由器拒绝：{error}",
    },
    "action_reboot": {"en": "Reboot", "zh-CN": "重启"},
    "action_reapply": {"en": "Apply config again", "zh-CN": "重新下发配置"},
    "routers_reboot_done": {
        "en": "{name} is rebooting. It will be back online in a minute or two.",
        "zh-CN": "{name} 正在重启，一两分钟后会重新上线。",
    },
    "action_history": {"en": "History", "zh-CN": "操作记录"},
    "history_title": {"en": "History of {name}", "zh-CN": "{name} 的操作记录"},
    "history_intro": {
        "en": "the last {n} commands sent to this router, who sent them and what it answered",
        "zh-CN": "最近 {n} 条发往该路由器的指令：由谁发出、路由器如何回应",
    },
    "history_empty": {
        "en": "No commands have been sent to this router yet.",
        "zh-CN": "尚未向该路由器发送任何指令。",
    },
    "col_when": {"en": "When (store time)", "zh-CN": "时间（门店时间）"},
    "col_command": {"en": "Command", "zh-CN": "指令"},
    "col_sent_by": {"en": "Sent by", "zh-CN": "发起方"},
    "col_outcome": {"en": "Outcome", "zh-CN": "结果"},
    "op_auth": {"en": "Let a phone through (login)", "zh-CN": "放行终端（登录）"},
    "op_deauth": {"en": "End a phone's access", "zh-CN": "结束终端上网"},
    "op_restore": {
        "en": "Let phones through again after openNDS restarted",
        "zh-CN": "openNDS 重启后恢复放行终端",
    },
    "op_ping": {"en": "Ping", "zh-CN": "连通检测"},
    "op_tele_resend": {"en": "Send recent telemetry again", "zh-CN": "重新上报近期数据"},
    "op_diagnostics": {"en": "Diagnostics", "zh-CN": "诊断"},
    "op_reboot": {"en": "Reboot", "zh-CN": "重启"},
    "op_apply-config": {"en": "Apply the configuration", "zh-CN": "应用配置"},
    "by_portal": {"en": "A shopper (portal)", "zh-CN": "顾客（门户）"},
    "by_controller": {"en": "Portico (automatic)", "zh-CN": "Portico（自动）"},
    "by_cli": {"en": "Command line", "zh-CN": "命令行"},
    "by_console": {"en": "Console", "zh-CN": "商户后台"},
    "by_unknown": {"en": "—", "zh-CN": "—"},
    "by_former_member": {"en": "A former member", "zh-CN": "已移除的成员"},
    "outcome_done": {"en": "Done", "zh-CN": "已完成"},
    "outcome_error": {"en": "Failed", "zh-CN": "失败"},
    "outcome_rejected": {"en": "Refused", "zh-CN": "被拒绝"},
    "outcome_expired": {"en": "Arrived too late", "zh-CN": "到达时已过期"},
    "outcome_duplicate": {"en": "Done already", "zh-CN": "此前已完成"},
    "outcome_timeout": {"en": "No answer", "zh-CN": "无应答"},
    "outcome_sent": {"en": "Waiting for the router", "zh-CN": "等待路由器应答"},
    "outcome_attempts": {"en": "{n} tries", "zh-CN": "尝试 {n} 次"},
    "routers_reboot_already": {
        "en": "{name} has rebooted since its last report, so it was not rebooted again.",
        "zh-CN": "{name} 在上次上报后已重启过，因此未再次重启。",
    },
    "routers_reapply_done": {
        "en": "{name} applied its configuration again ({said}).",
        "zh-CN": "{name} 已重新应用配置（{said}）。",
    },
    "routers_action_refused": {
        "en": "{name} did not do it: {said}.",
        "zh-CN": "{name} 未执行：{said}。",
    },
    "routers_action_failed": {
        "en": "Could not reach {name}: {reason}.",
        "zh-CN": "无法联系 {name}：{reason}。",
    },
    "state_online": {"en": "Online", "zh-CN": "在线"},
    "state_offline": {"en": "Offline", "zh-CN": "离线"},
    "state_authmon": {"en": "Online (openNDS only)", "zh-CN": "在线（仅 openNDS）"},
    "state_waiting": {"en": "Waiting for install", "zh-CN": "等待安装"},
    "action_new_code": {"en": "New install code", "zh-CN": "新安装码"},
    "action_revoke": {"en": "Revoke", "zh-CN": "吊销"},
    "add_router_title": {"en": "Add a router", "zh-CN": "添加路由器"},
    "add_router_store": {"en": "Store", "zh-CN": "门店"},
    "add_router_name": {"en": "Name (optional)", "zh-CN": "名称（可选）"},
    "add_router_name_hint": {"en": "e.g. Front desk", "zh-CN": "例如：前台"},
    "add_router_level": {"en": "openNDS FAS level", "zh-CN": "openNDS FAS 级别"},
    "add_router_level_1": {"en": "Level 1 (recommended)", "zh-CN": "1 级（推荐）"},
    "add_router_level_2": {
        "en": "Level 2 (installs PHP on the router)",
        "zh-CN": "2 级（会在路由器上安装 PHP）",
    },
    "add_router_level_3": {
        "en": "Level 3 (HTTPS portal; installs PHP)",
        "zh-CN": "3 级（HTTPS 门户；会安装 PHP）",
    },
    "add_router_level_hint": {
        "en": "At level 1 our agent checks every login against openNDS; levels 2 and 3 encrypt "
        "openNDS's redirects and need PHP on the router.",
        "zh-CN": "1 级由我们的代理对照 openNDS 校验每次登录；2、3 级会加密 openNDS 的跳转，"
        "需要在路由器上安装 PHP。",
    },
    "add_router_button": {"en": "Add router", "zh-CN": "添加路由器"},
    "add_router_no_stores": {
        "en": "This merchant has no stores yet: a router belongs to a store.",
        "zh-CN": "该商户还没有门店：路由器需要归属于某个门店。",
    },
    "routers_staff_note": {
        "en": "Only the merchant's owners can add or revoke routers.",
        "zh-CN": "只有商户管理员可以添加或吊销路由器。",
    },
    "install_title": {"en": "Install router {name}", "zh-CN": "安装路由器 {name}"},
    "install_added": {
        "en": "Router {router_id} is added. Install it now:",
        "zh-CN": "路由器 {router_id} 已添加。现在安装：",
    },
    "install_new_code": {
        "en": "A new install code for router {router_id}. Earlier codes no longer work.",
        "zh-CN": "已为路由器 {router_id} 生成新的安装码，之前的安装码已失效。",
    },
    "install_step_1": {
        "en": "Connect to the router (OpenWrt with openNDS) as root, e.g. ssh root@192.168.1.1.",
        "zh-CN": "以 root 身份登录路由器（装有 openNDS 的 OpenWrt），例如 ssh root@192.168.1.1。",
    },
    "install_step_2": {
        "en": "Run this line. It installs what is needed, connects the router and checks it.",
        "zh-CN": "运行下面这行命令。它会安装所需软件、连接路由器并自检。",
    },
    "install_step_3": {
        "en": "The router shows as Online on the Routers page within a minute.",
        "zh-CN": "一分钟内，路由器会在“路由器管理”页面显示为“在线”。",
    },
    "install_qr_hint": {
        "en": "Or scan it with a phone to send the line to the installer on site.",
        "zh-CN": "也可以用手机扫码，把命令发给现场安装人员。",
    },
    "install_once": {
        "en": "The code works once, until {expires}. It is shown only now: if it is lost, make "
        "a new one on the Routers page.",
        "zh-CN": "安装码仅可使用一次，有效期至 {expires}。它只在此处显示一次；如遗失，请在"
        "“路由器管理”页面生成新的安装码。",
    },
    "install_back": {"en": "Back to the routers", "zh-CN": "返回路由器列表"},
    "revoke_title": {"en": "Revoke router {name}?", "zh-CN": "吊销路由器 {name}？"},
    "revoke_explain": {
        "en": "Router {router_id} will be cut off at once and can never connect again: its "
        "account is deleted and its install codes stop working. Shoppers behind it can no "
        "longer log in. To use the device again, add it as a new router.",
        "zh-CN": "路由器 {router_id} 将立即断开，且再也无法连接：其账号会被删除，安装码全部失效，"
        "连接该路由器的顾客将无法登录。如需继续使用该设备，请将其作为新路由器添加。",
    },
    "revoke_button": {"en": "Revoke router", "zh-CN": "确认吊销"},
    "cancel": {"en": "Cancel", "zh-CN": "取消"},
    "error_routers_owner_only": {
        "en": "Only the merchant's owners can add or revoke routers.",
        "zh-CN": "只有商户管理员可以添加或吊销路由器。",
    },
    "error_unknown_store": {"en": "No such store.", "zh-CN": "门店不存在。"},
    "error_unknown_router": {"en": "No such router.", "zh-CN": "路由器不存在。"},
    "error_router_id_taken": {
        "en": "The router id {router_id} is taken.",
        "zh-CN": "路由器编号 {router_id} 已被使用。",
    },
    "error_invalid_router": {
        "en": "This router cannot be added: check its settings.",
        "zh-CN": "无法添加该路由器，请检查设置。",
    },
    # The audit log's names (accounts/audit_page.py: au_action_<record>_<verb>, au_field_<name>)
    "au_action_router_create": {"en": "Router added", "zh-CN": "添加路由器"},
    "au_action_router_new_code": {"en": "New install code", "zh-CN": "生成新安装码"},
    "au_action_router_revoke": {"en": "Router revoked", "zh-CN": "停用路由器"},
    "au_action_router_reboot": {"en": "Router rebooted", "zh-CN": "重启路由器"},
    "au_action_router_reapply": {"en": "Configuration applied again", "zh-CN": "重新下发配置"},
    "au_field_fas_level": {"en": "FAS level", "zh-CN": "FAS 级别"},
    "au_field_code_expires": {"en": "Code valid until", "zh-CN": "安装码有效期至"},
}
