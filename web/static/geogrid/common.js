/* geogrid viewer: helpers shared by the pages (API calls, text, small DOM builder). */
(function () {
  "use strict";
  var gg = (window.geogrid = window.geogrid || {});
  gg.text = window.GG_TEXT || {};
  gg.page = window.GG_PAGE || {};

  gg.t = function (key, vars) {
    var s = gg.text[key] || key;
    Object.keys(vars || {}).forEach(function (k) {
      s = s.replace("{" + k + "}", vars[k]);
    });
    return s;
  };

  gg.map = function () {
    return window[gg.page.map];
  };

  var meta = document.querySelector('meta[name="csrf-token"]');
  gg.csrf = meta ? meta.getAttribute("content") : "";

  // fetch JSON from the API; errors carry the API's message and status
  gg.api = function (method, path, body) {
    var init = { method: method, credentials: "same-origin", headers: {} };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    if (method !== "GET") init.headers["X-CSRFToken"] = gg.csrf;
    return fetch(path, init).then(function (r) {
      return r.json().then(
        function (data) {
          if (!r.ok) {
            var code = data.error && data.error.code;
            var detail = (data.error && data.error.message) || r.statusText;
            // a headline in the interface language, then the API's own words
            var err = new Error((gg.text["error." + code] || "") + detail);
            err.status = r.status;
            err.code = code;
            err.detail = detail;
            throw err;
          }
          return data;
        },
        function () {
          var err = new Error(r.statusText || "network error");
          err.status = r.status;
          throw err;
        }
      );
    });
  };

  gg.query = function (params) {
    var q = new URLSearchParams();
    Object.keys(params).forEach(function (k) {
      if (params[k] !== null && params[k] !== undefined && params[k] !== "") q.set(k, params[k]);
    });
    return q.toString();
  };

  // h("div", {class: "x", onclick: fn}, [children or text])
  gg.h = function (tag, attrs, children) {
    var el = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) return;
      if (k.slice(0, 2) === "on") el.addEventListener(k.slice(2), v);
      else if (k === "text") el.textContent = v;
      else el.setAttribute(k, v === true ? "" : v);
    });
    (Array.isArray(children) ? children : children === undefined ? [] : [children]).forEach(
      function (c) {
        if (c === null || c === undefined || c === false) return;
        el.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
      }
    );
    return el;
  };

  gg.num = function (value, digits) {
    if (value === null || value === undefined || value !== value) return "–";
    return Number(value).toLocaleString(document.documentElement.lang, {
      maximumFractionDigits: digits === undefined ? 0 : digits,
    });
  };
  gg.pct = function (value, digits) {
    if (value === null || value === undefined || value !== value) return "–";
    return (100 * value).toFixed(digits === undefined ? 1 : digits) + "%";
  };

  // fitBounds that is not lost: Leaflet drops a new view asked for while a
  // zoom animation runs (the page's first fit, say), so wait for it to end
  gg.fit = function (map, bounds, options) {
    if (map._animatingZoom) {
      map.once("zoomend", function () { gg.fit(map, bounds, options); });
      return;
    }
    map.fitBounds(bounds, options);
  };

  // an ISO 8601 time from the API as the bank's local date (and time)
  gg.localTime = function (iso, withTime) {
    var options = { timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit" };
    if (withTime) { options.hour = "2-digit"; options.minute = "2-digit"; options.hourCycle = "h23"; }
    var parts = {};
    new Intl.DateTimeFormat("en-CA", options).formatToParts(new Date(iso)).forEach(function (p) {
      parts[p.type] = p.value;
    });
    var day = parts.year + "-" + parts.month + "-" + parts.day;
    return withTime ? day + " " + parts.hour + ":" + parts.minute : day;
  };

  gg.say = function (el, text, kind) {
    el.textContent = text || "";
    el.className = "message" + (kind ? " " + kind : "");
  };
})();
