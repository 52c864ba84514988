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

  function priorityOf(a, locale) {
    var table = loc(locale).priorities || {};
    return table[a.category] || loc(locale).defaultPriority || 3;
  }

  /* "3 minutes ago" in the page's language (the browser's Intl has the words, the catalogue needs none). */
  function age(iso, locale) {
    var d = new Date(iso);
    if (isNaN(d.getTime())) { return ""; }
    var s = Math.max(0, Math.round((Date.now() - d.getTime()) / 1000));
    var rtf = new Intl.RelativeTimeFormat(loc(locale).bcp47, { numeric: "auto" });
    if (s < 60) { return rtf.format(-s, "second"); }
    if (s < 3600) { return rtf.format(-Math.floor(s / 60), "minute"); }
    if (s < 86400) { return rtf.format(-Math.floor(s / 3600), "hour"); }
    return rtf.format(-Math.floor(s / 86400), "day");
  }

  /* A DOM element: ``children`` is text or a list of elements. The queue is plain DOM written by
   * renderAlerts, not Dash components: Dash turns every returned component into a wrapped React element
   * with its own path, which for 40 items of a dozen parts kept the page busy for seconds per push. */
  function dom(tag, cls, children, attrs) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (Array.isArray(children)) {
      children.forEach(function (c) { node.appendChild(c); });
    } else if (children !== undefined && children !== null) {
      node.textContent = String(children);
    }
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    return node;
  }

  /* What besides its age redraws an item: a new sighting (count, snapshot) or a pass that saw its place clear. */
  function itemKey(a) {
    return [a.sightings || 1, a.seen_clear ? 1 : 0, a.snapshot_url || "", a.camera_id || ""].join("|");
  }

  function alertItem(a, cameras, grids, locale) {
    var fresh = a._pushed && (Date.now() - a._pushed) < FRESH_MS;
    var name = categoryName(a, locale);
    var prio = priorityOf(a, locale);
    var thumb = a.snapshot_url
      ? dom("img", "gw-alert-thumb", null, { src: a.snapshot_url, alt: name })
      : dom("div", "gw-alert-thumb gw-alert-nothumb", text(locale, "noSnapshot"));
    var camera = (cameras && cameras[a.camera_id]) || a.camera_name || a.camera_id;
    var grid = a.grid_code ? ((grids && grids[a.grid_code]) || a.grid_code) : text(locale, "noGrid");
    var ageNode = dom("span", "gw-alert-age", age(a.detected_at, locale));
    var times = (a.sightings || 1) > 1 ? dom("span", "gw-alert-count", "\u00d7" + a.sightings) : null;
    var clear = a.seen_clear ? dom("span", "gw-alert-clear", text(locale, "seenClear")) : null;
    var timeNode = dom("span", "gw-alert-time", formatTime(a.detected_at, locale),
                       { title: a.detected_at_local || a.detected_at });
    var item = dom("div", "gw-alert gw-prio-" + prio + (fresh ? " gw-alert-new" : ""), [
      thumb,
      dom("div", "gw-alert-body", [
        dom("div", "gw-alert-head", [dom("span", "gw-cat", name)].concat(times ? [times] : [], clear ? [clear] : [],
                                                                         [timeNode])),
        dom("div", "gw-alert-sub", [
          dom("span", "gw-prio gw-prio-badge-" + prio, text(locale, "priority" + prio)),
          dom("span", "gw-alert-grid", grid, { title: a.grid_code || "" }),
          ageNode
        ]),
        dom("div", "gw-alert-meta", [
          dom("span", "gw-alert-camera", camera),
          dom("span", "gw-cat-code", a.category)
        ].concat(a.confidence == null ? [] :  // a case item has no single confidence
          [dom("span", "gw-alert-conf", percent(a.confidence, locale), { title: text(locale, "confidence") })]))
      ])
    ], Object.assign({ "data-alert-id": a.id, "data-sightings": String(a.sightings || 1) },
                     a.case_id ? { "data-case-id": a.case_id } : {}));
    item._gwKey = itemKey(a);
    item._gwRefresh = function () {
      ageNode.textContent = age(a.detected_at, locale);
      timeNode.textContent = formatTime(a.detected_at, locale);
    };
    return item;
  }

  /* Keyed update of the queue: items already shown are kept (their thumbnails do not reload), new ones
   * are inserted in order, the rest removed; ages and times are refreshed in place. */
  function drawQueue(box, alerts, grids, locale) {
    if (!alerts.length) {
      box.replaceChildren(dom("div", "gw-empty", text(locale, "noAlerts")));
      return;
    }
    var shown = {};
    Array.from(box.children).forEach(function (n) {
      var id = n.getAttribute("data-alert-id");
      if (id) { shown[id] = n; }
    });
    var wanted = alerts.map(function (a) {
      var n = shown[a.id];
      // Kept while nothing but its age changed; a new sighting redraws it (count, snapshot, highlight).
      if (n && n._gwRefresh && n._gwKey === itemKey(a) &&
          !(a._pushed && Date.now() - a._pushed < FRESH_MS && !n.classList.contains("gw-alert-new"))) {
        n._gwRefresh();
        return n;
      }
      return alertItem(a, cameraNames, grids, locale);
    });
    var keep = new Set(wanted);
    Array.from(box.children).forEach(function (n) { if (!keep.has(n)) { box.removeChild(n); } });
    wanted.forEach(function (n, i) {
      if (box.children[i] !== n) { box.insertBefore(n, box.children[i] || null); }
    });
  }

  /* Video tiles: one timer asks each tile on screen for its camera's newest JPEG, the next one only when the
   * last has arrived (a slow browser slows itself, nothing queues on the server). Online cameras at the
   * configured rate, the others every 2 s (their no-signal card hardly changes). */
  var frameSeq = 0;
  var frameFps = 4;
  function pumpFrames() {
    if (document.hidden) { return; }
    var now = Date.now();
    document.querySelectorAll("img.gw-cam-img[data-camera]").forEach(function (img) {
      if (img._gwBusy) { return; }
      var tile = img.closest(".gw-cam");
      // Off-page tiles are display:none (pageTiles): read from the style, since offsetParent forces a layout.
      if (!tile || tile.style.display === "none") { return; }
      // A tile playing live video (assets/live.js) needs no preview; the others keep polling it.
      if (window.GridWatchLive && window.GridWatchLive.playing(tile)) { return; }
      var live = tile && tile.className.indexOf("gw-cam-online") >= 0;
      var every = live ? 1000 / frameFps : 2000;
      if (img._gwLast && now - img._gwLast < every) { return; }
      img._gwBusy = true;
      img._gwLast = now;
      img.decoding = "async";  // decode off the main thread: a push must not wait behind 16 frames
      img.onload = img.onerror = function () { img._gwBusy = false; };
      frameSeq += 1;
      img.src = "/video/" + encodeURIComponent(img.getAttribute("data-camera")) + ".jpg?f=" + frameSeq;
    });
  }
  window.setInterval(pumpFrames, 50);

  /* At most one summary request in flight and one per SUMMARY_MIN_MS: a burst of pushed alerts costs one
   * refresh of the figures and the map per second, not one per alert. */
  var SUMMARY_MIN_MS = 1000;
  var summaryPoll = null;
  var cameraNames = {};
  function pollSummary() {
    var p = summaryPoll;
    if (!p) { return; }
    var wait = p.last + SUMMARY_MIN_MS - Date.now();
    if (p.busy || wait > 0) {
      if (!p.again) {
        p.again = true;
        window.setTimeout(function () { p.again = false; pollSummary(); }, Math.max(wait, 50));
      }
      return;
    }
    p.busy = true;
    p.last = Date.now();
    var url = p.cfg.url + (p.version ? "?v=" + encodeURIComponent(p.version) : "");
    fetch(url, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.status === 200 ? r.json() : null; })
      .then(function (data) {
        if (data && data.version !== p.version) {
          p.version = data.version;
          window.dash_clientside.set_props(p.cfg.store, { data: data });
        }
      })
      .catch(function (err) { console.warn("GridWatch summary: poll failed", err); })
      .then(function () { p.busy = false; });
  }

  /* The header clock, once a second in the city's zone: straight into the DOM, no Dash round trip. */
  function tickClock() {
    var clock = document.querySelector(".gw-clock[data-tz]");
    if (!clock) { return; }
    var locale = { tz: clock.getAttribute("data-tz"), bcp47: clock.getAttribute("data-bcp47") };
    var d = new Date();
    var z = zoned(d, locale);
    clock.textContent = z.day + " " + weekday(d, locale) + " " + z.time;
  }
  window.setInterval(tickClock, 1000);

  /* The queue item a pushed alert belongs to: same category, within cases.dedup_distance_m (the push config's
   * samePlaceM), or the same camera when it has no position. The stored case list (next summary) has the last word. */
  var SAME_PLACE_M = 30;
  var PENDING_MS = 15000;  // how long a pushed sighting waits for the case consumer before a summary drops it
  function metres(a, b) {
    var r = Math.PI / 180, x = (b.lon - a.lon) * r * Math.cos((a.lat + b.lat) * r / 2), y = (b.lat - a.lat) * r;
    return Math.sqrt(x * x + y * y) * 6371009;
  }
  function sameProblem(item, a, within) {
    if (item.category !== a.category) { return false; }
    if (a.lat == null || item.lat == null) { return !!a.camera_id && item.camera_id === a.camera_id; }
    return metres(item, a) <= (within || SAME_PLACE_M);
  }

  function byNewest(a, b) {
    return new Date(b.detected_at).getTime() - new Date(a.detected_at).getTime();
  }

  /* Leaving the page (the language switch reloads it) drops the frame requests in flight at once: the
   * browser allows six connections per server, and the new page's tiles should not wait behind them. */
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
        var items = alerts.slice();
        var added = [];
        fresh.forEach(function (a) {
          var i = items.findIndex(function (item) { return sameProblem(item, a, config && config.samePlaceM); });
          if (i < 0) { added.push(Object.assign({ sightings: 1 }, a)); return; }
          // One problem, one item: the new sighting bumps it (count, last seen, a brief highlight).
          items[i] = Object.assign({}, items[i], { sightings: (items[i].sightings || 1) + 1,
                                                  detected_at: a.detected_at, _pushed: a._pushed });
        });
        var merged = added.concat(items).sort(byNewest).slice(0, size);
        var day = localDay(new Date(), locale);
        var count = Object.assign({ day: day, count: 0, capped: false }, today || {});
        if (count.day !== day) { count = { day: day, count: 0, capped: false }; }
        fresh.forEach(function (a) {
          if (localDay(new Date(a.detected_at), locale) === day) { count.count += 1; }
        });
        return [{ alerts: merged, seen: Array.from(seen).slice(-1000) }, count];
      },

      /* The stored open cases of each new summary replace the queue; an item whose count grew is highlighted.
       * What was pushed a moment ago and the case consumer has not stored yet stays until its case comes. */
      queueFromSummary: function (summary, store) {
        if (!summary || !summary.queue) { return window.dash_clientside.no_update; }
        var before = {};
        var old = (store && store.alerts) || [];
        old.forEach(function (a) { before[a.id] = a; });
        var now = Date.now();
        var pending = function (a) { return a && a._pushed && now - a._pushed < PENDING_MS; };
        var items = summary.queue.map(function (c) {
          var was = before[c.id];
          if (was && pending(was) && (was.sightings || 1) > (c.sightings || 1)) { return was; }
          var grew = !was || (was.sightings || 1) < (c.sightings || 1);
          var pushed = grew ? now : (was && was._pushed);
          return Object.assign({}, c, pushed ? { _pushed: pushed } : {});
        });
        old.forEach(function (a) {
          if (!a.case_id && pending(a) && !items.some(function (c) { return sameProblem(c, a); })) { items.push(a); }
        });
        return { alerts: items.sort(byNewest), seen: (store && store.seen) || [] };
      },

      /* Straight into the tiles' DOM: React never re-renders these parts (their props stay as first
       * rendered), and a store of plain values is far cheaper for Dash than an output per tile and part. */
      applyCameraStates: function (states) {
        Object.keys(states || {}).forEach(function (cid) {
          var tile = document.querySelector('.gw-cam[data-cam="' + CSS.escape(cid) + '"]');
          if (!tile) { return; }
          var s = states[cid];
          if (tile.className !== s.tile) { tile.className = s.tile; }
          var set = function (sel, textValue, title, cls) {
            var node = tile.querySelector(sel);
            if (!node) { return; }
            if (node.textContent !== textValue) { node.textContent = textValue; }
            if (title !== undefined && node.title !== title) { node.title = title; }
            if (cls !== undefined && node.className !== cls) { node.className = cls; }
          };
          set(".gw-cam-detail", s.detail, s.error);
          set(".gw-badge", s.badge, undefined, s.badgeClass);
          set(".gw-cam-pos", s.position, s.positionTitle);
        });
        return window.dash_clientside.no_update;
      },

      rememberCameras: function (names) {
        cameraNames = names || {};
        return window.dash_clientside.no_update;
      },

      renderAlerts: function (store, _tick, grids, locale, listId) {
        var alerts = (store && store.alerts) || [];
        var draw = function () {
          var box = document.getElementById(listId);
          if (!box) { window.setTimeout(draw, 50); return; }  // the first call may precede the page's DOM
          drawQueue(box, alerts, grids || {}, locale);
        };
        draw();
        return window.dash_clientside.no_update;
      },

      pushSeq: function (inbox) {
        pollSummary();
        return (inbox && inbox.seq) || window.dash_clientside.no_update;
      },

      renderFigures: function (summary, locale) {
        var f = (summary && summary.figures) || {};
        var nf = new Intl.NumberFormat(loc(locale).bcp47);
        return ["collected", "dispatched", "escalated", "closed", "closure_rate", "overdue_now"].map(function (k) {
          if (k === "closure_rate") { return f[k] === null || f[k] === undefined ? "—" : percent(f[k], locale); }
          return nf.format(Number(f[k]) || 0);
        });
      },

      /* Which tiles the chosen layout (1/4/9/16) and page show; paging wraps around. */
      pageTiles: function (layout, _prev, _next, cameraIds, page, config) {
        var ctx = window.dash_clientside.callback_context;
        var n = Number(layout) || 16;
        var ids = cameraIds || [];
        var pages = Math.max(1, Math.ceil(ids.length / n));
        var p = (page && page.page) || 0;
        var triggered = (ctx.triggered || []).map(function (t) { return t.prop_id; });
        var cfg = config || {};
        if (cfg.fps) { frameFps = cfg.fps[String(n)] || 2; }
        if (triggered.indexOf(cfg.prev + ".n_clicks") >= 0) { p -= 1; }
        if (triggered.indexOf(cfg.next + ".n_clicks") >= 0) { p += 1; }
        if (triggered.indexOf(cfg.layout + ".value") >= 0) { p = 0; }
        p = ((p % pages) + pages) % pages;
        var first = p * n;
        var styles = (ctx.outputs_list[4] || []).map(function (o) {
          var i = ids.indexOf(o.id.camera);
          return i >= first && i < first + n ? {} : { display: "none" };
        });
        var cols = Math.max(1, Math.round(Math.sqrt(n)));
        return [{ page: p }, "gw-cams gw-cams-" + cols, (p + 1) + " / " + pages,
                pages > 1 ? "gw-pager" : "gw-pager gw-pager-off", styles];
      },

      renderToday: function (today, locale) {
        if (!today) { return "0"; }
        var n = new Intl.NumberFormat(loc(locale).bcp47).format(Number(today.count) || 0);
        return n + (today.capped ? "+" : "");
      },

      /* The figures and the map's version: a plain fetch every second that answers 204 while nothing
       * changed, and at once when an alert is pushed (pushSeq); a change goes into the summary store. */
      startSummary: function (poll, current) {
        if (summaryPoll || !poll || !poll.url) { return window.dash_clientside.no_update; }
        summaryPoll = { cfg: poll, version: (current && current.version) || null, busy: false, again: false,
                        last: 0 };
        window.setInterval(pollSummary, poll.everyMs || 1000);
        return window.dash_clientside.no_update;
      }
    }
  });
})();
