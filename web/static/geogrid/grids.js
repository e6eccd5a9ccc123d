/* Grid map: profile of a clicked grid; edits previewed before saving; history. */
(function () {
  "use strict";
  var gg = window.geogrid;
  var t = gg.t, h = gg.h;
  var map = gg.map();
  var crs = gg.page.crs;
  var profileBox = document.getElementById("profile");
  var editor = document.getElementById("editor");
  var message = document.getElementById("message");

  var state = {
    grid: null, // code of the open grid
    profile: null,
    mode: null, // null | "move" | "reshape" | "draw" | "cut" | "preview"
    editLayer: null, // the shape being edited or drawn
    editLayers: [], // every layer an edit mode added, removed when it ends
    previewLayer: null,
    body: null, // the edit request last previewed
    preview: null,
  };

  var EDIT_STYLE = { color: "#e65100", weight: 3, fillOpacity: 0.15, dashArray: null };
  var PREVIEW_STYLE = { color: "#e65100", weight: 3, fillOpacity: 0.1, dashArray: "6 4" };

  // --- clicks on the map -------------------------------------------------------

  map.on("geogrid:featureclick", function (e) {
    if (state.mode === "move" && e.key === "villages") {
      previewEdit({
        operation: "move_villages",
        grid: state.grid,
        villages: [e.feature.properties.code],
      });
    } else if (!state.mode && e.key === "grids") {
      openGrid(e.feature.properties.code);
    }
  });

  // layers reload as the map moves, and a reloaded layer is drawn on top: keep
  // the one that takes clicks (villages while moving one, else grids) above
  function restack() {
    var top = state.mode === "move" ? gg.layers.villages : gg.layers.grids;
    if (top && map.hasLayer(top)) top.bringToFront();
    if (gg.layers.jurisdictions && map.hasLayer(gg.layers.jurisdictions)) {
      gg.layers.jurisdictions.bringToFront();
    }
  }
  document.addEventListener("geogrid:loaded", restack);

  // --- the profile ---------------------------------------------------------------

  function openGrid(code) {
    gg.say(message, "");
    state.grid = code;
    return gg.api("GET", "/api/grids/" + encodeURIComponent(code)).then(function (p) {
      state.profile = p;
      renderProfile(p);
      document.body.dataset.grid = code;
    }, showError);
  }
  gg.openGrid = openGrid;

  function row(label, value, cls) {
    return h("tr", {}, [h("th", { text: label }), h("td", { class: cls || "num", text: value })]);
  }

  var MONEY_METRICS = ["deposits", "loans"];

  function renderProfile(p) {
    var c = p.current;
    var figures = h("table", { class: "figures" }, [
      row(t("field.households"), gg.num(c.households)),
      row(t("profile.customers"), gg.num(c.customers)),
      row(t("profile.potentials"), gg.num(c.potentials)),
      row(t("field.penetration"), gg.pct(c.penetration)),
      row(t("field.area_km2"), gg.num(p.area_km2, 2)),
      row(t("field.version"), String(p.version)),
    ]);
    var posts = h(
      "ul",
      { class: "posts" },
      p.posts.map(function (post) {
        var who = post.name ? post.name + " (" + post.username + ")" : post.username;
        var parts = [t("profile.post", { post: post.post }), who, post.phone];
        return h("li", { text: parts.filter(Boolean).join(" · ") });
      })
    );
    var liaison = h(
      "ul",
      { class: "liaison" },
      p.liaison.map(function (x) {
        var kind = t("liaison." + x.kind);
        return h("li", { text: [x.name, kind, x.phone].filter(Boolean).join(" · ") });
      })
    );
    var targets = h("table", { class: "targets" }, [
      h("tr", {}, [
        h("th", { text: t("profile.metric") }),
        h("th", { class: "num", text: t("profile.target") }),
        h("th", { class: "num", text: t("profile.current") }),
        h("th", { class: "num", text: t("profile.achieved") }),
      ]),
    ].concat(
      p.targets.map(function (x) {
        // balances in 万元 (ten thousand yuan), as banks report them; counts as they are
        var scale = MONEY_METRICS.indexOf(x.metric) >= 0 ? 1e4 : 1;
        var amount = function (v) { return v === null ? "–" : gg.num(v / scale); };
        return h("tr", { "data-metric": x.metric }, [
          h("td", { text: t("metric." + x.metric) }),
          h("td", { class: "num", text: amount(x.target) }),
          h("td", { class: "num", text: amount(x.current) }),
          h("td", { class: "num", text: x.achieved === null ? "–" : gg.pct(x.achieved, 0) }),
        ]);
      })
    ));
    var tools = p.editable
      ? h("div", { class: "buttons", id: "edit-tools" }, [
          h("button", { id: "btn-move", onclick: startMove, text: t("edit.move") }),
          h("button", { id: "btn-reshape", onclick: startReshape, text: t("edit.reshape") }),
          h("button", { id: "btn-draw", onclick: startDraw, text: t("edit.draw") }),
          h("button", { id: "btn-cut", onclick: startCut, text: t("edit.cut") }),
          h("button", { id: "btn-history", onclick: showHistory, text: t("edit.history") }),
        ])
      : h("div", {}, [
          h("p", { class: "hint", text: t("profile.read_only") }),
          h("button", { id: "btn-history", onclick: showHistory, text: t("edit.history") }),
        ]);
    profileBox.replaceChildren(
      h("h2", { text: p.name + " (" + p.code + ")" }),
      h("p", { class: "hint", text: p.branch.name }),
      figures,
      h("h3", { text: t("profile.posts") }),
      posts,
      h("h3", { text: t("profile.liaison") }),
      liaison,
      h("h3", { text: t("profile.targets") + " " + p.year }),
      targets,
      tools
    );
    editor.replaceChildren();
  }

  // --- edit modes ------------------------------------------------------------------

  function endModes() {
    if (map.pm) {
      map.pm.disableDraw();
      map.pm.disableGlobalCutMode && map.pm.disableGlobalCutMode();
    }
    state.editLayers.forEach(function (layer) {
      if (map.hasLayer(layer)) map.removeLayer(layer);
    });
    state.editLayers = [];
    state.editLayer = null;
    if (state.previewLayer) {
      map.removeLayer(state.previewLayer);
      state.previewLayer = null;
    }
    state.mode = null;
    document.body.dataset.mode = "";
    restack();
  }

  function setMode(mode, hintKey, onPreview) {
    endModes();
    state.mode = mode;
    document.body.dataset.mode = mode;
    var buttons = [h("button", { id: "btn-cancel", onclick: cancel, text: t("edit.cancel") })];
    if (onPreview) {
      buttons.unshift(h("button", { id: "btn-preview", class: "primary", onclick: onPreview, text: t("edit.preview") }));
    }
    editor.replaceChildren(
      h("h3", { text: t("edit.title") }),
      h("p", { class: "hint", text: t(hintKey) }),
      gapChoice(),
      h("div", { class: "buttons" }, buttons)
    );
  }

  function gapChoice() {
    return h("label", {}, [
      h("input", { type: "checkbox", id: "give-gap", checked: true }),
      " " + t("edit.give_gap"),
    ]);
  }

  function gapPolicy() {
    var box = document.getElementById("give-gap");
    return box && !box.checked ? "refuse" : "give";
  }

  function cancel() {
    endModes();
    editor.replaceChildren();
  }

  function startMove() {
    setMode("move", "edit.pick_village", null);
    if (gg.layers.villages && !map.hasLayer(gg.layers.villages)) {
      map.addLayer(gg.layers.villages);
    }
    restack();
  }

  function loadShape() {
    var url = "/api/grids/" + encodeURIComponent(state.grid) + "/shape?" + gg.query({ crs: crs });
    return gg.api("GET", url).then(function (data) {
      state.editLayer = L.geoJSON(data, { style: EDIT_STYLE }).addTo(map);
      state.editLayers.push(state.editLayer);
      return state.editLayer;
    });
  }

  function drawnGeometry(layer) {
    var geo = layer.toGeoJSON(false); // every digit: borders must meet the neighbours
    if (geo.type === "FeatureCollection") {
      var polys = geo.features.map(function (f) { return f.geometry; });
      if (polys.length === 1) return polys[0];
      return {
        type: "MultiPolygon",
        coordinates: polys.reduce(function (all, g) {
          return all.concat(g.type === "Polygon" ? [g.coordinates] : g.coordinates);
        }, []),
      };
    }
    return geo.type === "Feature" ? geo.geometry : geo;
  }

  function polygonEdit(layer) {
    return {
      operation: "replace_polygon",
      grid: state.grid,
      polygon: drawnGeometry(layer),
      gap_policy: gapPolicy(),
    };
  }

  function startReshape() {
    setMode("reshape", "edit.editing", function () {
      previewEdit(polygonEdit(state.editLayer));
    });
    loadShape().then(function (layer) {
      layer.eachLayer(function (sub) {
        sub.pm.enable({ allowSelfIntersection: false });
      });
      gg.fit(map, layer.getBounds());
    }, showError);
  }

  function startDraw() {
    setMode("draw", "edit.drawing", null);
    map.pm.enableDraw("Polygon", { allowSelfIntersection: false, templineStyle: EDIT_STYLE });
    map.once("pm:create", function (e) {
      state.editLayer = e.layer;
      state.editLayers.push(e.layer);
      previewEdit(polygonEdit(e.layer));
    });
  }

  function startCut() {
    setMode("cut", "edit.cutting", null);
    loadShape().then(function (layer) {
      gg.fit(map, layer.getBounds());
      map.pm.enableGlobalCutMode({ allowSelfIntersection: false });
      map.once("pm:cut", function (e) {
        state.editLayer = e.layer;
        state.editLayers.push(e.layer);
        map.pm.disableGlobalCutMode();
        previewEdit(polygonEdit(e.layer));
      });
    }, showError);
  }

  // --- preview and save --------------------------------------------------------------

  function previewEdit(body) {
    body.crs = crs;
    body.gap_policy = body.gap_policy || gapPolicy();
    gg.say(message, t("common.loading"));
    return gg.api("POST", "/api/edits/preview", body).then(function (preview) {
      gg.say(message, "");
      endModes();
      state.mode = "preview";
      document.body.dataset.mode = "preview";
      state.body = body;
      state.preview = preview;
      state.previewLayer = L.geoJSON(
        {
          type: "FeatureCollection",
          features: Object.keys(preview.shapes).map(function (code) {
            return { type: "Feature", properties: { code: code }, geometry: preview.shapes[code] };
          }),
        },
        { style: PREVIEW_STYLE, interactive: false }
      ).addTo(map);
      renderPreview(preview);
    }, showError);
  }

  function renderPreview(p) {
    var moves = h("table", { class: "moves" }, [
      h("tr", {}, [
        h("th", { text: t("edit.from") }),
        h("th", { text: t("edit.to") }),
        h("th", { class: "num", text: t("field.households") }),
        h("th", { class: "num", text: t("field.customers") }),
      ]),
    ].concat(
      p.moves.map(function (m) {
        return h("tr", {}, [
          h("td", { text: m.from }),
          h("td", { text: m.to }),
          h("td", { class: "num", text: gg.num(m.households) }),
          h("td", { class: "num", text: gg.num(m.customers) }),
        ]);
      })
    ));
    var workload = h("table", { class: "workload" }, [
      h("tr", {}, [
        h("th", { text: t("field.grid") }),
        h("th", { class: "num", text: t("field.households") }),
        h("th", { class: "num", text: t("field.ratio") }),
      ]),
    ].concat(
      p.workload.map(function (w) {
        var delta = w.households_after - w.households_before;
        return h("tr", {}, [
          h("td", { text: w.grid }),
          h("td", {
            class: "num " + (delta > 0 ? "up" : delta < 0 ? "down" : ""),
            text: gg.num(w.households_before) + " → " + gg.num(w.households_after),
          }),
          h("td", { class: "num", text: w.ratio_before.toFixed(2) + " → " + w.ratio_after.toFixed(2) }),
        ]);
      })
    ));
    var gaps = Object.keys(p.gap_given_to || {}).map(function (code) {
      return code + " " + gg.num(p.gap_given_to[code]) + " m²";
    });
    var parts = [
      h("h3", { text: t("edit.preview") + " · " + t("operation." + p.operation) + " · " + p.target }),
      h("p", { id: "households-moving" }, [t("edit.moving") + ": ", h("b", { text: gg.num(p.households_moving) })]),
      moves,
      h("h3", { text: t("edit.workload") }),
      workload,
    ];
    if (p.gap_m2 > 0) {
      parts.push(h("p", { text: t("edit.gap") + ": " + gg.num(p.gap_m2) + " m² " + t("edit.gap_given") + " " + gaps.join(", ") }));
    }
    if (p.warnings && p.warnings.length) {
      parts.push(h("h3", { text: t("edit.warnings") }));
      parts.push(h("ul", {}, p.warnings.map(function (w) { return h("li", { text: w }); })));
    }
    parts.push(
      h("label", {}, [t("edit.reason"), h("textarea", { id: "reason", required: true, maxlength: "500" })]),
      h("div", { class: "buttons" }, [
        h("button", { id: "btn-save", class: "primary", onclick: save, text: t("edit.save") }),
        h("button", { id: "btn-cancel", onclick: cancel, text: t("edit.cancel") }),
      ])
    );
    editor.replaceChildren.apply(editor, parts);
  }

  function save() {
    var reason = document.getElementById("reason").value.trim();
    if (!reason) {
      gg.say(message, t("edit.reason_needed"), "error");
      return;
    }
    var body = Object.assign({}, state.body, { reason: reason, versions: state.preview.versions });
    document.getElementById("btn-save").disabled = true;
    return gg.api("POST", "/api/edits/commit", body).then(
      function (result) {
        endModes();
        editor.replaceChildren();
        reloadLayers();
        openGrid(state.grid).then(function () {
          gg.say(message, t("edit.saved") + " " + result.changeset, "ok");
          document.body.dataset.saved = result.changeset;
        });
      },
      function (err) {
        var button = document.getElementById("btn-save");
        if (button) button.disabled = false;
        showError(err);
      }
    );
  }

  function reloadLayers() {
    ["grids", "villages", "density", "jurisdictions"].forEach(function (key) {
      var layer = gg.layers[key];
      if (layer && layer.reload) layer.reload();
    });
  }

  // --- history ------------------------------------------------------------------------

  function showHistory() {
    endModes();
    var url = "/api/grids/" + encodeURIComponent(state.grid) + "/history";
    return gg.api("GET", url).then(function (data) {
      var latest = data.versions.length ? data.versions[0].version : null;
      var rows = data.versions.map(function (v) {
        var rollback = state.profile.editable && v.version !== latest
          ? h("button", {
              class: "rollback",
              "data-version": v.version,
              onclick: function () {
                previewEdit({ operation: "rollback", grid: state.grid, version: v.version });
              },
              text: t("edit.rollback"),
            })
          : null;
        return h("tr", {}, [
          h("td", { class: "num", text: String(v.version) }),
          h("td", { text: t("operation." + v.operation) }),
          h("td", { text: v.changed_by || "" }),
          h("td", { text: (v.changed_at || "").slice(0, 16).replace("T", " ") }),
          h("td", { text: v.reason || "" }),
          h("td", {}, rollback),
        ]);
      });
      editor.replaceChildren(
        h("h3", { text: t("edit.history") }),
        h("table", { class: "history" }, [
          h("tr", {}, [
            h("th", { text: t("field.version") }),
            h("th", { text: t("edit.operation") }),
            h("th", { text: t("edit.who") }),
            h("th", { text: t("edit.when") }),
            h("th", { text: t("edit.why") }),
            h("th", {}),
          ]),
        ].concat(rows))
      );
    }, showError);
  }

  // --- errors ----------------------------------------------------------------------------

  function showError(err) {
    var conflict = err.status === 409;
    gg.say(message, err.message, conflict ? "conflict" : "error");
    if (conflict && state.body) {
      message.appendChild(
        h("button", {
          id: "btn-preview-again",
          onclick: function () { previewEdit(Object.assign({}, state.body)); },
          text: t("edit.preview"),
        })
      );
    }
  }

  document.addEventListener("geogrid:error", function (e) { showError(e.detail); });
})();
