"""Map layers that fetch their data from the app's API by bounding box.

A folium page holds only the shell: the map, its base tiles, the layer
control and legends. The features come later from the JSON API, for the part
of the map in view, so a county of a million households never travels to
the browser in one page. The small runtime doing the fetching
(``layers/remote.js``) is inlined into the page once.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import folium
from branca.element import Element, Figure, MacroElement
from folium.map import Layer
from folium.plugins import HeatMap
from folium.template import Template

RUNTIME_JS = (Path(__file__).with_name("remote.js")).read_text(encoding="utf-8")


def _add_runtime(element: MacroElement) -> None:
    figure = element.get_root()
    if isinstance(figure, Figure):
        figure.header.add_child(
            Element(f"<script>{RUNTIME_JS}</script>"), name="geogrid_runtime"
        )


class Runtime(MacroElement):
    """Adds the runtime to a page that has no remote layer (page scripts use it)."""

    def render(self, **kwargs: Any) -> Any:
        _add_runtime(self)
        return super().render(**kwargs)


class RemoteGeoJson(Layer):
    """Polygons or points fetched from ``url`` as GeoJSON, again when the map moves.

    Parameters
    ----------
    url
        API path returning a FeatureCollection; ``bbox=west,south,east,north``
        of the map in view is added when ``by_bbox``.
    name
        Name in the layer control.
    key
        Short name the page's scripts find the layer by (``geogrid.layers``).
    style
        Leaflet path options applied to every feature.
    colour_by
        ``{"property", "breaks", "colours", "missing"}``: fill colour by a
        numeric property (see `colour_scale`).
    tooltip
        (property, label) pairs shown on hover.
    by_bbox
        Fetch the features in view (True) or everything once (False).
    min_zoom
        Below this zoom the layer stays empty.
    params
        Extra query parameters.
    editable
        Let Leaflet-Geoman edit the features (off: the layer is ignored by it).
    interactive
        Features take clicks and hovers; off for outlines drawn over others.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = geogrid.remoteGeoJson(
            {{ this._parent.get_name() }}, {{ this.options|tojson }});
        {% endmacro %}
        """
    )

    def __init__(
        self,
        url: str,
        name: str,
        *,
        key: str,
        style: dict[str, Any] | None = None,
        colour_by: dict[str, Any] | None = None,
        tooltip: Sequence[tuple[str, ...]] | None = None,
        highlight: dict[str, Any] | None = None,
        by_bbox: bool = True,
        min_zoom: int | None = None,
        params: dict[str, str] | None = None,
        editable: bool = False,
        interactive: bool = True,
        show: bool = True,
    ) -> None:
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "RemoteGeoJson"
        self.options = {
            "url": url,
            "key": key,
            "style": style or {},
            "colour_by": colour_by,
            "tooltip": [list(t) for t in tooltip or []],
            "highlight": highlight,
            "by_bbox": by_bbox,
            "min_zoom": min_zoom,
            "params": params or {},
            "editable": editable,
            "interactive": interactive,
        }

    def render(self, **kwargs: Any) -> Any:
        _add_runtime(self)
        return super().render(**kwargs)


class RemoteHeat(HeatMap):
    """A heatmap whose points come from ``url`` (``{"points": [[lat, lon, w]],
    "max": m}``); with ``url`` None the page's script fills it.

    ``cell_px`` asks the API for cells of about that many screen pixels
    (``cell_m`` is derived from the zoom), so a county-wide view gets coarse
    cells and a village view fine ones.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.heatLayer([], {{ this.options|tojavascript }});
        geogrid.remoteHeat({{ this._parent.get_name() }}, {{ this.get_name() }},
                           {{ this.remote|tojson }});
        {% endmacro %}
        """
    )

    def __init__(
        self,
        url: str | None,
        name: str,
        *,
        key: str,
        by_bbox: bool = True,
        cell_px: float | None = 6.0,
        params: dict[str, str] | None = None,
        radius_px: int = 14,
        blur_px: int = 16,
        gradient: dict[float, str] | None = None,
        show: bool = True,
    ) -> None:
        super().__init__(
            [],
            name=name,
            radius=radius_px,
            blur=blur_px,
            min_opacity=0.3,
            gradient=gradient,
            show=show,
        )
        self._name = "RemoteHeat"
        self.remote = {
            "url": url,
            "key": key,
            "by_bbox": by_bbox,
            "cell_px": cell_px,
            "params": params or {},
        }

    def render(self, **kwargs: Any) -> Any:
        _add_runtime(self)
        return super().render(**kwargs)


def colour_scale(
    prop: str,
    breaks: list[float],
    colours: list[str],
    *,
    missing: str = "#bbbbbb",
    closed: list[bool] | None = None,
) -> dict[str, Any]:
    """A fill colour by value: ``colours[i]`` below ``breaks[i]``, the last above.

    ``closed[i]`` True makes break ``i`` inclusive (value <= break).
    """
    if len(colours) != len(breaks) + 1:
        raise ValueError(
            f"colour_scale needs one colour more than breaks; got {len(colours)} "
            f"colours for {len(breaks)} breaks."
        )
    return {
        "property": prop,
        "breaks": breaks,
        "colours": colours,
        "missing": missing,
        "closed": closed or [False] * len(breaks),
    }


class _Expose(MacroElement):
    _template = Template(
        """
        {% macro script(this, kwargs) %}
        geogrid.register({{ this.key|tojson }}, {{ this.target }});
        {% endmacro %}
        """
    )

    def __init__(self, key: str, target: str) -> None:
        super().__init__()
        self.key = key
        self.target = target

    def render(self, **kwargs: Any) -> Any:
        _add_runtime(self)
        return super().render(**kwargs)


def expose(fmap: folium.Map, key: str, element: MacroElement) -> None:
    """Register a folium element's JavaScript object under ``key`` for page scripts.

    Call it after adding ``element``: the registration runs after its script.
    """
    fmap.add_child(_Expose(key, element.get_name()))
