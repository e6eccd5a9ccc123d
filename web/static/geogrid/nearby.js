/* Nearby households: a weighted heatmap around a point and the nearest, as a list. */
(function () {
  "use strict";
  var gg = window.geogrid;
  var t = gg.t, h = gg.h;
  var map = gg.map();
  var crs = gg.page.crs;
  var message = document.getElementById("message");
  var list = document.getElementById("nearest");
  var summary = document.getElementById("summary");
  var radius = document.getElementById("radius");
  var weight = document.getElementById("weight");
  var product = document.getElementById("product");
  var productLabel = document.getElementById("product-label");

  var state = { origin: null, picking: false, markers: null, circle: null, centre: null };
  state.markers = L.layerGroup().addTo(map);

  function setOrigin(lon, lat, source) {
    state.origin = { lon: lon, lat: lat, source: source };
    document.body.dataset.origin = source;
    return load();
  }

  function load() {
    if (!state.origin) return Promise.resolve();
    var params = {
      lon: state.origin.lon.toFixed(6),
      lat: state.origin.lat.toFixed(6),
      radius_m: radius.value,
      weight: weight.value,
      product: weight.value === "without_product" ? product.value : "",
      crs: crs,
    };
    var url = "/api/nearby?" + gg.query(params);
    gg.say(message, t("common.loading"));
    return gg.api("GET", url).then(function (data) {
      gg.say(message, "");
      draw(data);
      document.body.dataset.nearby = String(data.nearest.length);
      gg.announce("nearby", data.nearest.length, url);
    }, function (err) {
      gg.say(message, err.message, "error");
    });
  }

  function draw(data) {
    var centre = [data.origin.lat, data.origin.lon];
    var heat = gg.layers["nearby-heat"];
    heat.setOptions({ max: Math.max(data.heat_max * 0.6, 1e-9) });
    heat.setLatLngs(data.heat);
    if (!map.hasLayer(heat)) map.addLayer(heat);

    if (state.circle) map.removeLayer(state.circle);
    if (state.centre) map.removeLayer(state.centre);
    state.circle = L.circle(centre, { radius: data.radius_m, color: "#1f4e79", weight: 1.5, fill: false, interactive: false }).addTo(map);
    state.centre = L.circleMarker(centre, { radius: 7, color: "#fff", weight: 2, fillColor: "#1f4e79", fillOpacity: 1 }).addTo(map);
    // the box of the circle from its radius in metres (the circle's own bounds
    // come from its pixel radius at the zoom it was drawn at)
    gg.fit(map, L.latLng(centre).toBounds(2 * data.radius_m), { padding: [10, 10] });

    summary.textContent = t("nearby.summary", {
      n: gg.num(data.households),
      r: gg.num(data.radius_m / 1000, 1),
      w: gg.num(data.weighted),
    });
    if (!data.households) gg.say(message, t("nearby.none", { r: gg.num(data.radius_m / 1000, 1) }));
    state.markers.clearLayers();
    list.replaceChildren.apply(list, data.nearest.map(item));
  }

  function item(hh) {
    var marker = L.circleMarker([hh.lat, hh.lon], {
      radius: 5, color: hh.status === "customer" ? "#1b5e20" : "#b36b00", weight: 2, fillOpacity: 0.6,
    }).addTo(state.markers);
    var products = (hh.products || []).map(function (p) { return t("product." + p); }).join("、");
    var people = (hh.people_list || []).map(function (p) {
      var phone = p.phone
        ? p.phone.indexOf("*") >= 0
          ? h("span", { text: " " + p.phone })
          : h("a", { href: "tel:" + p.phone, text: " " + p.phone })
        : null;
      return h("span", { class: "person" }, [p.name || "", phone, " "]);
    });
    var li = h("li", { "data-id": hh.id }, [
      h("b", { class: "distance", text: gg.num(hh.distance_m) + " m" }),
      " ",
      h("span", { class: "badge " + hh.status, text: t("status." + hh.status) }),
      " ",
      h("span", { class: "meta", text: hh.household_no }),
      hh.address ? h("div", { text: hh.address }) : null,
      h("div", { class: "meta" }, [
        h("span", { class: "last-visit", text: t("nearby.last_visit") + ": " + (hh.last_visit || t("nearby.never")) }),
        products ? " · " + t("nearby.products") + ": " + products : "",
        hh.deposit_other > 0 ? " · " + t("nearby.other_deposits") + " ¥" + gg.num(hh.deposit_other) : "",
      ]),
      people.length ? h("div", {}, people) : null,
      gg.page.records_visits
        ? h("button", { class: "record-visit", type: "button", text: t("visit.record"),
            onclick: function (e) { e.stopPropagation(); openVisitForm(li, hh); } })
        : null,
    ]);
    li.addEventListener("click", function () {
      Array.prototype.forEach.call(list.children, function (x) { x.classList.remove("selected"); });
      li.classList.add("selected");
      map.setView([hh.lat, hh.lon], Math.max(map.getZoom(), 16));
      marker.setStyle({ radius: 9 });
    });
    return li;
  }

  // --- recording a visit on the spot ---------------------------------------------

  function options(values, label) {
    return values.map(function (v) { return h("option", { value: v, text: label(v) }); });
  }

  function openVisitForm(li, hh) {
    var open = li.querySelector("form.visit-form");
    if (open) { open.remove(); return; }
    var purpose = h("select", { name: "purpose" }, options(gg.page.purposes, function (v) { return t("purpose." + v); }));
    var outcome = h("select", { name: "outcome" }, options(gg.page.outcomes, function (v) { return t("outcome." + v); }));
    var note = h("input", { name: "note", type: "text", maxlength: "500" });
    var status = h("div", { class: "message", role: "status" });
    var save = h("button", { type: "submit", text: t("visit.save") });
    var form = h("form", { class: "visit-form" }, [
      h("label", {}, [t("visit.purpose") + " ", purpose]),
      h("label", {}, [t("visit.outcome") + " ", outcome]),
      h("label", {}, [t("visit.note") + " ", note]),
      h("div", { class: "buttons" }, [
        save,
        h("button", { type: "button", text: t("visit.cancel"), onclick: function () { form.remove(); } }),
      ]),
      status,
    ]);
    form.addEventListener("click", function (e) { e.stopPropagation(); });
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      save.disabled = true;
      gg.say(status, t("visit.locating"));
      where().then(function (position) {
        var body = { household_id: hh.id, purpose: purpose.value, outcome: outcome.value, note: note.value, crs: "wgs84" };
        if (position) {
          body.lon = position.coords.longitude;
          body.lat = position.coords.latitude;
          body.accuracy_m = Math.min(position.coords.accuracy, 5000);
        }
        return gg.api("POST", "/api/visits", body);
      }).then(function (visit) {
        var kind = visit.verdict === "on_site" ? "ok" : "error";
        gg.say(status, t("visit." + visit.verdict, { d: gg.num(visit.distance_m), t: gg.num(visit.tolerance_m) }), kind);
        li.dataset.verdict = visit.verdict;
        var last = li.querySelector(".last-visit");
        if (last) last.textContent = t("nearby.last_visit") + ": " + gg.localTime(visit.visited_at);
        gg.announce("visit", 1, "/api/visits");
      }, function (err) {
        save.disabled = false;
        gg.say(status, err.message, "error");
      });
    });
    li.appendChild(form);
  }

  // the device's location, or null when it cannot be had (the visit is then
  // recorded without one, and flagged so)
  function where() {
    return new Promise(function (resolve) {
      if (!navigator.geolocation) return resolve(null);
      navigator.geolocation.getCurrentPosition(resolve, function () { resolve(null); },
        { enableHighAccuracy: true, timeout: 15000, maximumAge: 30000 });
    });
  }

  // --- where to start ------------------------------------------------------------

  document.getElementById("origin-device").addEventListener("click", function () {
    if (!navigator.geolocation) {
      gg.say(message, t("nearby.no_geolocation"), "error");
      return;
    }
    gg.say(message, t("common.loading"));
    navigator.geolocation.getCurrentPosition(
      function (pos) {
        // the device reports WGS84; the map may be drawn in GCJ-02
        toDisplay(pos.coords.longitude, pos.coords.latitude).then(function (p) {
          setOrigin(p[0], p[1], "device");
        });
      },
      function () { gg.say(message, t("nearby.no_geolocation"), "error"); },
      { enableHighAccuracy: true, timeout: 10000, maximumAge: 60000 }
    );
  });

  function toDisplay(lon, lat) {
    if (crs === "wgs84" || crs === "cgcs2000") return Promise.resolve([lon, lat]);
    var q = gg.query({ lon: lon, lat: lat, from: "wgs84", to: crs });
    return gg.api("GET", "/api/convert?" + q).then(function (r) { return [r.lon, r.lat]; });
  }

  document.getElementById("origin-pick").addEventListener("click", function () {
    state.picking = true;
    map.getContainer().style.cursor = "crosshair";
    gg.say(message, t("nearby.pick_hint"));
  });
  map.on("click", function (e) {
    if (!state.picking) return;
    state.picking = false;
    map.getContainer().style.cursor = "";
    setOrigin(e.latlng.lng, e.latlng.lat, "pick");
  });

  // an account manager starts at the heart of their main grid (their branch
  // can be kilometres away), everybody else at their branch
  var gridButton = document.getElementById("origin-grid");
  var me = gg.api("GET", "/api/me?" + gg.query({ crs: crs }));
  function startAt(key, source) {
    return me.then(function (who) {
      var home = who[key];
      if (home) return setOrigin(home.lon, home.lat, source);
      gg.say(message, t("nearby.pick_hint"));
    }, function (err) { gg.say(message, err.message, "error"); });
  }
  document.getElementById("origin-branch").addEventListener("click", function () {
    startAt("home", "branch");
  });
  gridButton.addEventListener("click", function () { startAt("home_grid", "grid"); });

  [radius, weight, product].forEach(function (el) {
    el.addEventListener("change", function () {
      productLabel.hidden = weight.value !== "without_product";
      load();
    });
  });

  me.then(function (who) {
    gridButton.hidden = !who.home_grid;
    return who.home_grid ? startAt("home_grid", "grid") : startAt("home", "branch");
  }, function (err) { gg.say(message, err.message, "error"); });
})();
