/* Blind spots: summary, the ranked areas (each zooms the map to itself), downloads. */
(function () {
  "use strict";
  var gg = window.geogrid;
  var t = gg.t, h = gg.h;
  var map = gg.map();
  var crs = gg.page.crs;
  var message = document.getElementById("message");
  var ranked = document.getElementById("ranked");
  var summary = document.getElementById("coverage-summary");
  var highlight = null;

  gg.api("GET", "/api/coverage/summary").then(function (data) {
    var s = data.summary;
    summary.textContent =
      t("field.households") + " " + gg.num(s.households) + " · " +
      t("field.penetration") + " " + gg.pct(s.penetration) + " · " +
      t("blind.cold_spots") + " " + gg.num(s.cold_spot_cells) + " · " +
      t("blind.unvisited") + " " + gg.num(s.unvisited_villages) + " · " +
      t("blind.leakage") + " " + gg.num(s.leakage_villages) + " · " +
      t("blind.ungridded") + " " + gg.num(s.ungridded_households);
  }, function (err) { gg.say(message, err.message, "error"); });

  var rankedUrl = "/api/coverage/blind-spots?" + gg.query({ crs: crs, limit: 30 });
  gg.api("GET", rankedUrl).then(function (data) {
    ranked.replaceChildren.apply(ranked, data.blind_spots.map(item));
    document.body.dataset.ranked = String(data.blind_spots.length);
    gg.announce("ranked", data.blind_spots.length, rankedUrl);
  }, function (err) { gg.say(message, err.message, "error"); });

  // why the area is a blind spot, worded in the page's language from the flags
  function reasons(area) {
    var out = [];
    if (area.low_penetration) {
      out.push(h("div", { class: "meta reason", text: t("blind.low", {
        p: gg.pct(area.penetration),
        thr: gg.pct(area.penetration_threshold),
        ref: gg.pct(area.reference_penetration),
      }) }));
    }
    if (area.cold_spot) {
      out.push(h("div", { class: "meta reason", text: t("blind.cold", {
        z: gg.num(area.gi_z, 2),
        p: gg.num(area.p_value, 4),
        cut: gg.num(area.p_cutoff, 4),
      }) }));
    }
    return out;
  }

  function item(area) {
    var name = area.village_name || area.h3 || area.grid_code || "";
    var li = h("li", { "data-rank": area.rank }, [
      h("b", { text: "#" + area.rank + " " + name }),
      " ",
      h("span", { class: "badge", text: t("blind.score") + " " + gg.num(area.score, 1) }),
      h("div", { class: "meta", text: t("field.households") + " " + gg.num(area.households) + " · " + t("field.penetration") + " " + gg.pct(area.penetration) }),
      h("div", { class: "meta", text: t("blind.owner", {
        grid: area.grid_name || area.grid_code || "–",
        manager: area.manager_name || area.manager_username || t("blind.vacant"),
      }) }),
      h("div", { class: "meta", text: t("blind.gap", {
        n: gg.num(area.gap_households),
        wan: gg.num((area.uncovered_other_yuan || 0) / 1e4),
        yuan: gg.num(area.uncovered_other_yuan || 0),
        km: gg.num((area.branch_distance_m || 0) / 1000, 1),
      }) }),
    ].concat(reasons(area)));
    li.addEventListener("click", function () {
      var b = area.bbox; // west, south, east, north in the map's system
      Array.prototype.forEach.call(ranked.children, function (x) { x.classList.remove("selected"); });
      li.classList.add("selected");
      gg.fit(map, [[b[1], b[0]], [b[3], b[2]]], { maxZoom: 15, padding: [20, 20] });
      if (highlight) map.removeLayer(highlight);
      highlight = L.rectangle([[b[1], b[0]], [b[3], b[2]]], { color: "#d7191c", weight: 2, fill: false, dashArray: "4 3", interactive: false }).addTo(map);
      document.body.dataset.zoomed = String(area.rank);
    });
    return li;
  }
})();
