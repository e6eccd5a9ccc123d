/* Grid design: a proposal for a branch beside today's grids, with their figures. */
(function () {
  "use strict";
  var gg = window.geogrid;
  var t = gg.t, h = gg.h;
  var left = gg.map();
  var crs = gg.page.crs;
  var message = document.getElementById("message");
  var figures = document.getElementById("figures");
  var scale = gg.page.workload_scale;

  // the right-hand map, with the same base tiles as the left
  var right = L.map("map-right", { zoomControl: false, attributionControl: !!gg.page.tiles.url });
  if (gg.page.tiles.url) {
    L.tileLayer(gg.page.tiles.url, { attribution: gg.page.tiles.attribution }).addTo(right);
  }
  right.setView(left.getCenter(), left.getZoom());

  // keep the two views together
  var syncing = false;
  function follow(a, b) {
    a.on("move", function () {
      if (syncing) return;
      syncing = true;
      b.setView(a.getCenter(), a.getZoom(), { animate: false });
      syncing = false;
    });
  }
  follow(left, right);
  follow(right, left);

  var style = gg.styleFor({ style: { color: "#333", weight: 1.5, fillOpacity: 0.45 }, colour_by: scale });
  var layers = { left: null, right: null };

  function draw(map, side, collection) {
    if (layers[side]) map.removeLayer(layers[side]);
    layers[side] = L.geoJSON(collection, {
      style: style,
      onEachFeature: function (f, sub) {
        sub.bindTooltip(
          f.properties.grid + " · " + t("field.households") + " " + gg.num(f.properties.households) +
            " · " + t("field.ratio") + " " + Number(f.properties.ratio).toFixed(2),
          { sticky: true }
        );
      },
    }).addTo(map);
    return layers[side];
  }

  function run(e) {
    if (e) e.preventDefault();
    var code = document.getElementById("branch").value;
    var params = { k: document.getElementById("k").value, seed: document.getElementById("seed").value, crs: crs };
    gg.say(message, t("design.running"));
    document.getElementById("run").disabled = true;
    return gg.api("GET", "/api/branches/" + encodeURIComponent(code) + "/proposal?" + gg.query(params)).then(
      function (data) {
        gg.say(message, "");
        document.getElementById("run").disabled = false;
        var current = draw(left, "left", data.current);
        draw(right, "right", data.proposal);
        gg.fit(left, current.getBounds());
        showFigures(data, code, params);
        document.body.dataset.proposal = String(data.proposal.features.length);
        gg.announce("proposal", data.proposal.features.length, "/api/branches/" + code + "/proposal");
      },
      function (err) {
        document.getElementById("run").disabled = false;
        gg.say(message, err.message, "error");
      }
    );
  }

  function gridTable(collection) {
    return h("table", {}, [
      h("tr", {}, [
        h("th", { text: t("field.grid") }),
        h("th", { class: "num", text: t("field.households") }),
        h("th", { class: "num", text: t("field.ratio") }),
      ]),
    ].concat(collection.features.map(function (f) {
      return h("tr", {}, [
        h("td", { text: f.properties.grid }),
        h("td", { class: "num", text: gg.num(f.properties.households) }),
        h("td", { class: "num", text: Number(f.properties.ratio).toFixed(2) }),
      ]);
    })));
  }

  var COARSE_DEVIATION = 0.10;

  function showFigures(data, code, params) {
    var s = data.summary;
    var cmp = s.comparison || {};
    var table = h("table", { id: "comparison" }, [
      h("tr", {}, [h("th"), h("th", { class: "num", text: t("design.current") }), h("th", { class: "num", text: t("design.proposal") })]),
      h("tr", {}, [h("td", { text: t("design.k") }), h("td", { class: "num", text: String(s.current_k) }), h("td", { class: "num", text: String(s.k) })]),
      h("tr", {}, [
        h("td", { text: t("design.max_dev") }),
        h("td", { class: "num", text: gg.pct(s.current_max_deviation) }),
        h("td", { class: "num", text: gg.pct(s.max_deviation) }),
      ]),
      h("tr", {}, [
        h("td", { text: t("design.mean_pp") }),
        h("td", { class: "num", text: cmp.current_mean_polsby_popper === undefined ? "–" : gg.num(cmp.current_mean_polsby_popper, 3) }),
        h("td", { class: "num", text: gg.num(s.mean_polsby_popper, 3) }),
      ]),
      h("tr", {}, [
        h("td", { text: t("design.changed") }),
        h("td", {}),
        h("td", { class: "num", text: cmp.villages_changed === undefined ? "–" : cmp.villages_changed + " / " + cmp.villages_compared }),
      ]),
    ]);
    var download = "/api/branches/" + encodeURIComponent(code) + "/proposal.geojson?" + gg.query({ k: params.k, seed: params.seed });
    // few whole villages per grid cannot be balanced finely: say so
    var coarse = s.max_deviation > COARSE_DEVIATION && s.n_units < 3 * s.k
      ? h("p", { class: "hint", id: "coarse-hint", text: t("design.coarse", {
          villages: gg.num(s.n_villages), k: gg.num(s.k),
          per: gg.num(s.n_units / s.k, 1), dev: gg.pct(s.max_deviation),
        }) })
      : null;
    // (replaceChildren would write a null as the text "null")
    var parts = [
      h("h3", { text: t("design.figures") + " · " + data.branch.name }),
      table,
      coarse,
      h("div", { class: "buttons" }, [h("a", { class: "button", id: "download-proposal", href: download, text: t("common.download_geojson") })]),
      adoptForm(data, code, params),
      h("h3", { text: t("design.current") }),
      gridTable(data.current),
      h("h3", { text: t("design.proposal") }),
      gridTable(data.proposal),
    ];
    figures.replaceChildren.apply(figures, parts.filter(Boolean));
  }

  // adopting: a reason, then new versions of the branch's grids
  function adoptForm(data, code, params) {
    if (!data.adoptable) {
      return data.may_adopt ? h("p", { class: "hint", text: t("design.not_adoptable") }) : null;
    }
    var reason = h("input", { id: "adopt-reason", type: "text", required: true, maxlength: "500" });
    var button = h("button", { type: "submit", id: "adopt", class: "primary", text: t("design.adopt") });
    var form = h("form", { id: "adopt-form" }, [
      h("h3", { text: t("design.adopt") }),
      h("p", { class: "hint", text: t("design.adopt_hint") }),
      h("label", {}, [t("design.adopt_reason"), reason]),
      h("div", { class: "buttons" }, [button]),
    ]);
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      if (!reason.value.trim()) { reason.focus(); return; }
      button.disabled = true;
      var body = { k: params.k ? Number(params.k) : null, seed: Number(params.seed || 0), reason: reason.value, versions: data.versions };
      gg.api("POST", "/api/branches/" + encodeURIComponent(code) + "/proposal/adopt", body).then(
        function (done) {
          return run().then(function () {
            gg.say(message, t("design.adopted", { n: gg.num(done.households_moved) }), "ok");
            document.body.dataset.adopted = done.changeset;
          });
        },
        function (err) {
          button.disabled = false;
          gg.say(message, err.message, err.status === 409 ? "conflict" : "error");
        }
      );
    });
    return form;
  }

  document.getElementById("design-form").addEventListener("submit", run);
  run();
})();
