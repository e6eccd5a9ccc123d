/* Visit route: filters to a visit list, a day's route on the map with numbered
   stops and arrival times, reordering by hand, printing and downloads. */
(function () {
  "use strict";
  var gg = window.geogrid;
  var t = gg.t, h = gg.h;
  var map = gg.map();
  var crs = gg.page.crs;
  var $ = function (id) { return document.getElementById(id); };
  var message = $("message");
  var form = $("route-form");
  var result = $("result");
  var stopsList = $("stops");
  var unscheduledList = $("unscheduled");
  var exportCrs = $("export-crs");

  var COLOURS = { route: "#1f4e79", potential: "#b36b00", customer: "#1b5e20", late: "#c62828" };
  var drawn = L.layerGroup().addTo(map);
  // answer: the API's plan (a day, or a week of days); plan: the day shown
  // picking: which end of the day a click on the map sets ("start", "end" or null)
  var state = {
    answer: null, plan: null, day: 0,
    start: "branch", point: null, end: "start", endPoint: null, picking: null,
    bounds: null,
  };
  var week = function () { return state.answer && state.answer.week; };
  $("mode").addEventListener("change", function () {
    $("days-label").hidden = $("mode").value !== "week";
  });

  // --- where the day starts ----------------------------------------------------

  function setStart(kind, point) {
    state.start = kind;
    state.point = point || null;
    ["branch", "device", "pick"].forEach(function (k) {
      $("start-" + k).classList.toggle("on", k === kind);
    });
  }

  function setEnd(kind, point) {
    state.end = kind;
    state.endPoint = point || null;
    ["start", "branch", "pick"].forEach(function (k) {
      $("end-" + k).classList.toggle("on", k === kind);
    });
  }

  function pick(which, hint) {
    state.picking = which;
    map.getContainer().style.cursor = "crosshair";
    gg.say(message, t(hint));
  }

  $("start-branch").addEventListener("click", function () { setStart("branch"); });
  $("start-pick").addEventListener("click", function () { pick("start", "nearby.pick_hint"); });
  $("end-start").addEventListener("click", function () { setEnd("start"); });
  $("end-branch").addEventListener("click", function () { setEnd("branch"); });
  $("end-pick").addEventListener("click", function () { pick("end", "routes.end_pick_hint"); });
  map.on("click", function (e) {
    if (!state.picking) return;
    var which = state.picking;
    var point = { lon: e.latlng.lng, lat: e.latlng.lat };
    state.picking = null;
    map.getContainer().style.cursor = "";
    if (which === "end") setEnd("pick", point);
    else setStart("pick", point);
    gg.say(message, t(which === "end" ? "routes.end_picked" : "routes.start_picked"), "ok");
  });
  $("start-device").addEventListener("click", function () {
    if (!navigator.geolocation) {
      gg.say(message, t("nearby.no_geolocation"), "error");
      return;
    }
    navigator.geolocation.getCurrentPosition(
      function (pos) {
        // the device reports WGS84; the map may be drawn in GCJ-02
        var q = gg.query({ lon: pos.coords.longitude, lat: pos.coords.latitude, from: "wgs84", to: crs });
        gg.api("GET", "/api/convert?" + q).then(function (p) {
          setStart("device", { lon: p.lon, lat: p.lat });
          gg.say(message, "");
        });
      },
      function () { gg.say(message, t("nearby.no_geolocation"), "error"); },
      { enableHighAccuracy: true, timeout: 10000, maximumAge: 60000 }
    );
  });

  // --- asking for a plan ----------------------------------------------------------

  function listOf(text) {
    return text.split(/[\s,，、;；]+/).filter(function (x) { return x; });
  }

  function request() {
    var grid = $("grid").value;
    var days = $("not-visited").value;
    return {
      crs: crs,
      filters: {
        grids: grid ? [grid] : [],
        status: $("status").value || null,
        not_visited_days: days ? Number(days) : null,
        lacking_product: $("lacking").value || null,
        other_bank: $("other-bank").checked,
        labels: listOf($("labels").value),
        campaign: listOf($("campaign").value),
      },
      start: state.start === "branch" ? "branch" : state.point,
      end: state.end === "start" ? null : state.end === "branch" ? "branch" : state.endPoint,
      date: $("date").value || null,
      max_visits: Number($("max-visits").value),
      service_min: Number($("service-min").value),
      work_hours: [$("work-from").value, $("work-to").value],
      candidates: Number($("candidates").value),
      days: $("mode").value === "week" ? Number($("days").value) : undefined,
    };
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    $("plan").disabled = true;
    gg.say(message, t("routes.planning"));
    var path = $("mode").value === "week" ? "/api/routes/week" : "/api/routes/plan";
    gg.api("POST", path, request()).then(function (answer) {
      gg.say(message, "");
      state.day = 0;
      show(answer);
      $("filters").open = false;
      $("day").open = false;
    }, function (err) {
      gg.say(message, err.message, "error");
    }).then(function () { $("plan").disabled = false; });
  });

  function reorder(order) {
    gg.say(message, t("common.loading"));
    var body = { order: order, crs: crs };
    if (week()) body.day = state.plan.date;
    return gg.api("POST", "/api/routes/" + state.answer.id + "/order", body).then(
      function (answer) { gg.say(message, ""); show(answer, true); },
      function (err) { gg.say(message, err.message, "error"); }
    );
  }

  function move(index, by) {
    var order = state.plan.stops.map(function (s) { return s.id; });
    var target = index + by;
    if (target < 0 || target >= order.length) return;
    var moved = order.splice(index, 1)[0];
    order.splice(target, 0, moved);
    reorder(order);
  }

  // --- showing it -------------------------------------------------------------------

  function show(answer, keepView) {
    state.answer = answer;
    result.hidden = false;
    $("week-totals").hidden = !answer.week;
    $("day-tabs").hidden = !answer.week;
    if (answer.week) {
      var tot = answer.totals;
      $("week-totals").textContent = t("routes.week_totals", {
        d: tot.days, n: gg.num(tot.visits), km: gg.num(tot.distance_km, 1), min: gg.num(tot.travel_min),
      });
    }
    drawUnscheduled(answer);
    setDownloads();
    showDay(keepView);
  }

  function showDay(keepView) {
    var answer = state.answer;
    var plan = answer.week ? answer.days[state.day] : answer;
    state.plan = plan;
    if (answer.week) drawTabs(answer);
    drawMap(plan, keepView);
    drawTotals(plan);
    drawStops(plan);
    document.body.dataset.route = answer.id;
    var url = "/api/routes/" + answer.id;
    gg.announce("route", plan.stops.length, answer.week ? url + "#" + plan.date : url);
  }

  function drawTabs(answer) {
    var tabs = answer.days.map(function (day, i) {
      return h("button", {
        type: "button", role: "tab", class: "toggle" + (i === state.day ? " on" : ""),
        "aria-selected": i === state.day ? "true" : "false", "data-date": day.date,
        onclick: function () { state.day = i; showDay(); },
      }, day.date.slice(5) + " (" + day.stops.length + ")");
    });
    $("day-tabs").replaceChildren.apply($("day-tabs"), tabs);
  }

  function late(stop) {
    return stop.late_min > 0 || (state.plan.violations || []).some(function (v) {
      return v.id === stop.id;
    });
  }

  function numbered(stop) {
    var colour = late(stop) ? COLOURS.late : COLOURS[stop.status] || COLOURS.route;
    return L.marker([stop.lat, stop.lon], {
      icon: L.divIcon({
        className: "stop-icon",
        html: '<span style="background:' + colour + '">' + stop.sequence + "</span>",
        iconSize: [26, 26],
        iconAnchor: [13, 13],
      }),
      title: stop.sequence + ". " + stop.id,
      keyboard: false,
    }).bindTooltip(stop.sequence + ". " + stop.id + " · " + t("routes.arrive") + " " + stop.arrival);
  }

  function drawMap(plan, keepView) {
    drawn.clearLayers();
    var bounds = L.latLngBounds([]);
    if (plan.line) {
      var latlngs = plan.line.coordinates.map(function (c) { return [c[1], c[0]]; });
      L.polyline(latlngs, { color: COLOURS.route, weight: 4, opacity: 0.8 }).addTo(drawn);
      bounds.extend(latlngs);
    }
    var home = L.circleMarker([plan.start.lat, plan.start.lon], {
      radius: 9, color: "#fff", weight: 3, fillColor: "#111", fillOpacity: 1,
    }).bindTooltip(t("routes.start_marker") + " " + plan.departure).addTo(drawn);
    bounds.extend(home.getLatLng());
    if (plan.end.lon !== plan.start.lon || plan.end.lat !== plan.start.lat) {
      L.circleMarker([plan.end.lat, plan.end.lon], {
        radius: 9, color: "#111", weight: 3, fillColor: "#fff", fillOpacity: 1,
      }).bindTooltip(t("routes.end_marker") + " " + plan["return"]).addTo(drawn);
      bounds.extend([plan.end.lat, plan.end.lon]);
    }
    plan.stops.forEach(function (stop) {
      numbered(stop).addTo(drawn);
      bounds.extend([stop.lat, stop.lon]);
    });
    state.bounds = bounds;
    if (!keepView && bounds.isValid()) gg.fit(map, bounds, { padding: [24, 24] });
  }

  // the printed map has another size: fit the whole route into it, and back
  function refit() {
    map.invalidateSize({ animate: false });
    if (state.bounds && state.bounds.isValid()) {
      gg.fit(map, state.bounds, { padding: [24, 24], animate: false });
    }
  }
  window.addEventListener("beforeprint", refit);
  window.addEventListener("afterprint", refit);
  if (window.matchMedia) {
    var printing = window.matchMedia("print");
    if (printing.addEventListener) printing.addEventListener("change", refit);
  }

  function drawTotals(plan) {
    var tot = plan.totals;
    $("totals").textContent = t("routes.totals", {
      n: gg.num(tot.visits), km: gg.num(tot.distance_km, 1), min: gg.num(tot.travel_min),
      from: plan.departure, to: plan["return"],
    });
    var model = plan.travel_model.name === "road_network"
      ? t("routes.model_roads")
      : t("routes.model_straight", { f: gg.num(plan.travel_model.detour_factor, 2), v: gg.num(plan.travel_model.speed_kph) });
    var nn = "";
    if (tot.distance_ratio !== null && tot.distance_ratio !== undefined && plan.stops.length > 1) {
      nn = tot.distance_ratio < 0.995
        ? t("routes.vs_nn", { pct: gg.pct(1 - tot.distance_ratio, 0), km: gg.num(tot.nn_distance_km, 1) })
        : t("routes.vs_nn_same", { km: gg.num(tot.nn_distance_km, 1) });
    }
    $("model").textContent = [model, nn, plan.optimised ? "" : t("routes.hand_order")]
      .filter(function (x) { return x; }).join(" ");
    $("model").dataset.model = plan.travel_model.name;
    var broken = plan.violations || [];
    $("violations").hidden = broken.length === 0;
    $("violations").replaceChildren.apply($("violations"), broken.map(function (v) {
      return h("div", { "data-kind": v.kind }, [(v.id ? v.id + ": " : "") + t("violation." + v.kind)]);
    }));
    $("return").textContent = t("routes.return", { t: plan["return"], km: gg.num(lastLegKm(plan), 1) });
    $("print-title").textContent = t("routes.print_title", { d: plan.date, who: gg.page.user.name || "" });
  }

  function lastLegKm(plan) {
    var legs = plan.stops.reduce(function (a, s) { return a + s.leg_km; }, 0);
    return Math.max(plan.totals.distance_km - legs, 0);
  }

  function drawStops(plan) {
    var items = plan.stops.map(function (stop, i) {
      var times = t("routes.arrive") + " " + stop.arrival + " · " + t("routes.visit") + " " + stop.start + "–" + stop.departure;
      var notes = [t("routes.leg", { km: gg.num(stop.leg_km, 1), m: gg.num(stop.leg_min) })];
      if (stop.waiting_min > 0) notes.push(t("routes.wait", { m: gg.num(stop.waiting_min) }));
      if (stop.time_window) notes.push(t("routes.window") + " " + stop.time_window);
      if (stop.late_min > 0) notes.push(t("routes.late", { m: gg.num(stop.late_min) }));
      var li = h("li", { "data-id": stop.id, "data-arrival": stop.arrival, class: late(stop) ? "late" : "" }, [
        h("span", { class: "seq", text: String(stop.sequence) }),
        h("div", { class: "body" }, [
          h("b", { class: "time", text: times }),
          h("div", {}, [
            h("span", { class: "badge " + (stop.status || ""), text: stop.status ? t("status." + stop.status) : "" }),
            " ",
            h("span", { class: "meta", text: stop.id + (stop.grid ? " · " + stop.grid : "") }),
          ]),
          stop.address ? h("div", { class: "address", text: stop.address }) : null,
          h("div", { class: "meta", text: stop.why_listed || stop.label }),
          h("div", { class: "meta", text: notes.join(" · ") }),
        ]),
        h("span", { class: "order no-print" }, [
          h("button", { type: "button", class: "up", title: t("routes.up"), "aria-label": t("routes.up"), disabled: i === 0,
            onclick: function (e) { e.stopPropagation(); move(i, -1); } }, "↑"),
          h("button", { type: "button", class: "down", title: t("routes.down"), "aria-label": t("routes.down"), disabled: i === plan.stops.length - 1,
            onclick: function (e) { e.stopPropagation(); move(i, 1); } }, "↓"),
        ]),
      ]);
      li.addEventListener("click", function () {
        map.setView([stop.lat, stop.lon], Math.max(map.getZoom(), 16));
      });
      return li;
    });
    stopsList.replaceChildren.apply(stopsList, items);
  }

  function drawUnscheduled(plan) {
    // a week's households left over, or the day's
    $("unscheduled-count").textContent = "(" + plan.unscheduled.length + ")";
    var items = plan.unscheduled.map(function (u) {
      return h("li", { "data-id": u.id, "data-reason": u.reason }, [
        h("b", { text: u.id }),
        " ",
        h("span", { class: "badge", text: t("reason." + u.reason) }),
        u.address ? h("div", { class: "address", text: u.address }) : null,
        h("div", { class: "meta", text: u.detail }),
      ]);
    });
    unscheduledList.replaceChildren.apply(unscheduledList, items);
  }

  function setDownloads() {
    if (!state.answer) return;
    ["gpx", "kml", "xlsx"].forEach(function (fmt) {
      $("dl-" + fmt).href = state.answer.downloads[fmt] + "?" + gg.query({ crs: exportCrs.value });
    });
  }
  exportCrs.value = crs === "gcj02" || crs === "bd09" ? crs : "gcj02";
  exportCrs.addEventListener("change", setDownloads);

  $("print").addEventListener("click", function () { window.print(); });
})();
