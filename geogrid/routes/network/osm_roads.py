"""Reading the drivable ways of OpenStreetMap extracts with pyosmium or GDAL."""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path
from typing import Any

import geopandas as gpd
import pyogrio
import shapely

from geogrid.errors import InvalidInput
from geogrid.routes.network.road_classes import OSM_HIGHWAYS, TRUE_WORDS, maxspeed_kph

logger = logging.getLogger(__name__)

OSM_SUFFIXES = (".osm.pbf", ".pbf", ".osm")
_OTHER_TAG = re.compile(r'"([^"]+)"=>"([^"]*)"')


def read_osm_roads(path: str | Path, *, engine: str = "auto") -> gpd.GeoDataFrame:
    """Read the drivable ways of an OpenStreetMap extract.

    Ways whose ``highway`` value is a key of `KIND_SPEED_KPH` are kept (so
    footways, cycleways, steps and paths are not); ``kind`` is that value,
    ``speed_kph`` a numeric ``maxspeed`` (mph converted) or NaN, and
    ``oneway`` follows the ``oneway`` tag (``-1`` reverses the line) and
    roundabouts. Ways stay whole: `RoadNetwork` splits them where they share
    nodes.

    Parameters
    ----------
    path
        An ``.osm.pbf`` or ``.osm`` (XML) file.
    engine
        ``"osmium"`` (the pip package ``osmium``), ``"gdal"`` (GDAL's OSM
        driver through pyogrio), or ``"auto"``: osmium when it is
        installed, GDAL otherwise.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns as `read_roads` returns them.

    Raises
    ------
    InvalidInput
        When the engine is unknown or not installed, or no way is drivable.
    """
    path = Path(path)
    engine = _osm_engine(engine)
    started = time.perf_counter()
    read = _osm_ways_osmium if engine == "osmium" else _osm_ways_gdal
    records = read(path)

    roads = _osm_roads(records, path.name)
    logger.info(
        "Read %d drivable ways of %d tagged highway ways from %s with %s in %.1f s",
        len(roads),
        len(records),
        path.name,
        engine,
        time.perf_counter() - started,
    )
    return roads


def _osm_engine(engine: str) -> str:
    if engine not in ("auto", "osmium", "gdal"):
        raise InvalidInput(
            f"OpenStreetMap engine must be 'auto', 'osmium' or 'gdal'; received "
            f"{engine!r}.",
            parameter="engine",
        )
    if engine == "gdal":
        return engine
    try:
        import osmium  # noqa: F401
    except ImportError:
        if engine == "osmium":
            raise InvalidInput(
                "The OpenStreetMap engine 'osmium' is not installed. Install the "
                "pip package osmium, or pass engine='gdal'.",
                parameter="engine",
            ) from None
        return "gdal"
    return "osmium"


def _osm_ways_osmium(path: Path) -> list[dict[str, Any]]:
    import osmium

    processor = (
        osmium.FileProcessor(str(path))
        .with_locations()
        .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
        .with_filter(osmium.filter.KeyFilter("highway"))
    )
    records = []
    way: Any
    for way in processor:
        coords = [(n.lon, n.lat) for n in way.nodes if n.location.valid()]
        tags = {t.k: t.v for t in way.tags}
        records.append({"tags": tags, "coords": coords})
    return records


def _osm_ways_gdal(path: Path) -> list[dict[str, Any]]:
    gdf = pyogrio.read_dataframe(
        path,
        layer="lines",
        columns=["name", "highway", "other_tags"],
        where="highway IS NOT NULL",
    )
    records = []
    for name, highway, other, geom in zip(
        gdf["name"], gdf["highway"], gdf["other_tags"], gdf.geometry, strict=True
    ):
        tags = dict(_OTHER_TAG.findall(other if isinstance(other, str) else ""))
        tags["highway"] = highway
        if isinstance(name, str):
            tags["name"] = name
        coords = shapely.get_coordinates(geom).tolist() if geom is not None else []
        records.append({"tags": tags, "coords": coords})
    return records


def _osm_roads(records: list[dict[str, Any]], source: str) -> gpd.GeoDataFrame:
    rows = []
    for record in records:
        tags, coords = record["tags"], record["coords"]
        kind = tags.get("highway")
        if kind not in OSM_HIGHWAYS or len(coords) < 2:
            continue

        # oneway=-1 runs against the drawing direction
        oneway_tag = tags.get("oneway", "").lower()
        if oneway_tag == "-1":
            coords = coords[::-1]
        oneway = (
            oneway_tag in TRUE_WORDS
            or oneway_tag == "-1"
            or tags.get("junction") == "roundabout"
        )
        rows.append(
            {
                "name": tags.get("name"),
                "kind": kind,
                "speed_kph": maxspeed_kph(tags.get("maxspeed")),
                "oneway": oneway,
                "geometry": shapely.LineString(coords),
            }
        )
    if not rows:
        raise InvalidInput(
            f"The OpenStreetMap extract {source!r} has no drivable way (highway="
            f"{', '.join(sorted(OSM_HIGHWAYS)[:4])}, ...). Check that the extract "
            "covers the county and was not filtered to other features.",
            path=source,
        )
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=4326)
