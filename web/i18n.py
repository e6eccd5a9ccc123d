"""The interface in Chinese (default) and English: one catalogue, a language switch.

Messages are looked up by key; pages get ``_("key")`` in templates and the
whole catalogue of their language as ``GG_TEXT`` in scripts. The language
comes from ``?lang=zh|en`` (remembered in a cookie), then the cookie, then
Chinese. API error messages stay in English: they name parameters and rules.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, current_app, g, request

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"
COOKIE = "geogrid_lang"

# key: (Chinese, English)
MESSAGES: dict[str, tuple[str, str]] = {
    # frame
    "app.title": ("网格化营销管理", "Grid marketing management"),
    "app.lang_switch": ("English", "中文"),
    "nav.grids": ("网格地图", "Grid map"),
    "nav.design": ("网格方案", "Grid design"),
    "nav.nearby": ("附近客户", "Nearby"),
    "nav.blindspots": ("营销盲区", "Blind spots"),
    "nav.routes": ("走访路线", "Visit route"),
    "nav.visits": ("走访核查", "Visit checks"),
    "nav.logout": ("退出", "Log out"),
    "role.head_office": ("总行", "Head office"),
    "role.branch_head": ("支行行长", "Branch head"),
    "role.account_manager": ("客户经理", "Account manager"),
    "role.planner": ("规划人员", "Planner"),
    "common.loading": ("加载中…", "Loading…"),
    "common.error": ("出错了", "Error"),
    # headlines of API errors by code, shown before the message (which stays
    # in English: it names parameters and rules)
    "error.bad_request": ("请求有误：", "Bad request: "),
    "error.invalid_input": ("输入有误：", "Invalid input: "),
    "error.wrong_crs": ("坐标系可能不对：", "Probably the wrong coordinate system: "),
    "error.not_found": ("未找到：", "Not found: "),
    "error.forbidden": ("无权操作：", "Not allowed: "),
    "error.not_authenticated": ("请重新登录：", "Please log in again: "),
    "error.conflict": ("已被他人修改：", "Changed by someone else: "),
    "error.invariant_violation": (
        "违反网格规则，未保存：",
        "Breaks a grid rule, not saved: ",
    ),
    "error.database_unavailable": ("数据库暂不可用：", "Database unavailable: "),
    "error.too_many_attempts": ("尝试次数过多：", "Too many attempts: "),
    "error.csrf_failed": ("页面已过期，请刷新：", "The page has expired, reload it: "),
    "error.body_too_large": ("提交内容过大：", "Too large: "),
    "error.internal_error": ("服务器出错：", "Server error: "),
    "error.method_not_allowed": ("不支持此操作：", "Method not allowed: "),
    "error.home": ("返回首页", "Back to the start page"),
    "common.close": ("关闭", "Close"),
    "common.none": ("无", "none"),
    "common.download_xlsx": ("下载 XLSX", "Download XLSX"),
    "common.download_geojson": ("下载 GeoJSON", "Download GeoJSON"),
    "common.zoom_to": ("定位", "Zoom to"),
    # log-in
    "login.title": ("登录", "Log in"),
    "login.username": ("用户名", "User name"),
    "login.password": ("密码", "Password"),
    "login.submit": ("登录", "Log in"),
    "login.wrong": (
        "用户名或密码错误，请检查后重试（密码区分大小写）。",
        "The user name or password is wrong; check both (passwords are "
        "case-sensitive) and try again.",
    ),
    "login.expired": (
        "会话已过期，请重新登录。",
        "Your session expired; log in again.",
    ),
    "login.demo_hint": (
        "演示账号：ho_01（总行）、bh_b01（支行行长）、am_b01_01（客户经理）、"
        "planner_01（规划人员），密码 geogrid-demo",
        "Demo users: ho_01 (head office), bh_b01 (branch head), am_b01_01 "
        "(account manager), planner_01 (planner); password geogrid-demo",
    ),
    # layers and legends
    "layer.base": ("底图", "Base map"),
    "layer.jurisdictions": ("支行辖区", "Branch jurisdictions"),
    "layer.grids": ("二级网格", "Second-level grids"),
    "layer.villages": ("村/社区", "Villages"),
    "layer.density": ("户数热力", "Household density"),
    "layer.heat": ("热力", "Heatmap"),
    "layer.proposal": ("方案网格", "Proposed grids"),
    "legend.workload": ("负荷 / 支行均值", "Workload / branch mean"),
    "legend.lt90": ("低于 90%", "below 90%"),
    "legend.90_95": ("90–95%", "90–95%"),
    "legend.95_105": ("95–105%", "95–105%"),
    "legend.105_110": ("105–110%", "105–110%"),
    "legend.gt110": ("高于 110%", "above 110%"),
    "field.grid": ("网格", "Grid"),
    "field.code": ("编号", "Code"),
    "field.name": ("名称", "Name"),
    "field.households": ("户数", "Households"),
    "field.customers": ("客户", "Customers"),
    "field.potentials": ("潜在客户", "Potential customers"),
    "field.ratio": ("负荷/均值", "Load/mean"),
    "field.village": ("村/社区", "Village"),
    "field.town": ("镇/街道", "Town"),
    "field.branch": ("支行", "Branch"),
    "field.area_km2": ("面积 km²", "Area km²"),
    "field.area_m2": ("面积 m²", "Area m²"),
    "field.gi_z": ("Gi* z 值", "Gi* z"),
    "field.p_value": ("p 值", "p value"),
    "field.share": ("占比", "Share"),
    "field.deposit_other_share": ("他行存款占比", "Deposits elsewhere"),
    "field.penetration": ("渗透率", "Penetration"),
    "field.version": ("版本", "Version"),
    # grid profile
    "grids.pick": (
        "点击网格查看档案（岗位、联络员、目标与当前数据）。",
        "Click a grid to see its profile: posts, liaison officers, targets and "
        "current figures.",
    ),
    "profile.posts": ("A/B 岗", "A/B posts"),
    "profile.post": ("{post} 岗", "{post} post"),
    "profile.customers": ("客户（人）", "Customers (people)"),
    "profile.potentials": ("潜在客户（人）", "Potential customers (people)"),
    "liaison.village_cadre": ("村干部", "village cadre"),
    "liaison.coop_member": ("合作社成员", "cooperative member"),
    "liaison.property_manager": ("物业管理员", "property manager"),
    "liaison.other": ("其他", "other"),
    "profile.liaison": ("联络员", "Liaison officers"),
    "profile.targets": ("年度目标", "Yearly targets"),
    "profile.metric": ("指标", "Metric"),
    "profile.target": ("目标", "Target"),
    "profile.current": ("当前", "Current"),
    "profile.achieved": ("完成率", "Achieved"),
    "profile.read_only": (
        "只读：您的角色不能调整网格。",
        "Read-only: your role does not change grids.",
    ),
    "metric.deposits": ("存款（万元）", "Deposits (10,000 yuan)"),
    "metric.loans": ("贷款（万元）", "Loans (10,000 yuan)"),
    "metric.mobile_banking": ("手机银行", "Mobile banking"),
    "metric.pos": ("POS", "POS"),
    "metric.payments": ("收单支付", "Payments"),
    # grid edits
    "edit.title": ("调整网格", "Change the grid"),
    "edit.reshape": ("编辑边界", "Edit vertices"),
    "edit.draw": ("重新绘制", "Draw a new shape"),
    "edit.cut": ("裁剪", "Cut out"),
    "edit.move": ("移入村/社区", "Move a village here"),
    "edit.history": ("历史版本", "History"),
    "edit.preview": ("预览", "Preview"),
    "edit.cancel": ("取消", "Cancel"),
    "edit.reason": ("调整原因（必填）", "Reason (required)"),
    "edit.save": ("保存", "Save"),
    "edit.saved": ("已保存，变更编号", "Saved; changeset"),
    "edit.give_gap": ("空出区域划给相邻网格", "Give left-over area to the neighbour"),
    "edit.moving": ("迁移户数", "Households moving"),
    "edit.moves": ("迁移明细", "Moves"),
    "edit.from": ("原网格", "From"),
    "edit.to": ("新网格", "To"),
    "edit.workload": ("负荷变化（调整前 → 调整后）", "Workload (before → after)"),
    "edit.gap": ("空出面积", "Area left over"),
    "edit.gap_given": ("划给", "given to"),
    "edit.warnings": ("提示", "Warnings"),
    "edit.pick_village": (
        "请在地图上点击要移入的村/社区。",
        "Click the village to move in, on the map.",
    ),
    "edit.editing": (
        "拖动顶点修改边界，完成后点“预览”。",
        "Drag the vertices, then press Preview.",
    ),
    "edit.drawing": (
        "在地图上绘制新边界，双击或点击起点结束。",
        "Draw the new shape; finish on the first point.",
    ),
    "edit.cutting": (
        "在网格上绘制要裁掉的区域。",
        "Draw the area to cut out of the grid.",
    ),
    "edit.reason_needed": ("请填写调整原因。", "Give a reason for the change."),
    "edit.rollback": ("回退到此版本", "Roll back to this version"),
    "edit.operation": ("操作", "Operation"),
    "operation.create": ("建立", "created"),
    "operation.import": ("导入", "imported"),
    "operation.move_villages": ("移入村/社区", "villages moved in"),
    "operation.replace_polygon": ("重绘边界", "shape redrawn"),
    "operation.rollback": ("回退", "rolled back"),
    "operation.adopt_proposal": ("采用方案", "proposal adopted"),
    "edit.who": ("调整人", "By"),
    "edit.when": ("时间", "When"),
    "edit.why": ("原因", "Reason"),
    # grid design
    "design.branch": ("支行", "Branch"),
    "design.k": ("网格数", "Number of grids"),
    "design.seed": ("随机种子", "Seed"),
    "design.run": ("生成方案", "Generate a proposal"),
    "design.running": ("正在计算方案…", "Designing…"),
    "design.current": ("现有网格", "Current grids"),
    "design.proposal": ("方案网格", "Proposed grids"),
    "design.max_dev": ("最大负荷偏差", "Largest workload deviation"),
    "design.mean_pp": ("平均紧凑度", "Mean compactness (Polsby-Popper)"),
    "design.changed": ("需调整的村", "Villages changing grid"),
    "design.figures": ("方案对比", "Comparison"),
    "design.coarse": (
        "{villages} 个村/社区分成 {k} 个网格，平均每格仅 {per} 个：以整村划分难以更均衡"
        "（最大偏差 {dev}）。可在上方填写更少的网格数再生成。",
        "{villages} villages into {k} grids is {per} a grid: whole villages "
        "cannot balance closer than this ({dev} at most). Try fewer grids "
        "(number of grids, above).",
    ),
    "design.not_adopted": (
        "生成方案不会修改现有网格；对比后可由总行或本支行行长采用。",
        "A proposal changes no grid until head office or the branch's head "
        "adopts it after comparing.",
    ),
    "design.adopt": ("采用此方案", "Adopt this proposal"),
    "design.adopt_reason": ("采用原因（必填）", "Reason for adopting (required)"),
    "design.adopt_hint": (
        "采用后，各网格按方案形成新版本，住户重新划入网格，岗位和目标随网格编号保留；"
        "可在网格地图的历史中回退。",
        "Adopting writes a new version of each grid, reassigns households, and "
        "keeps posts and targets with the grid codes; any grid can be rolled "
        "back from its history on the grid map.",
    ),
    "design.adopted": (
        "已采用方案：{n} 户调整了网格。",
        "Proposal adopted: {n} households changed grid.",
    ),
    "design.not_adoptable": (
        "只有网格数与现有相同的方案才能采用（网格数留空）。",
        "Only a proposal with today's number of grids can be adopted (leave "
        "the number of grids empty).",
    ),
    # nearby
    "nearby.origin": ("起点", "Start from"),
    "nearby.device": ("我的位置", "My location"),
    "nearby.pick": ("地图选点", "Pick on map"),
    "nearby.branch": ("我的支行", "My branch"),
    "nearby.grid": ("我的网格", "My grid"),
    "nearby.none": (
        "{r} 公里内没有您可查看的农户：请点“我的网格”、放大半径或换个起点。",
        "No household you may see lies within {r} km: try My grid, a larger "
        "radius or another start.",
    ),
    "nearby.pick_hint": ("请点击地图选择起点。", "Click the map to choose the start."),
    "nearby.no_geolocation": (
        "无法获取设备位置（需 HTTPS 且允许定位），请改用地图选点。",
        "The device location is unavailable (it needs HTTPS and permission); "
        "pick a point on the map instead.",
    ),
    "nearby.radius": ("半径", "Radius"),
    "nearby.weight": ("热力权重", "Heat by"),
    "nearby.product": ("产品", "Product"),
    "nearby.nearest": ("最近的农户", "Nearest households"),
    "nearby.summary": (
        "{r} 公里内 {n} 户，其中 {w} 户计入热力",
        "{n} households within {r} km, {w} weighted",
    ),
    "nearby.distance": ("距离", "Distance"),
    "nearby.last_visit": ("最近走访", "Last visit"),
    # recording a visit on the spot
    "visit.record": ("记录走访", "Record visit"),
    "visit.purpose": ("目的", "Purpose"),
    "visit.outcome": ("结果", "Outcome"),
    "visit.note": ("备注", "Note"),
    "visit.save": ("定位并保存", "Locate and save"),
    "visit.cancel": ("取消", "Cancel"),
    "visit.locating": ("正在定位…", "Finding your location…"),
    "visit.no_location": (
        "无法获取设备位置，已记录但未带位置，将被标记为“无位置”。",
        "The device location was unavailable: recorded without it, so the "
        "visit is flagged as having no location.",
    ),
    "visit.on_site": (
        "已记录 · 距农户 {d} 米 · 现场走访",
        "Recorded · {d} m from the household · on site",
    ),
    "visit.away": (
        "已记录，但距农户 {d} 米（超出 {t} 米），将被标记为“不在现场”。",
        "Recorded, but {d} m from the household (more than {t} m): flagged as "
        "not on site.",
    ),
    "visit.household_unlocated": (
        "已记录；该户没有坐标，无法核验位置。",
        "Recorded; the household has no location, so the place cannot be checked.",
    ),
    # checking recorded visits
    "checks.title": ("走访核查", "Visit checks"),
    "checks.days": ("时段", "Period"),
    "checks.days_n": ("近 {n} 天", "last {n} days"),
    "checks.staff": ("客户经理", "Staff"),
    "checks.everyone": ("全部人员", "everyone"),
    "checks.summary": (
        "共 {n} 次走访：现场 {on} 次，不在现场 {away} 次，无位置 {none} 次",
        "{n} visits: {on} on site, {away} away, {none} without a location",
    ),
    "checks.by_staff": (
        "按人员（不在现场比例从高到低）",
        "By member of staff (most away first)",
    ),
    "checks.away_list": ("不在现场的走访", "Visits recorded away"),
    "checks.none_away": (
        "这一时段没有不在现场的走访。",
        "No visit was recorded away in this period.",
    ),
    "checks.row": (
        "{staff}：{n} 次，不在现场 {away} 次（{share}）",
        "{staff}: {n} visits, {away} away ({share})",
    ),
    "checks.away_item": (
        "{when} · {staff} · 距农户 {d} 米（允许 {t} 米）",
        "{when} · {staff} · {d} m from the household (allowed {t} m)",
    ),
    "checks.legend": ("走访核查", "Visit checks"),
    "checks.legend_household": ("农户位置", "Household"),
    "checks.shown": (
        "地图显示最近 {n} 次不在现场的走访。",
        "The map shows the latest {n} visits recorded away.",
    ),
    "verdict.on_site": ("现场", "on site"),
    "verdict.away": ("不在现场", "away"),
    "verdict.no_location": ("无位置", "no location"),
    "verdict.household_unlocated": ("农户无坐标", "household not located"),
    "purpose.profile": ("建档", "Profile"),
    "purpose.marketing": ("营销", "Marketing"),
    "purpose.loan_survey": ("贷前调查", "Loan survey"),
    "purpose.post_loan_check": ("贷后检查", "Post-loan check"),
    "purpose.service": ("服务", "Service"),
    "outcome.signed": ("已签约", "Signed"),
    "outcome.interested": ("有意向", "Interested"),
    "outcome.follow_up": ("待跟进", "Follow up"),
    "outcome.not_interested": ("无意向", "Not interested"),
    "outcome.not_home": ("不在家", "Not at home"),
    "nearby.never": ("从未走访", "never visited"),
    "nearby.products": ("持有产品", "Products"),
    "nearby.other_deposits": ("他行存款", "Deposits elsewhere"),
    "weight.households": ("全部农户", "All households"),
    "weight.potential": ("潜在客户", "Potential customers"),
    "weight.without_product": ("未开通某产品的客户", "Customers without a product"),
    "weight.other_deposits": ("他行存款", "Deposits at other banks"),
    "status.customer": ("客户", "customer"),
    "status.potential": ("潜在", "potential"),
    "product.deposit": ("存款", "deposit"),
    "product.loan": ("贷款", "loan"),
    "product.mobile_banking": ("手机银行", "mobile banking"),
    "product.pos": ("POS", "POS"),
    "product.payment": ("收单支付", "payment"),
    "product.credit_card": ("信用卡", "credit card"),
    # blind spots
    "blind.layers": ("盲区图层", "Blind-spot layers"),
    "blind.ranked": ("重点区域排名", "Ranked areas"),
    "blind.rank": ("排名", "Rank"),
    "blind.score": ("机会分", "Score"),
    "blind.reason": ("原因", "Why"),
    "blind.low": (
        "渗透率 {p}，低于门槛 {thr}（全域参考渗透率 {ref}）",
        "penetration {p} is below the threshold {thr} (reference {ref})",
    ),
    "blind.cold": (
        "统计显著的冷点：Gi* z = {z}，p = {p}（显著性门槛 {cut}）",
        "significant cold spot: Gi* z = {z}, p = {p} (cut-off {cut})",
    ),
    "blind.owner": (
        "网格 {grid} · 客户经理 {manager}",
        "grid {grid} · manager {manager}",
    ),
    "blind.vacant": ("A 岗空缺", "A post vacant"),
    "blind.gap": (
        "缺口 {n} 户 · 未覆盖户他行资金 {wan} 万元 · 距最近支行 {km} 公里",
        "gap of {n} households · uncovered households' money elsewhere ¥{yuan} · "
        "{km} km from the nearest branch",
    ),
    "blind.penetration": ("H3 网格渗透率", "Penetration on H3 cells"),
    "blind.cold_spots": ("冷点", "Cold spots"),
    "blind.unvisited": ("长期未走访", "Unvisited"),
    "blind.ungridded": ("未入网格", "Ungridded"),
    "blind.leakage": ("资金外流", "Leakage to other banks"),
    "blind.report": ("盲区报告", "Blind-spot report"),
    "blind.unavailable": (
        "盲区分析模块尚未就绪。",
        "The blind-spot analysis is not available yet.",
    ),
    # visit routes
    "routes.whom": ("走访对象", "Whom to visit"),
    "routes.grid": ("网格", "Grid"),
    "routes.all_my_grids": ("我的全部网格", "All my grids"),
    "routes.status": ("客户类型", "Customer type"),
    "routes.status_any": ("不限", "Any"),
    "routes.not_visited": ("未走访天数", "Not visited for"),
    "routes.any_time": ("不限", "Any time"),
    "routes.days_unit": ("天以上", "days or more"),
    "routes.lacking": ("未开通产品", "Lacking product"),
    "routes.no_condition": ("不限", "No condition"),
    "routes.other_bank": ("他行有存贷款", "Money at other banks"),
    "routes.labels": ("客户标签", "Labels"),
    "routes.labels_hint": (
        "如：春节返乡（多个用逗号分隔）",
        "e.g. 春节返乡 (comma-separated)",
    ),
    "routes.campaign": ("活动名单（户号）", "Campaign list (household numbers)"),
    "routes.campaign_hint": (
        "粘贴户号，每行一个",
        "Paste household numbers, one per line",
    ),
    "routes.the_day": ("日程与起点", "Day and start"),
    "routes.mode": ("计划", "Plan"),
    "routes.mode_day": ("一天的路线", "One day's route"),
    "routes.mode_week": ("一周（按工作日分配）", "A week (spread over working days)"),
    "routes.days": ("工作日数", "Working days"),
    "routes.week_totals": (
        "{d} 个工作日共 {n} 户 · {km} 公里 · 行驶 {min} 分钟",
        "{n} visits over {d} working days · {km} km · {min} min driving",
    ),
    "routes.date": ("日期", "Date"),
    "routes.max_visits": ("每日上限(户)", "Daily quota"),
    "routes.work_from": ("上班", "Work from"),
    "routes.work_to": ("下班", "Work to"),
    "routes.service_min": ("每户(分钟)", "Per visit (min)"),
    "routes.candidates": ("候选户数（按优先级）", "Candidates (by priority)"),
    "routes.start": ("起点", "Start"),
    "routes.start_picked": ("已在地图上选定起点。", "Start picked on the map."),
    "routes.end": ("终点", "End"),
    "routes.end_start": ("回到起点", "Back to the start"),
    "routes.end_picked": ("已在地图上选定终点。", "End picked on the map."),
    "routes.end_pick_hint": (
        "在地图上点击终点（如住处）。",
        "Click the end on the map (home, say).",
    ),
    "routes.plan": ("生成路线", "Plan the route"),
    "routes.planning": ("正在规划路线…", "Planning the route…"),
    "routes.print": ("打印", "Print"),
    "routes.export_crs": ("坐标", "Coordinates"),
    "routes.crs_gcj02": ("GCJ-02（高德/腾讯导航）", "GCJ-02 (AMap, Tencent)"),
    "routes.crs_wgs84": ("WGS84（GPS）", "WGS84 (GPS)"),
    "routes.crs_bd09": ("BD-09（百度导航）", "BD-09 (Baidu)"),
    "routes.stops": ("走访顺序", "Visits in order"),
    "routes.reorder_hint": (
        "可用 ↑ ↓ 调整顺序，时间会自动重算。",
        "Use ↑ ↓ to change the order; the times are recomputed.",
    ),
    "routes.up": ("上移", "Move up"),
    "routes.down": ("下移", "Move down"),
    "routes.unscheduled": ("未安排", "Not scheduled"),
    "routes.totals": (
        "{n} 户 · {km} 公里 · 行驶 {min} 分钟 · {from}–{to}",
        "{n} visits · {km} km · {min} min driving · {from}–{to}",
    ),
    "routes.vs_nn": (
        "比就近顺序少 {pct}（就近顺序 {km} 公里）",
        "{pct} shorter than nearest-neighbour order ({km} km)",
    ),
    "routes.vs_nn_same": (
        "与就近顺序相同（{km} 公里）",
        "Same as nearest-neighbour order ({km} km)",
    ),
    "routes.model_roads": (
        "沿道路网计算路程和时间。",
        "Distances and times along the road network.",
    ),
    "routes.model_straight": (
        "无道路数据：按直线距离 × {f} 绕行系数、时速 {v} 公里估算。",
        "No road data: straight-line distance × a detour factor of {f} at {v} km/h.",
    ),
    "routes.hand_order": ("已手动调整顺序", "Order changed by hand"),
    "routes.arrive": ("到达", "arrive"),
    "routes.visit": ("拜访", "visit"),
    "routes.wait": ("等待 {m} 分钟", "wait {m} min"),
    "routes.late": ("迟到 {m} 分钟", "{m} min late"),
    "routes.leg": ("路程 {km} 公里 / {m} 分钟", "{km} km / {m} min"),
    "routes.window": ("可访时段", "available"),
    "routes.return": ("{t} 返回终点（{km} 公里）", "Back at the end at {t} ({km} km)"),
    "routes.print_title": ("{d} 走访路线 · {who}", "Visit route {d} · {who}"),
    "routes.legend": ("走访路线", "Visit route"),
    "routes.legend_route": ("路线", "route"),
    "routes.legend_potential": ("潜在客户", "potential customer"),
    "routes.legend_customer": ("我行客户", "customer"),
    "routes.legend_late": ("时间冲突", "breaks a time rule"),
    "routes.start_marker": ("起点", "Start"),
    "routes.end_marker": ("终点", "End"),
    "reason.bad_location": ("位置无效", "bad location"),
    "reason.outside_county": ("不在本县范围内", "outside the county"),
    "reason.off_network": ("离道路太远", "too far from any road"),
    "reason.no_road_path": ("道路不通", "no road leads there"),
    "reason.bad_time_window": ("可访时段有误", "malformed time window"),
    "reason.not_available": ("当天不可访", "not available that day"),
    "reason.outside_working_hours": (
        "可访时段不在工作时间内",
        "available outside working hours",
    ),
    "reason.too_far": ("当天往返不及", "too far for one day"),
    "reason.quota_reached": ("超出每日上限", "daily quota reached"),
    "reason.day_full": ("当天时间已排满", "no time left in the day"),
    "reason.not_in_order": ("未列入顺序", "not in the order"),
    "violation.late": ("晚于可访时段", "after its time window"),
    "violation.not_available": ("当天不可访", "not available that day"),
    "violation.overtime": ("超出下班时间", "after working hours"),
    "violation.over_quota": ("超出每日上限", "over the daily quota"),
}


def translate(key: str, lang: str | None = None) -> str:
    """The message ``key`` in ``lang`` (default: the request's); the key if unknown."""
    lang = lang or g.get("lang", DEFAULT_LANGUAGE)
    pair = MESSAGES.get(key)
    if pair is None:
        return key
    return pair[LANGUAGES.index(lang)] if lang in LANGUAGES else pair[0]


def app_title(lang: str | None = None) -> str:
    """The viewer's title, after the bank's name when GEOGRID_BANK_NAME gives one."""
    bank = current_app.config["GEOGRID"].bank_name.strip()
    title = translate("app.title", lang)
    return f"{bank} · {title}" if bank else title


def catalogue(lang: str) -> dict[str, str]:
    """Every message in one language, for page scripts."""
    return {key: translate(key, lang) for key in MESSAGES}


def _choose() -> str:
    asked = request.args.get("lang")
    if asked in LANGUAGES:
        return asked
    remembered = request.cookies.get(COOKIE)
    return remembered if remembered in LANGUAGES else DEFAULT_LANGUAGE


def init_app(app: Flask) -> None:
    """Pick the language per request, remember a switch, expose ``_`` to templates."""

    @app.before_request
    def pick_language() -> None:
        g.lang = _choose()

    @app.after_request
    def remember(response: Response) -> Response:
        asked = request.args.get("lang")
        if asked in LANGUAGES:
            response.set_cookie(
                COOKIE, asked, max_age=365 * 24 * 3600, samesite="Lax", httponly=True
            )
        return response

    @app.context_processor
    def template_helpers() -> dict[str, Any]:
        return {
            "_": translate,
            "lang": g.get("lang", DEFAULT_LANGUAGE),
            "app_title": app_title(),
        }
