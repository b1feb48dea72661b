/* uavops hub web map: events, damage polygons by grade, mosaics, country/date filters.
   Works offline: Leaflet is served by the hub; no base-map tiles are fetched. */
(function () {
  "use strict";
  var GRADES = {
    "No visible damage": "#1a9850",
    "Possibly damaged": "#fee08b",
    "Damaged": "#fc8d59",
    "Destroyed": "#d73027"
  };
  var gradeClass = function (g) { return "damage-" + g.toLowerCase().replace(/[^a-z]+/g, "-"); };

  var hashToken = (location.hash.match(/token=([^&]+)/) || [])[1];
  if (hashToken) { localStorage.setItem("uavopsToken", decodeURIComponent(hashToken)); }
  var token = localStorage.getItem("uavopsToken") || "";

  var map = L.map("map", { zoomControl: true, preferCanvas: false, maxZoom: 22 }).setView([42.5, 72.0], 6);
  L.control.scale({ imperial: false }).addTo(map);
  window.uavopsMap = map;  // for tests and the browser console
  var mosaicLayer = L.layerGroup().addTo(map);
  var damageLayer = L.layerGroup().addTo(map);
  var status = document.getElementById("status");
  var events = [];
  var reports = [];
  var previewUrls = {};

  var legend = document.getElementById("legend");
  Object.keys(GRADES).forEach(function (g) {
    var row = document.createElement("div");
    row.innerHTML = '<span style="background:' + GRADES[g] + '"></span>' + g;
    legend.appendChild(row);
  });

  function api(path, asBlob) {
    var headers = token ? { "Authorization": "Bearer " + token } : {};
    return fetch(path, { headers: headers }).then(function (r) {
      if (r.status === 401) { document.getElementById("login").hidden = false; throw new Error("token needed"); }
      if (!r.ok) { throw new Error(path + ": HTTP " + r.status); }
      return asBlob ? r.blob() : r.json();
    });
  }

  function fetchAll(url, acc) {
    return api(url).then(function (page) {
      acc = acc.concat(page.features);
      var next = (page.links || []).filter(function (l) { return l.rel === "next"; })[0];
      if (next && acc.length < 100000) {
        var u = new URL(next.href);
        return fetchAll(u.pathname + u.search, acc);
      }
      return acc;
    });
  }

  function option(select, value, label) {
    var o = document.createElement("option");
    o.value = value; o.textContent = label; select.appendChild(o);
  }

  function itemsQuery() {
    var q = new URLSearchParams({ limit: "1000" });
    var c = document.getElementById("country").value;
    var from = document.getElementById("date-from").value;
    var to = document.getElementById("date-to").value;
    if (c) { q.set("country", c); }
    if (from || to) { q.set("datetime", (from ? from + "T00:00:00Z" : "..") + "/" + (to ? to + "T23:59:59Z" : "..")); }
    return q.toString();
  }

  function reportVisible(r) {
    var c = document.getElementById("country").value;
    var ev = document.getElementById("event").value;
    var from = document.getElementById("date-from").value;
    var to = document.getElementById("date-to").value;
    if (ev && r.event_id !== ev) { return false; }
    if (c && r.country !== c) { return false; }
    if (from && r.datetime.end < from + "T00:00:00Z") { return false; }
    if (to && r.datetime.start > to + "T23:59:59Z") { return false; }
    return true;
  }

  function drawMosaics() {
    mosaicLayer.clearLayers();
    if (!document.getElementById("show-mosaics").checked) { return Promise.resolve(0); }
    var shown = reports.filter(reportVisible);
    return Promise.all(shown.map(function (r) {
      var b = r.summary.preview_bounds;
      var get = previewUrls[r.id] ? Promise.resolve(previewUrls[r.id]) :
        api("/reports/" + r.id + "/files/preview", true).then(function (blob) {
          previewUrls[r.id] = URL.createObjectURL(blob); return previewUrls[r.id];
        });
      return get.then(function (url) {
        L.imageOverlay(url, [[b[1], b[0]], [b[3], b[2]]], { opacity: 0.85, className: "mosaic" }).addTo(mosaicLayer);
      });
    })).then(function () { return shown.length; });
  }

  function drawDamage() {
    damageLayer.clearLayers();
    var ev = document.getElementById("event").value;
    var chosen = events.filter(function (e) { return !ev || e.id === ev; });
    var q = itemsQuery();
    return Promise.all(chosen.map(function (e) {
      return fetchAll("/collections/" + encodeURIComponent(e.id) + "/items?" + q, []);
    })).then(function (lists) {
      var feats = [].concat.apply([], lists);
      var counts = {};
      var layer = L.geoJSON({ type: "FeatureCollection", features: feats }, {
        style: function (f) {
          var g = f.properties.damage_gra;
          return { color: "#222", weight: 1, fillColor: GRADES[g] || "#888", fillOpacity: 0.75,
                   className: "damage " + gradeClass(g) };
        },
        pointToLayer: function (f, latlng) { return L.circleMarker(latlng, { radius: 6 }); },
        onEachFeature: function (f, l) {
          var p = f.properties;
          counts[p.damage_gra] = (counts[p.damage_gra] || 0) + 1;
          l.bindPopup("<b>" + p.damage_gra + "</b><br>" + p.org + " (" + p.country + ")<br>report " +
                      p.report_id + " v" + p.report_version + "<br>" + (p.start_datetime || ""));
        }
      }).addTo(damageLayer);
      if (feats.length) { map.fitBounds(layer.getBounds(), { padding: [30, 30], maxZoom: 20, animate: false }); }
      return { total: feats.length, counts: counts };
    });
  }

  function refresh() {
    status.textContent = "Loading…";
    status.dataset.state = "loading";
    Promise.all([drawDamage(), drawMosaics()]).then(function (res) {
      var d = res[0];
      status.dataset.state = "ready";
      status.dataset.features = String(d.total);
      status.dataset.mosaics = String(res[1]);
      status.textContent = d.total + " damage features, " + res[1] + " mosaics in " + events.length + " events";
    }).catch(function (err) {
      status.dataset.state = "error";
      status.textContent = "Could not load: " + err.message;
    });
  }

  function start() {
    Promise.all([api("/events"), api("/reports")]).then(function (res) {
      events = res[0]; reports = res[1];
      var evSel = document.getElementById("event");
      var cSel = document.getElementById("country");
      var countries = {};
      events.forEach(function (e) {
        option(evSel, e.id, e.name + " (" + e.id + ")");
        e.countries.forEach(function (c) { countries[c] = true; });
      });
      reports.forEach(function (r) { if (r.country) { countries[r.country] = true; } });
      Object.keys(countries).sort().forEach(function (c) { option(cSel, c, c); });
      refresh();
    }).catch(function (err) {
      status.dataset.state = "error";
      status.textContent = "Could not load: " + err.message;
    });
  }

  ["event", "country", "date-from", "date-to", "show-mosaics"].forEach(function (id) {
    document.getElementById(id).addEventListener("change", refresh);
  });
  document.getElementById("save-token").addEventListener("click", function () {
    token = document.getElementById("token").value.trim();
    localStorage.setItem("uavopsToken", token);
    document.getElementById("login").hidden = true;
    start();
  });
  start();
}());
