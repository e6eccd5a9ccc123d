"""Serve every script and stylesheet from the app: nothing loads from a CDN."""

from __future__ import annotations

from pathlib import Path

import branca.element

from geogrid.errors import GeogridError

VENDOR_DIR = Path(__file__).resolve().parent.parent / "web" / "static" / "vendor"

# folium's asset names mapped to files under web/static/vendor (None: not needed)
VENDOR_FILES: dict[str, str | None] = {
    "leaflet": "leaflet/dist/leaflet.js",
    "leaflet_css": "leaflet/dist/leaflet.css",
    "leaflet-heat.js": "leaflet.heat/dist/leaflet-heat.js",
    "markerclusterjs": "leaflet.markercluster/dist/leaflet.markercluster.js",
    "markerclustercss": "leaflet.markercluster/dist/MarkerCluster.css",
    "markerclusterdefaultcss": "leaflet.markercluster/dist/MarkerCluster.Default.css",
    "leaflet_geoman_js": "leaflet-geoman-free/dist/leaflet-geoman.js",
    "leaflet_geoman_css": "leaflet-geoman-free/dist/leaflet-geoman.css",
    # folium's bootstrap, jQuery and icon fonts serve its own popups and icons,
    # which geogrid does not use
    "jquery": None,
    "bootstrap": None,
    "bootstrap_css": None,
    "glyphicons_css": None,
    "awesome_markers": None,
    "awesome_markers_css": None,
    "awesome_markers_font_css": None,
    "awesome_rotate_css": None,
}


class ExternalAsset(GeogridError):
    """A map element asked for a script that geogrid does not serve."""

    status = 500
    code = "external_asset"


def _local(entries: list[tuple[str, str]], prefix: str) -> list[tuple[str, str]]:
    local = []
    for name, url in entries:
        if name not in VENDOR_FILES:
            raise ExternalAsset(
                f"Map element asset {name!r} ({url}) has no local copy; add it to "
                "scripts/vendor_assets.sh and layers.assets.VENDOR_FILES, since "
                "bank intranets cannot reach CDNs."
            )
        path = VENDOR_FILES[name]
        if path is not None:
            local.append((name, f"{prefix.rstrip('/')}/{path}"))
    return local


def localise_assets(
    root: branca.element.Element, prefix: str = "/static/vendor"
) -> None:
    """Point every element's scripts and stylesheets at the app's own copies.

    Parameters
    ----------
    root
        A folium Map (or any element); its children are visited too.
    prefix
        URL prefix under which web/static/vendor is served.
    """
    stack = [root]
    while stack:
        element = stack.pop()
        for attr in ("default_js", "default_css"):
            entries = getattr(element, attr, None)
            if entries:
                setattr(element, attr, _local(list(entries), prefix))
        stack.extend(element._children.values())
