/* Clientside callbacks of the wall (dashboard/pages/wall.py): merge pushed alerts, render the list,
 * the day's count and the clock, all in the browser. */
(function () {
  "use strict";

  var FRESH_MS = 20000;
  var WEEKDAYS = ["周日", "周一", "周二", "周三", "周四", "周五", "周六"];

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function localDay(d) {
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate());
  }

  function el(type, props) {
    return { namespace: "dash_html_components", type: type, props: props };
  }

  function formatTime(iso) {
    var d = new Date(iso);
    if (isNaN(d.getTime())) { return iso || ""; }
    var hms = pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
    if (localDay(d) === localDay(new Date())) { return hms; }
    return pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " + hms;
  }

  function alertItem(a, cameras) {
    var fresh = a._pushed && (Date.now() - a._pushed) < FRESH_MS;
    var thumb = a.snapshot_url
      ? el("Img", { src: a.snapshot_url, className: "gw-alert-thumb", alt: a.category_en || "" })
      : el("Div", { className: "gw-alert-thumb gw-alert-nothumb", children: "无图" });
    var conf = Math.round((Number(a.confidence) || 0) * 100) + "%";
    var camera = (cameras && cameras[a.camera_id]) || a.camera_id;
    return el("Div", {
      key: a.id,
      className: "gw-alert" + (fresh ? " gw-alert-new" : ""),
      "data-alert-id": a.id,
      children: [
        thumb,
        el("Div", {
          className: "gw-alert-body",
          children: [
            el("Div", {
              className: "gw-alert-head",
              children: [
                el("Span", { className: "gw-cat-zh", children: a.category_zh || a.category }),
                el("Span", { className: "gw-alert-time", children: formatTime(a.detected_at) })
              ]
            }),
            el("Div", {
              className: "gw-alert-sub",
              children: [
                el("Span", { className: "gw-cat-en", children: a.category_en || "" }),
                el("Span", { className: "gw-alert-conf", title: "confidence", children: conf })
              ]
            }),
            el("Div", {
              className: "gw-alert-meta",
              children: [
                el("Span", { className: "gw-alert-camera", children: camera }),
                el("Span", { className: "gw-alert-grid", children: a.grid_code || "网格未知 no grid" })
              ]
            })
          ]
        })
      ]
    });
  }

  function byNewest(a, b) {
    return new Date(b.detected_at).getTime() - new Date(a.detected_at).getTime();
  }

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    gridwatch: {
      startPush: function (config) {
        if (window.gridwatchPush) { window.gridwatchPush.start(config); }
        return window.dash_clientside.no_update;
      },

      mergeAlerts: function (inbox, store, today, config) {
        var noUpdate = window.dash_clientside.no_update;
        if (!inbox || !inbox.alerts) { return [noUpdate, noUpdate]; }
        var alerts = (store && store.alerts) || [];
        var seen = new Set((store && store.seen) || []);
        var fresh = [];
        inbox.alerts.forEach(function (a) {
          if (a && a.id && !seen.has(a.id)) {
            seen.add(a.id);
            fresh.push(Object.assign({}, a, { _pushed: Date.now() }));
          }
        });
        if (!fresh.length) { return [noUpdate, noUpdate]; }
        var size = (config && config.listSize) || 40;
        var merged = fresh.concat(alerts).sort(byNewest).slice(0, size);
        var day = localDay(new Date());
        var count = Object.assign({ day: day, count: 0, capped: false }, today || {});
        if (count.day !== day) { count = { day: day, count: 0, capped: false }; }
        fresh.forEach(function (a) {
          if (localDay(new Date(a.detected_at)) === day) { count.count += 1; }
        });
        return [{ alerts: merged, seen: Array.from(seen).slice(-1000) }, count];
      },

      renderAlerts: function (store, cameras) {
        var alerts = (store && store.alerts) || [];
        if (!alerts.length) {
          return [el("Div", { className: "gw-empty", children: "暂无告警 · no alerts yet" })];
        }
        return alerts.map(function (a) { return alertItem(a, cameras || {}); });
      },

      renderToday: function (today) {
        if (!today) { return "0"; }
        return String(today.count) + (today.capped ? "+" : "");
      },

      tick: function () {
        var d = new Date();
        return localDay(d) + " " + WEEKDAYS[d.getDay()] + " " +
          pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
      }
    }
  });
})();
