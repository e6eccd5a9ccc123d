"""Legends: a small box on the map naming what each colour means."""

from __future__ import annotations

import html

from branca.element import MacroElement
from folium.template import Template


class Legend(MacroElement):
    """A legend control: a title and (colour, label) rows.

    On a narrow screen only the title shows, so the legends leave the map to
    the map; a tap on it opens and closes the rows.

    Parameters
    ----------
    title
        Heading of the box.
    items
        (CSS colour, label) pairs, top to bottom.
    position
        Leaflet control corner: topleft, topright, bottomleft, bottomright.
    key
        Short name the page's scripts find the control by, to hide or show it
        with its layer (``geogrid.layers``); None: always shown.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var legend = L.control({position: {{ this.position|tojson }}});
            legend.onAdd = function () {
                var div = L.DomUtil.create("div", "geogrid-legend");
                div.innerHTML = {{ this.html|tojson }};
                // on a phone only the title shows until tapped (see geogrid.css)
                L.DomEvent.disableClickPropagation(div);
                L.DomEvent.on(div, "click", function () {
                    div.classList.toggle("open");
                });
                return div;
            };
            legend.addTo({{ this._parent.get_name() }});
            {% if this.key %}
            window.geogrid = window.geogrid || {layers: {}};
            window.geogrid.layers[{{ this.key|tojson }}] = legend;
            {% endif %}
        })();
        {% endmacro %}
        """
    )

    def __init__(
        self,
        title: str,
        items: list[tuple[str, str]],
        *,
        position: str = "bottomright",
        key: str | None = None,
    ) -> None:
        super().__init__()
        self._name = "Legend"
        self.position = position
        self.key = key
        rows = "".join(
            f'<div><i style="background:{html.escape(colour)}"></i>'
            f"{html.escape(label)}</div>"
            for colour, label in items
        )
        self.html = f"<b>{html.escape(title)}</b>{rows}"
