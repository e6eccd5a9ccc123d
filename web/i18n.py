"""The interface in Chinese (default) and English: one catalogue, a language switch.

Messages are looked up by key; pages get ``_("key")`` in templates and the
whole catalogue of their language as ``GG_TEXT`` in scripts. The language
comes from ``?lang=zh|en`` (remembered in a cookie), then the cookie, then
Chinese. API error messages stay in English: they name parameters and rules.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, g, request

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"
COOKIE = "geogrid_lang"

# key: (Chinese, English)
MESSAGES: dict[str, tuple[str, str]] = {
    # frame
    "app.title": ("青溪县农商银行 网格化营销", "Qingxi rural bank · grid marketing"),
    "app.lang_switch": ("English", "中文"),
    "nav.grids": ("网格地图", "Grid map"),
    "nav.design": ("网格方案", "Grid design"),
    "nav.nearby": ("附近客户", "Nearby"),
    "nav.blindspots": ("营销盲区", "Blind spots"),
    "nav.logout": ("退出", "Log out"),
    "role.head_office": ("总行", "Head office"),
    "role.branch_head": ("支行行长", "Branch head"),
    "role.account_manager": ("客户经理", "Account manager"),
    "role.planner": ("规划人员", "Planner"),
    "common.loading": ("加载中…", "Loading…"),
    "common.error": ("出错了", "Error"),
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
    "field.penetration": ("渗透率", "Penetration"),
    "field.version": ("版本", "Version"),
    # grid profile
    "grids.pick": (
        "点击网格查看档案（岗位、联络员、目标与当前数据）。",
        "Click a grid to see its profile: posts, liaison officers, targets and "
        "current figures.",
    ),
    "profile.posts": ("A/B 岗", "A/B posts"),
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
    "metric.deposits": ("存款", "Deposits"),
    "metric.loans": ("贷款", "Loans"),
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
    "edit.conflict": ("冲突：", "Conflict: "),
    "edit.rollback": ("回退到此版本", "Roll back to this version"),
    "edit.operation": ("操作", "Operation"),
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
    "design.not_adopted": (
        "方案仅供比较，不会修改现有网格。"
        "采纳请下载 GeoJSON，交总行在网格地图上逐项调整。",
        "A proposal is for comparison only and changes no grid. To adopt it, "
        "download the GeoJSON and apply it on the grid map, one edit at a time.",
    ),
    # nearby
    "nearby.origin": ("起点", "Start from"),
    "nearby.device": ("我的位置", "My location"),
    "nearby.pick": ("地图选点", "Pick on map"),
    "nearby.branch": ("我的支行", "My branch"),
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
}


def translate(key: str, lang: str | None = None) -> str:
    """The message ``key`` in ``lang`` (default: the request's); the key if unknown."""
    lang = lang or g.get("lang", DEFAULT_LANGUAGE)
    pair = MESSAGES.get(key)
    if pair is None:
        return key
    return pair[LANGUAGES.index(lang)] if lang in LANGUAGES else pair[0]


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
        return {"_": translate, "lang": g.get("lang", DEFAULT_LANGUAGE)}
