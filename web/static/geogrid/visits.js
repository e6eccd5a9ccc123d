/* Visit checks: where recent visits were recorded against the households' locations. */
(function () {
  "use strict";
  var gg = window.geogrid;
  var t = gg.t, h = gg.h;
  var map = gg.map();
  var crs = gg.page.crs;
  var message = document.getElementById("message");
  var days = document.getElementById("days");
  var staff = document.getElementById("staff");
  var summary = document.getElementById("checks-summary");
  var byStaff = document.getElementById("by-staff");
  var away = document.getElementById("away");
  var shown = document.getElementById("shown");
  var drawn = L.layerGroup().addTo(map);
  var AWAY_LIMIT = 300;

  function load() {
    var params = { days: days.value, staff: staff.value, verdict: "away", limit: AWAY_LIMIT, crs: crs };
    var url = "/api/visits?" + gg.query(params);
    gg.say(message, t("common.loading"));
    return gg.api("GET", url).then(function (data) {
      gg.say(message, "");
      drawSummary(data.summary);
      drawAway(data.visits);
      document.body.dataset.away = String(data.visits.length);
      gg.announce("checks", data.visits.length, url);
    }, function (err) { gg.say(message, err.message, "error"); });
  }

  // a member of staff by name, with the user name that tells namesakes apart
  function who(r) {
    return r.staff_name ? r.staff_name + " (" + r.staff + ")" : r.staff;
  }

  function total(rows, key) {
    return rows.reduce(function (n, r) { return n + (r[key] || 0); }, 0);
  }

  function drawSummary(rows) {
    summary.textContent = t("checks.summary", {
      n: gg.num(total(rows, "visits")),
      on: gg.num(total(rows, "on_site")),
      away: gg.num(total(rows, "away")),
      none: gg.num(total(rows, "no_location")),
    });
    if (!staff.value) {
      var chosen = staff.value;
      staff.replaceChildren(h("option", { value: "", text: t("checks.everyone") }));
      rows.forEach(function (r) { staff.appendChild(h("option", { value: r.staff, text: who(r) })); });
      staff.value = chosen;
    }
    byStaff.replaceChildren.apply(byStaff, rows.map(function (r) {
      var li = h("li", { "data-staff": r.staff, class: r.away ? "flagged" : null }, [
        t("checks.row", {
          staff: who(r),
          n: gg.num(r.visits),
          away: gg.num(r.away),
          share: r.away_share === null ? "–" : gg.pct(r.away_share),
        }),
      ]);
      li.addEventListener("click", function () { staff.value = r.staff; load(); });
      return li;
    }));
  }

  function drawAway(visits) {
    drawn.clearLayers();
    shown.textContent = visits.length ? t("checks.shown", { n: gg.num(visits.length) }) : "";
    if (!visits.length) {
      away.replaceChildren(h("li", { class: "hint", text: t("checks.none_away") }));
      return;
    }
    var bounds = L.latLngBounds([]);
    away.replaceChildren.apply(away, visits.map(function (v) {
      var at = [v.lat, v.lon], home = [v.household_lat, v.household_lon];
      L.polyline([home, at], { color: "#c62828", weight: 1.5, dashArray: "4 4", interactive: false }).addTo(drawn);
      L.circleMarker(home, { radius: 4, color: "#1f4e79", weight: 2, fillOpacity: 0.6 }).addTo(drawn);
      var marker = L.circleMarker(at, { radius: 6, color: "#c62828", weight: 2, fillOpacity: 0.8 })
        .bindTooltip(v.staff + " · " + v.household_no)
        .addTo(drawn);
      bounds.extend(at).extend(home);
      var li = h("li", { "data-id": v.id }, [
        h("b", { text: v.household_no }),
        " ",
        h("span", { class: "badge", text: t("outcome." + v.outcome) }),
        h("div", { class: "meta", text: t("checks.away_item", {
          when: gg.localTime(v.visited_at, true),
          staff: v.staff_name || v.staff,
          d: gg.num(v.distance_m),
          t: gg.num(v.tolerance_m),
        }) }),
        v.address ? h("div", { class: "meta", text: v.address }) : null,
      ]);
      li.addEventListener("click", function () {
        Array.prototype.forEach.call(away.children, function (x) { x.classList.remove("selected"); });
        li.classList.add("selected");
        gg.fit(map, L.latLngBounds([at, home]), { maxZoom: 16, padding: [30, 30] });
        marker.openTooltip();
      });
      return li;
    }));
    if (bounds.isValid()) gg.fit(map, bounds, { maxZoom: 15, padding: [20, 20] });
  }

  days.addEventListener("change", load);
  staff.addEventListener("change", load);
  load();
})();
