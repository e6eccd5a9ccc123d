/* geogrid map runtime: layers whose data the browser fetches from the app's API.
 *
 * Inlined into each page by layers.remote (no extra request). Layers register
 * under a key in geogrid.layers; each load is recorded in geogrid.loaded[key]
 * (count and URL) and announced with a "geogrid:loaded" event, so page
 * scripts and tests can tell what the map shows.
 */
(function () {
  "use strict";
  var gg = (window.geogrid = window.geogrid || {});
  gg.layers = gg.layers || {};
  gg.loaded = gg.loaded || {};
  gg.params = gg.params || {};

  gg.register = function (key, layer) {
    gg.layers[key] = layer;
    return layer;
  };

  gg.announce = function (key, count, url) {
    gg.loaded[key] = { count: count, url: url, at: Date.now() };
    document.dispatchEvent(
      new CustomEvent("geogrid:loaded", { detail: { key: key, count: count } })
    );
  };

  gg.colourFor = function (spec, value) {
    if (value === null || value === undefined || value !== value) {
      return spec.missing;
    }
    for (var i = 0; i < spec.breaks.length; i++) {
      var upper = spec.breaks[i];
      if (spec.closed && spec.closed[i] ? value <= upper : value < upper) {
        return spec.colours[i];
      }
    }
    return spec.colours[spec.colours.length - 1];
  };

  gg.styleFor = function (opts) {
    return function (feature) {
      var style = Object.assign({}, opts.style || {});
      if (opts.colour_by) {
        var value = feature.properties[opts.colour_by.property];
        style.fillColor = gg.colourFor(opts.colour_by, value);
      }
      return style;
    };
  };

  function escapeHtml(text) {
    return String(text === null || text === undefined ? "" : text).replace(
      /[&<>"']/g,
      function (c) {
        return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
      }
    );
  }
  gg.escapeHtml = escapeHtml;

  // a property as the tooltip shows it: fields are [property, label, format]
  function formatted(value, format) {
    if (value === null || value === undefined) return "–";
    var number = Number(value);
    if (format === "pct") return (100 * number).toFixed(1) + "%";
    if (format === "int") return Math.round(number).toLocaleString();
    if (format === "fixed1") return number.toFixed(1);
    if (format === "fixed2") return number.toFixed(2);
    if (format === "fixed4") return number.toFixed(4);
    return String(value);
  }
  gg.tooltipHtml = function (fields, properties) {
    return fields
      .map(function (f) {
        return "<b>" + escapeHtml(f[1]) + "</b> " + escapeHtml(formatted(properties[f[0]], f[2]));
      })
      .join("<br>");
  };

  gg.urlFor = function (map, opts) {
    var url = new URL(opts.url, window.location.href);
    var extra = Object.assign({}, gg.params, opts.params || {});
    Object.keys(extra).forEach(function (k) {
      url.searchParams.set(k, extra[k]);
    });
    if (opts.by_bbox) {
      var b = map.getBounds();
      url.searchParams.set(
        "bbox",
        [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]
          .map(function (v) { return v.toFixed(6); })
          .join(",")
      );
    }
    if (opts.cell_px) {
      var lat = map.getCenter().lat;
      var mPerPx = (156543.03 * Math.cos((lat * Math.PI) / 180)) / Math.pow(2, map.getZoom());
      var cell = Math.min(5000, Math.max(10, opts.cell_px * mPerPx));
      url.searchParams.set("cell_m", cell.toFixed(0));
    }
    return url.toString();
  };

  // reload a layer when the map moves (debounced), only while it is shown
  function follow(map, layer, opts, load) {
    var timer = null;
    var controller = null;
    function schedule() {
      if (!map.hasLayer(layer)) return;
      if (opts.min_zoom && map.getZoom() < opts.min_zoom) {
        layer.clearLayers && layer.clearLayers();
        return;
      }
      clearTimeout(timer);
      timer = setTimeout(function () {
        if (controller) controller.abort();
        controller = new AbortController();
        load(controller.signal);
      }, 150);
    }
    layer.reload = schedule;
    layer.on("add", schedule);
    if (opts.by_bbox) map.on("moveend", schedule);
    map.whenReady(schedule);
  }

  gg.fetchJson = function (url, signal) {
    return fetch(url, { credentials: "same-origin", signal: signal }).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) {
          var err = new Error((body.error && body.error.message) || r.statusText);
          err.status = r.status;
          err.body = body;
          throw err;
        }
        return body;
      });
    });
  };

  gg.reportError = function (err) {
    if (err.name === "AbortError") return;
    document.dispatchEvent(new CustomEvent("geogrid:error", { detail: err }));
    if (window.console) console.warn("geogrid:", err.message);
  };

  gg.remoteGeoJson = function (map, opts) {
    var layer = L.geoJSON(null, {
      pmIgnore: !opts.editable,
      interactive: opts.interactive !== false,
      style: gg.styleFor(opts),
      pointToLayer: function (feature, latlng) {
        return L.circleMarker(latlng, Object.assign({ radius: 5 }, opts.style || {}));
      },
      onEachFeature: function (feature, sub) {
        if (opts.tooltip && opts.tooltip.length) {
          sub.bindTooltip(gg.tooltipHtml(opts.tooltip, feature.properties), { sticky: true });
        }
        sub.on("click", function (e) {
          map.fire("geogrid:featureclick", { key: opts.key, feature: feature, layer: sub, latlng: e.latlng });
        });
      },
    });
    if (opts.highlight) {
      layer.on("mouseover", function (e) { e.layer.setStyle && e.layer.setStyle(opts.highlight); });
      layer.on("mouseout", function (e) { layer.resetStyle(e.layer); });
    }
    follow(map, layer, opts, function (signal) {
      var url = gg.urlFor(map, opts);
      gg.fetchJson(url, signal)
        .then(function (data) {
          layer.clearLayers();
          layer.addData(data);
          gg.announce(opts.key, (data.features || []).length, url);
        })
        .catch(gg.reportError);
    });
    return gg.register(opts.key, layer);
  };

  gg.remoteHeat = function (map, layer, opts) {
    layer.options.pmIgnore = true;
    if (!opts.url) return gg.register(opts.key, layer);
    follow(map, layer, opts, function (signal) {
      var url = gg.urlFor(map, opts);
      gg.fetchJson(url, signal)
        .then(function (data) {
          layer.setOptions({ max: data.max || 1 });
          layer.setLatLngs(data.points);
          gg.announce(opts.key, data.points.length, url);
        })
        .catch(gg.reportError);
    });
    return gg.register(opts.key, layer);
  };
})();
