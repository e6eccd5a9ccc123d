"""Compose folium maps: page shells whose layers load from the API, and the
embedded overview (every feature inside the page, as folium does by default)."""

from __future__ import annotations

from collections.abc import Callable

import folium
from branca.element import Figure
from folium.elements import JSCSSMixin

from geogrid.overview import Overview
from geogrid.settings import Config
from layers import (
    admin_layer,
    base_map,
    grid_layer,
    household_heatmap,
    localise_assets,
)
from layers.boundaries import (
    TOWN_STYLE,
    VILLAGE_STYLE,
    WORKLOAD_COLOURS,
    workload_scale,
)
from layers.legend import Legend
from layers.remote import RemoteGeoJson, RemoteHeat, Runtime, colour_scale, expose

Bounds = tuple[float, float, float, float]
Translate = Callable[[str], str]

JURISDICTION_STYLE = {"color": "#5b4636", "weight": 2.5, "fillOpacity": 0.0}
GRID_STYLE = {"color": "#333333", "weight": 1.2, "fillOpacity": 0.45}
GRID_HIGHLIGHT = {"weight": 3, "fillOpacity": 0.65}
# household density beneath the workload colours: shades of grey, so that it
# darkens a grid's colour where people live instead of competing with it
DENSITY_GRADIENT = {0.3: "#e0e0e0", 0.6: "#9e9e9e", 1.0: "#424242"}


def display_crs(config: Config) -> str:
    """The system layers are drawn in: the tiles' (GCJ-02 for AMap), else WGS84."""
    return config.tile_crs if config.tile_url else "wgs84"


def page_parts(fmap: folium.Map) -> dict[str, str]:
    """The rendered pieces of a folium map, to place inside a page template."""
    localise_assets(fmap)
    figure = fmap.get_root()
    assert isinstance(figure, Figure)
    figure.render()
    return {
        "map_header": figure.header.render(),
        "map_html": figure.html.render(),
        "map_script": figure.script.render(),
        "map_name": fmap.get_name(),
    }


def _shell(bounds: Bounds, config: Config, t: Translate) -> folium.Map:
    west, south, east, north = bounds
    fmap = base_map(((south + north) / 2, (west + east) / 2), 11, config=config)
    fmap.fit_bounds([[south, west], [north, east]])
    Runtime().add_to(fmap)
    for child in fmap._children.values():
        if isinstance(child, folium.TileLayer):
            child.layer_name = t("layer.base")
    return fmap


def workload_legend(t: Translate) -> Legend:
    """Legend of the grids' workload colours."""
    labels = ["legend.lt90", "legend.90_95", "legend.95_105", "legend.105_110"]
    labels.append("legend.gt110")
    return Legend(
        t("legend.workload"),
        [(c, t(k)) for c, k in zip(WORKLOAD_COLOURS, labels, strict=True)],
    )


def _grid_layers(fmap: folium.Map, crs: str, t: Translate) -> None:
    params = {"crs": crs}
    RemoteHeat(
        "/api/density",
        t("layer.density"),
        key="density",
        params=params,
        gradient=DENSITY_GRADIENT,
        show=True,
    ).add_to(fmap)
    RemoteGeoJson(
        "/api/villages",
        t("layer.villages"),
        key="villages",
        style=VILLAGE_STYLE,
        tooltip=[("name", t("field.village")), ("town", t("field.town"))],
        params=params,
    ).add_to(fmap)
    RemoteGeoJson(
        "/api/grids",
        t("layer.grids"),
        key="grids",
        style=GRID_STYLE,
        colour_by=workload_scale(),
        highlight=GRID_HIGHLIGHT,
        tooltip=[
            ("name", t("field.grid")),
            ("code", t("field.code")),
            ("households", t("field.households"), "int"),
            ("ratio", t("field.ratio"), "pct"),
        ],
        params={**params, "level": "2"},
    ).add_to(fmap)
    RemoteGeoJson(
        "/api/grids",
        t("layer.jurisdictions"),
        key="jurisdictions",
        style=JURISDICTION_STYLE,
        params={**params, "level": "1"},
        interactive=False,
    ).add_to(fmap)


def grids_map(
    bounds: Bounds, config: Config, t: Translate, *, editable: bool
) -> folium.Map:
    """Branch jurisdictions and second-level grids by workload, villages and
    household density beneath; Leaflet-Geoman loaded when the user edits."""
    fmap = _shell(bounds, config, t)
    _grid_layers(fmap, display_crs(config), t)
    workload_legend(t).add_to(fmap)
    folium.LayerControl(collapsed=True).add_to(fmap)
    if editable:
        _GeomanAssets().add_to(fmap)
    return fmap


class _GeomanAssets(JSCSSMixin, folium.MacroElement):
    """Loads Leaflet-Geoman (its local copy) for the page's edit tools."""

    default_js = [("leaflet_geoman_js", "leaflet-geoman.js")]  # noqa: RUF012
    default_css = [("leaflet_geoman_css", "leaflet-geoman.css")]  # noqa: RUF012


def nearby_map(bounds: Bounds, config: Config, t: Translate) -> folium.Map:
    """Grids as outlines and an empty heatmap the page fills from /api/nearby."""
    fmap = _shell(bounds, config, t)
    RemoteGeoJson(
        "/api/grids",
        t("layer.grids"),
        key="grids",
        style={"color": "#555555", "weight": 1.5, "fillOpacity": 0.0},
        params={"crs": display_crs(config), "level": "2"},
        interactive=False,
    ).add_to(fmap)
    RemoteHeat(
        None, t("layer.heat"), key="nearby-heat", radius_px=18, blur_px=20
    ).add_to(fmap)
    folium.LayerControl(collapsed=True).add_to(fmap)
    return fmap


def routes_map(bounds: Bounds, config: Config, t: Translate) -> folium.Map:
    """Grids as outlines; the page draws the route, its stops and its legend."""
    fmap = _shell(bounds, config, t)
    RemoteGeoJson(
        "/api/grids",
        t("layer.grids"),
        key="grids",
        style={"color": "#555555", "weight": 1.5, "fillOpacity": 0.0},
        params={"crs": display_crs(config), "level": "2"},
        interactive=False,
    ).add_to(fmap)
    Legend(
        t("routes.legend"),
        [
            ("#1f4e79", t("routes.legend_route")),
            ("#b36b00", t("routes.legend_potential")),
            ("#1b5e20", t("routes.legend_customer")),
            ("#c62828", t("routes.legend_late")),
        ],
    ).add_to(fmap)
    folium.LayerControl(collapsed=True).add_to(fmap)
    return fmap


VERDICT_COLOURS = {
    "on_site": "#1b5e20",
    "away": "#c62828",
    "no_location": "#757575",
    "household_unlocated": "#b36b00",
}


def visits_map(bounds: Bounds, config: Config, t: Translate) -> folium.Map:
    """Grids as outlines; the page draws the visits it checks, and a legend."""
    fmap = _shell(bounds, config, t)
    RemoteGeoJson(
        "/api/grids",
        t("layer.grids"),
        key="grids",
        style={"color": "#555555", "weight": 1.2, "fillOpacity": 0.0},
        params={"crs": display_crs(config), "level": "2"},
        interactive=False,
    ).add_to(fmap)
    Legend(
        t("checks.legend"),
        [
            (VERDICT_COLOURS["away"], t("verdict.away")),
            ("#1f4e79", t("checks.legend_household")),
        ],
    ).add_to(fmap)
    folium.LayerControl(collapsed=True).add_to(fmap)
    return fmap


def design_map(bounds: Bounds, config: Config, t: Translate) -> folium.Map:
    """The left map of the design page: the page draws current grids on it."""
    fmap = _shell(bounds, config, t)
    workload_legend(t).add_to(fmap)
    return fmap


PENETRATION_SCALE = colour_scale(
    "penetration",
    [0.2, 0.4, 0.6, 0.8],
    ["#d7191c", "#fdae61", "#ffffbf", "#a6d96a", "#1a9641"],
)
COVERAGE_STYLES: dict[str, dict[str, object]] = {
    "hexes": {"color": "#777777", "weight": 0.3, "fillOpacity": 0.55},
    "cold_spots": {
        "color": "#2166ac",
        "weight": 2.5,
        "fillColor": "#2166ac",
        "fillOpacity": 0.25,
    },
    "unvisited_villages": {
        "color": "#7b3294",
        "weight": 2,
        "dashArray": "5 4",
        "fillColor": "#c2a5cf",
        "fillOpacity": 0.3,
    },
    "leakage_villages": {
        "color": "#b35806",
        "weight": 2,
        "fillColor": "#f1a340",
        "fillOpacity": 0.4,
    },
    "ungridded_areas": {
        "color": "#000000",
        "weight": 1,
        "fillColor": "#000000",
        "fillOpacity": 0.5,
    },
    "ungridded_households": {
        "color": "#000000",
        "weight": 1,
        "fillColor": "#000000",
        "fillOpacity": 0.8,
        "radius": 3,
    },
    "blind_spots": {"color": "#d7191c", "weight": 3, "fillOpacity": 0.0},
}
COVERAGE_KEYS = {
    "hexes": "blind.penetration",
    "cold_spots": "blind.cold_spots",
    "unvisited_villages": "blind.unvisited",
    "leakage_villages": "blind.leakage",
    "ungridded_areas": "blind.ungridded",
    "ungridded_households": "blind.ungridded",
    "blind_spots": "blind.ranked",
}
# property, label key and how the map formats the value (see layers/remote.js)
COVERAGE_TOOLTIPS: dict[str, list[tuple[str, str, str]]] = {
    "hexes": [
        ("households", "field.households", "int"),
        ("penetration", "field.penetration", "pct"),
    ],
    "cold_spots": [
        ("households", "field.households", "int"),
        ("penetration", "field.penetration", "pct"),
        ("gi_z", "field.gi_z", "fixed2"),
        ("p_value", "field.p_value", "fixed4"),
        ("grid_code", "field.grid", "text"),
    ],
    "unvisited_villages": [
        ("village_name", "field.village", "text"),
        ("unvisited_households", "blind.unvisited", "int"),
        ("unvisited_share", "field.share", "pct"),
    ],
    "leakage_villages": [
        ("village_name", "field.village", "text"),
        ("leaking_households", "blind.leakage", "int"),
        ("deposit_other_share", "field.deposit_other_share", "pct"),
    ],
    "ungridded_areas": [("area_m2", "field.area_m2", "int")],
    "ungridded_households": [
        ("household_no", "field.code", "text"),
        ("village_name", "field.village", "text"),
    ],
    "blind_spots": [
        ("rank", "blind.rank", "int"),
        ("village_name", "field.village", "text"),
        ("penetration", "field.penetration", "pct"),
        ("score", "blind.score", "fixed1"),
    ],
}


def blindspots_map(bounds: Bounds, config: Config, t: Translate) -> folium.Map:
    """Grids as outlines, the blind-spot layers from the API, and their legends."""
    fmap = _shell(bounds, config, t)
    crs = display_crs(config)
    RemoteGeoJson(
        "/api/grids",
        t("layer.grids"),
        key="grids",
        style={"color": "#444444", "weight": 1.2, "fillOpacity": 0.0},
        interactive=False,
        params={"crs": crs, "level": "2"},
    ).add_to(fmap)
    for name, style in COVERAGE_STYLES.items():
        RemoteGeoJson(
            f"/api/coverage/layers/{name}",
            t(COVERAGE_KEYS[name]),
            key=name,
            style=style,
            colour_by=PENETRATION_SCALE if name == "hexes" else None,
            tooltip=[(prop, t(key), fmt) for prop, key, fmt in COVERAGE_TOOLTIPS[name]],
            by_bbox=name == "hexes",
            params={"crs": crs},
            show=name in ("hexes", "cold_spots", "blind_spots", "ungridded_areas"),
        ).add_to(fmap)
    Legend(
        t("blind.penetration"),
        [
            (colour, label)
            for colour, label in zip(
                PENETRATION_SCALE["colours"],
                ["< 20%", "20–40%", "40–60%", "60–80%", "≥ 80%"],
                strict=True,
            )
        ],
        position="bottomleft",
    ).add_to(fmap)
    Legend(
        t("blind.layers"),
        [
            (
                str(
                    COVERAGE_STYLES[name].get("fillColor")
                    or COVERAGE_STYLES[name]["color"]
                ),
                t(key),
            )
            for name, key in COVERAGE_KEYS.items()
            if name not in ("hexes", "ungridded_households")
        ],
    ).add_to(fmap)
    control = folium.LayerControl(collapsed=True)
    control.add_to(fmap)
    expose(fmap, "control", control)
    return fmap


def tile_config(config: Config) -> dict[str, str]:
    """Base tiles for maps the page's script makes itself (the design page's second)."""
    return {
        "url": config.tile_url,
        "attribution": config.tile_attribution or "tiles",
        "crs": display_crs(config),
    }


def overview_map(overview: Overview, config: Config) -> str:
    """HTML of the county map with every feature embedded in the page.

    This is folium's default way (data inside the HTML); the viewer's pages
    load from the API instead. Kept as the comparison in the benchmark.
    """
    crs = display_crs(config)
    fmap = base_map(overview.center, 11, config=config)
    grid_layer(overview.grids, display_crs=crs).add_to(fmap)
    admin_layer(overview.villages, "村/社区 villages", display_crs=crs).add_to(fmap)
    admin_layer(
        overview.towns, "镇/街道 towns", style=TOWN_STYLE, display_crs=crs
    ).add_to(fmap)
    household_heatmap(overview.heat, weight="households", display_crs=crs).add_to(fmap)
    folium.LayerControl(collapsed=False).add_to(fmap)
    west, south, east, north = overview.county.total_bounds
    fmap.fit_bounds([[south, west], [north, east]])
    fmap.get_root().header.add_child(  # type: ignore[attr-defined]
        folium.Element(
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            "<title>geogrid overview</title>"
        )
    )
    localise_assets(fmap)
    return fmap.get_root().render()
