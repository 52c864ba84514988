/* Clientside callbacks of the wall (dashboard/pages/wall.py): merge pushed alerts, render the list,
 * the day's count and the clock, all in the browser.
 *
 * No words live here: labels come from the page's locale store (dashboard/texts.py, from the message
 * catalogues), and times are shown in the city's zone (locale.tz) whatever zone the browser is in. */
(function () {
  "use strict";

  var FRESH_MS = 20000;
  var DEFAULT_LOCALE = { lang: "zh_CN", bcp47: "zh-CN", tz: "Asia/Shanghai", texts: {} };
  var formatters = {};

  function loc(locale) { return locale || DEFAULT_LOCALE; }

  function text(locale, key) {
    var texts = loc(locale).texts || {};
    return texts[key] || "";
  }

  function formatter(name, bcp47, options) {
    var key = name + "|" + bcp47 + "|" + options.timeZone;
    if (!formatters[key]) { formatters[key] = new Intl.DateTimeFormat(bcp47, options); }
    return formatters[key];
  }

  /* {day: "2025-01-29", time: "00:05:08", md: "01-29"} of an instant in the city's zone. Digits come from
   * a fixed numeric pattern so the layout never depends on the browser's own locale. */
  function zoned(d, locale) {
    var tz = loc(locale).tz;
    var parts = {};
    formatter("num", "en-US", {
      timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23"
    }).formatToParts(d).forEach(function (p) { parts[p.type] = p.value; });
    return {
      day: parts.year + "-" + parts.month + "-" + parts.day,
      md: parts.month + "-" + parts.day,
      time: parts.hour + ":" + parts.minute + ":" + parts.second
    };
  }

  function weekday(d, locale) {
    var l = loc(locale);
    return formatter("wd", l.bcp47, { timeZone: l.tz, weekday: "short" }).format(d);
  }

  function localDay(d, locale) { return zoned(d, locale).day; }

  function el(type, props) {
    return { namespace: "dash_html_components", type: type, props: props };
  }

  function formatTime(iso, locale) {
    var d = new Date(iso);
    if (isNaN(d.getTime())) { return iso || ""; }
    var z = zoned(d, locale);
    if (z.day === localDay(new Date(), locale)) { return z.time; }
    return z.md + " " + z.time;
  }

  function percent(value, locale) {
    return new Intl.NumberFormat(loc(locale).bcp47, { style: "percent", maximumFractionDigits: 0 })
      .format(Number(value) || 0);
  }

  function categoryName(a, locale) {
    var name = loc(locale).lang === "en" ? a.category_en : a.category_zh;
    return name || a.category;
  }

  function alertItem(a, cameras, locale) {
    var fresh = a._pushed && (Date.now() - a._pushed) < FRESH_MS;
    var name = categoryName(a, locale);
    var thumb = a.snapshot_url
      ? el("Img", { src: a.snapshot_url, className: "gw-alert-thumb", alt: name })
      : el("Div", { className: "gw-alert-thumb gw-alert-nothumb", children: text(locale, "noSnapshot") });
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
                el("Span", { className: "gw-cat", children: name }),
                el("Span", { className: "gw-alert-time", title: a.detected_at_local || a.detected_at,
                             children: formatTime(a.detected_at, locale) })
              ]
            }),
            el("Div", {
              className: "gw-alert-sub",
              children: [
                el("Span", { className: "gw-cat-code", children: a.category }),
                el("Span", { className: "gw-alert-conf", title: text(locale, "confidence"),
                             children: percent(a.confidence, locale) })
              ]
            }),
            el("Div", {
              className: "gw-alert-meta",
              children: [
                el("Span", { className: "gw-alert-camera", children: camera }),
                el("Span", { className: "gw-alert-grid", children: a.grid_code || text(locale, "noGrid") })
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

  /* Leaving the page (the language switch reloads it) must end the video streams at once: the browser
   * allows six connections per server, and streams still held by the old page would keep the new
   * page's tiles waiting. */
  window.addEventListener("pagehide", function () {
    document.querySelectorAll("img.gw-cam-img").forEach(function (img) { img.src = "data:,"; });
    window.stop();
  });

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    gridwatch: {
      startPush: function (config) {
        if (window.gridwatchPush) { window.gridwatchPush.start(config); }
        return window.dash_clientside.no_update;
      },

      mergeAlerts: function (inbox, store, today, config, locale) {
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
        var day = localDay(new Date(), locale);
        var count = Object.assign({ day: day, count: 0, capped: false }, today || {});
        if (count.day !== day) { count = { day: day, count: 0, capped: false }; }
        fresh.forEach(function (a) {
          if (localDay(new Date(a.detected_at), locale) === day) { count.count += 1; }
        });
        return [{ alerts: merged, seen: Array.from(seen).slice(-1000) }, count];
      },

      renderAlerts: function (store, cameras, locale) {
        var alerts = (store && store.alerts) || [];
        if (!alerts.length) {
          return [el("Div", { className: "gw-empty", children: text(locale, "noAlerts") })];
        }
        return alerts.map(function (a) { return alertItem(a, cameras || {}, locale); });
      },

      renderToday: function (today, locale) {
        if (!today) { return "0"; }
        var n = new Intl.NumberFormat(loc(locale).bcp47).format(Number(today.count) || 0);
        return n + (today.capped ? "+" : "");
      },

      tick: function (_n, locale) {
        var d = new Date();
        var z = zoned(d, locale);
        return z.day + " " + weekday(d, locale) + " " + z.time;
      }
    }
  });
})();
