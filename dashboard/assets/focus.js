/* The wall's focus tile (dashboard/pages/wall.py, focus_tile): an alert of an urgent category takes the screen.
 *
 * A pushed alert whose category the config lists as urgent (queries.PRIORITIES, "Urgent") opens its camera in
 * the focus tile: the live stream (window.GridWatchLive from live.js when present, else the camera's preview
 * JPEG at the workers' rate), beside the alert's pre-roll clip looping under its detection box (its snapshot
 * until the clip is written), with the grid, the position and the case. D opens the case on the desk, Esc
 * releases the tile and its stream. An operator can also pin any camera to the tile (the ⤢ on each tile).
 * A newer urgent alert takes the tile over; alerts older than config.maxAgeS (replayed after a reconnect) don't, nor
 * for config.quietS a new sighting of a problem the operator released (same category within config.samePlaceM, or
 * the same camera when either has no position): a patrol car's next lap past it bumps its queue item only.
 *
 * The tile is plain DOM filled in here, like the queue in wall.js: Dash renders its frame once and never updates
 * it. The words come from the config store (the page's catalogue); times are shown in the city's zone.
 *
 * On the desk, /desk?case=<id> (where D leads) picks that case in the queue as an operator's click does, so the
 * desk claims it by its own path. */
(function () {
  "use strict";

  var PREVIEW_MS = 200;  // the workers publish previews at 5 fps
  var PREVIEW_RETRY_MS = 2000;  // after a failed frame (the server restarting, the camera gone)
  var CLIP_POLL_LIMIT_MS = 120000;  // a clip not written by then will not come (the clip writer gave up)
  var DESK_PICK_LIMIT_MS = 30000;

  var cfg = null;
  var grids = {};
  var locale = {};
  var current = null;  // {kind: "alert"|"pin", cameraId, alert, caseId, deskWanted, seq}
  var seen = new Set();
  var released = [];  // {alert, at}: alarms the operator let go
  var queue = [];
  var openSeq = 0;
  // When each alarm's tile was on screen and showed its first camera frame (Unix ms; tests and bench/focus_bench).
  var shownAt = {};
  var frameAt = {};
  var liveAt = {};  // ... and its first live frame (live.js playing)

  function root() { return cfg ? document.getElementById(cfg.root) : null; }
  function part(cls) { var r = root(); return r ? r.querySelector("." + cls) : null; }
  function words(key) { return (cfg && cfg.texts && cfg.texts[key]) || ""; }
  function setText(cls, value) { var n = part(cls); if (n) { n.textContent = value; } }

  function urgent(a) { return !!cfg && (cfg.urgent || []).indexOf(a.category) >= 0; }

  /* The server's clock minus this browser's, from the page's config (a wall PC whose clock is off by minutes must
   * still take its alarms and still ignore old replays). */
  var skewMs = null;

  function recent(a) {
    var at = Date.parse(a.detected_at);
    return !isNaN(at) && Date.now() + (skewMs || 0) - at <= (cfg.maxAgeS || 300) * 1000;
  }

  function metres(a, b) {
    var r = Math.PI / 180, x = (b.lon - a.lon) * r * Math.cos((a.lat + b.lat) * r / 2), y = (b.lat - a.lat) * r;
    return Math.sqrt(x * x + y * y) * 6371009;
  }

  function releasedLately(a) {
    var since = Date.now() - (cfg.quietS || 0) * 1000;
    released = released.filter(function (r) { return r.at >= since; });
    return released.some(function (r) {
      var b = r.alert;
      if (b.category !== a.category) { return false; }
      if (a.lat == null || b.lat == null) { return a.camera_id === b.camera_id; }
      return metres(a, b) <= (cfg.samePlaceM || 30);
    });
  }

  function cameraName(cid) {
    var n = document.querySelector('.gw-cam[data-cam="' + CSS.escape(cid) + '"] .gw-cam-name');
    return (n && n.textContent) || cid;
  }

  function categoryName(a) {
    return (locale.lang === "en" ? a.category_en : a.category_zh) || a.category;
  }

  function clockTime(iso) {
    var d = new Date(iso);
    if (isNaN(d.getTime())) { return ""; }
    return new Intl.DateTimeFormat(locale.bcp47 || "zh-CN", {
      timeZone: locale.tz || "Asia/Shanghai", hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23"
    }).format(d);
  }

  /* "office › community › grid" by name: every level of the map whose code the grid's code starts with. */
  function gridPath(code) {
    if (!code) { return words("noGrid"); }
    var levels = Object.keys(grids).filter(function (k) { return code.indexOf(k) === 0; })
      .sort(function (a, b) { return a.length - b.length; });
    return levels.length ? levels.map(function (k) { return grids[k]; }).join(" › ") : code;
  }

  function position(a) {
    if (!a || a.lat == null || a.lon == null) { return "—"; }
    return Number(a.lat).toFixed(5) + ", " + Number(a.lon).toFixed(5);
  }

  /* --- the live pane: live.js's player when there is one, the preview JPEG meanwhile and otherwise --- */

  var previewTimer = null;
  function pumpPreview(seq) {
    var img = part("gw-focus-preview");
    if (!img || !current || current.seq !== seq) { return; }
    var pane = part("gw-focus-live");
    if (document.hidden || (pane && pane.classList.contains("gw-focus-live-on"))) {
      previewTimer = window.setTimeout(function () { pumpPreview(seq); }, PREVIEW_MS);
      return;
    }
    var started = Date.now();
    img.onload = img.onerror = function (ev) {
      if (!current || current.seq !== seq) { return; }
      if (ev.type === "load" && current.alert && !frameAt[current.alert.id]) { frameAt[current.alert.id] = Date.now(); }
      // The next frame once this one is in, at most at the workers' rate: a slow browser slows only itself.
      var every = ev.type === "load" ? PREVIEW_MS : PREVIEW_RETRY_MS;
      previewTimer = window.setTimeout(function () { pumpPreview(seq); }, Math.max(0, every - (Date.now() - started)));
    };
    img.src = cfg.videoUrl + encodeURIComponent(current.cameraId) + ".jpg?focus=" + started;
  }

  /* The cameras this viewer may watch are those with a tile on the wall (the server scopes both): for another
   * (a patrol car seen by a grid-scoped viewer) the pane says there is no picture instead of asking for one. */
  function watchable(cid) {
    return !!document.querySelector('.gw-cam[data-cam="' + CSS.escape(cid) + '"]');
  }

  function startLive() {
    var video = part("gw-focus-video");
    var pane = part("gw-focus-live");
    var seq = current.seq;
    pane.classList.remove("gw-focus-live-on");
    pane.classList.toggle("gw-focus-unwatched", !watchable(current.cameraId));
    if (!watchable(current.cameraId)) { return; }
    pumpPreview(seq);
    if (window.GridWatchLive && video) {
      window.GridWatchLive.attach(video, current.cameraId, {
        onState: function (state) {
          if (!current || current.seq !== seq) { return; }
          pane.classList.toggle("gw-focus-live-on", state === "playing");
          if (state === "playing" && current.alert) {
            var id = current.alert.id;
            if (!frameAt[id]) { frameAt[id] = Date.now(); }
            if (!liveAt[id]) { liveAt[id] = Date.now(); }
          }
        }
      });
    }
  }

  function stopLive() {
    window.clearTimeout(previewTimer);
    var img = part("gw-focus-preview");
    if (img) { img.onload = img.onerror = null; img.removeAttribute("src"); }
    var video = part("gw-focus-video");
    if (video && window.GridWatchLive) { window.GridWatchLive.detach(video); }
    var pane = part("gw-focus-live");
    if (pane) { pane.classList.remove("gw-focus-live-on"); }
  }

  /* --- the alert's pane: the snapshot, then the pre-roll clip looping, under the detection box --- */

  var SVG = "http://www.w3.org/2000/svg";
  /* The box in the frame's own pixels: the SVG's viewBox is the picture's size and it is fitted like the picture
   * (contain, centred), so the box lies on the picture whatever the pane's shape. */
  function drawBox(width, height) {
    var box = part("gw-focus-box");
    var b = current && current.alert && current.alert.bbox;
    if (!box) { return; }
    box.replaceChildren();
    if (!b || !width || !height) { return; }
    var svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 " + width + " " + height);
    svg.setAttribute("preserveAspectRatio", "xMidYMid meet");
    var rect = document.createElementNS(SVG, "rect");
    rect.setAttribute("x", b[0]);
    rect.setAttribute("y", b[1]);
    rect.setAttribute("width", Math.max(1, b[2] - b[0]));
    rect.setAttribute("height", Math.max(1, b[3] - b[1]));
    rect.setAttribute("class", "gw-focus-rect");
    svg.appendChild(rect);
    box.appendChild(svg);
  }

  var clipTimer = null;
  function pollClip(seq, since) {
    if (!current || current.seq !== seq || Date.now() - since > CLIP_POLL_LIMIT_MS) { return; }
    var id = current.alert.id;
    fetch(cfg.alertsUrl, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.status === 200 ? r.json() : []; })
      .then(function (list) {
        if (!current || current.seq !== seq) { return; }
        var hit = (list || []).filter(function (v) { return v.id === id; })[0];
        if (hit && hit.clip_url) { showClip(hit.clip_url); return; }
        clipTimer = window.setTimeout(function () { pollClip(seq, since); }, cfg.clipPollMs || 2000);
      })
      .catch(function () {
        clipTimer = window.setTimeout(function () { pollClip(seq, since); }, cfg.clipPollMs || 2000);
      });
  }

  function showClip(url) {
    var video = part("gw-focus-clipvideo");
    var pane = part("gw-focus-clip");
    video.onloadedmetadata = function () {
      pane.classList.add("gw-focus-clip-on");
      drawBox(video.videoWidth, video.videoHeight);
    };
    video.src = url;
    // Muted, so the browser lets it play by itself; a refusal leaves the first frame and the box on screen.
    var playing = video.play();
    if (playing && playing.catch) { playing.catch(function () { return null; }); }
  }

  function startAlertPane(a) {
    var pane = part("gw-focus-clip");
    var img = part("gw-focus-snapshot");
    pane.classList.remove("gw-focus-clip-on", "gw-focus-clip-none");
    img.onload = function () {
      if (!pane.classList.contains("gw-focus-clip-on")) { drawBox(img.naturalWidth, img.naturalHeight); }
    };
    if (a.snapshot_url) { img.src = a.snapshot_url; } else { img.removeAttribute("src"); }
    setText("gw-focus-clip-caption", words("clip"));
    pollClip(current.seq, Date.now());
  }

  function stopAlertPane() {
    window.clearTimeout(clipTimer);
    var video = part("gw-focus-clipvideo");
    if (video) { video.onloadedmetadata = null; video.pause(); video.removeAttribute("src"); video.load(); }
    var img = part("gw-focus-snapshot");
    if (img) { img.onload = null; img.removeAttribute("src"); }
    var box = part("gw-focus-box");
    if (box) { box.replaceChildren(); }
  }

  /* --- the case: which open case the alert joined, from the queue's items (the case consumer's word) --- */

  function resolveCase() {
    if (!current || !current.alert || current.caseId) { return; }
    var a = current.alert;
    var at = Date.parse(a.detected_at);
    // The case this alert is the latest sighting of: same category and camera, last seen at the alert or later.
    var found = queue.filter(function (i) {
      return i.case_id && i.category === a.category && i.camera_id === a.camera_id &&
        Date.parse(i.detected_at) >= at - 1000;
    }).sort(function (x, y) {
      return Math.abs(Date.parse(x.detected_at) - at) - Math.abs(Date.parse(y.detected_at) - at);
    })[0];
    if (!found) { return; }
    current.caseId = found.case_id;
    showCase();
    if (current.deskWanted) { toDesk(); }
  }

  function showCase() {
    var r = root();
    var c = current;
    setText("gw-focus-case", c.caseId ? c.caseId.slice(0, 8) : words("noCase"));
    if (c.caseId) { r.setAttribute("data-focus-case", c.caseId); } else { r.removeAttribute("data-focus-case"); }
  }

  function toDesk() {
    if (!current || !current.alert) { return; }
    if (!current.caseId) {
      current.deskWanted = true;  // opened as soon as the case consumer has stored it
      var keys = part("gw-focus-keys");
      if (keys) { keys.classList.add("gw-focus-waiting"); }
      return;
    }
    window.location.assign(cfg.deskUrl + "?case=" + encodeURIComponent(current.caseId));
  }

  /* --- open and release --- */

  function open(target) {
    var r = root();
    if (!r) { return; }
    release();
    openSeq += 1;
    current = Object.assign({ seq: openSeq, caseId: null, deskWanted: false }, target);
    var a = current.alert;
    r.classList.toggle("gw-focus-pin", !a);
    setText("gw-focus-badge", a ? words("urgent") : words("pinned"));
    setText("gw-focus-cat", a ? categoryName(a) : "");
    setText("gw-focus-camera", cameraName(current.cameraId));
    setText("gw-focus-time", a ? clockTime(a.detected_at) : "");
    setText("gw-focus-grid", a ? gridPath(a.grid_code) : "—");
    setText("gw-focus-position", position(a));
    r.setAttribute("data-focus-camera", current.cameraId);
    if (a) { r.setAttribute("data-focus-alert", a.id); } else { r.removeAttribute("data-focus-alert"); }
    showCase();
    startLive();
    if (a) { startAlertPane(a); resolveCase(); }
    r.classList.add("gw-focus-on");
    var seq = current.seq;
    // On screen: the frame after the one that lays the tile out.
    window.requestAnimationFrame(function () {
      window.requestAnimationFrame(function () {
        if (a && current && current.seq === seq) { shownAt[a.id] = Date.now(); }
      });
    });
  }

  /* ``byOperator``: Esc or the button (a newer alarm taking the tile over is not the operator letting go). */
  function release(byOperator) {
    var r = root();
    if (!current || !r) { return; }
    if (byOperator === true && current.alert) { released.push({ alert: current.alert, at: Date.now() }); }
    stopLive();
    stopAlertPane();
    r.classList.remove("gw-focus-on", "gw-focus-pin");
    var keys = part("gw-focus-keys");
    if (keys) { keys.classList.remove("gw-focus-waiting"); }
    ["data-focus-camera", "data-focus-alert", "data-focus-case"].forEach(function (k) { r.removeAttribute(k); });
    current = null;
  }

  function pin(cid) {
    if (current && current.kind === "pin" && current.cameraId === cid) { release(); return; }
    open({ kind: "pin", cameraId: cid, alert: null });
  }

  document.addEventListener("keydown", function (e) {
    if (!current || !root()) { return; }
    var el = e.target || {};
    var tag = (el.tagName || "").toLowerCase();
    if (tag === "input" || tag === "textarea" || tag === "select" || el.isContentEditable) { return; }
    if (e.ctrlKey || e.metaKey || e.altKey) { return; }
    if (e.key === "Escape") { release(true); e.preventDefault(); }
    if (e.key === "d" || e.key === "D") { toDesk(); e.preventDefault(); }
  });

  document.addEventListener("click", function (e) {
    var t = e.target;
    if (!t || !t.closest || !cfg) { return; }
    var pinButton = t.closest(".gw-cam-pin");
    if (pinButton) { pin(pinButton.getAttribute("data-pin")); return; }
    if (t.closest(".gw-focus-release")) { release(true); return; }
    if (t.closest(".gw-focus-desk")) { toDesk(); }
  });

  window.addEventListener("pagehide", release);

  /* The desk reached by D: pick the case named in ?case= once the queue lists it. */
  function pickOnDesk() {
    var wanted = new URLSearchParams(window.location.search).get("case");
    if (!wanted || window.location.pathname.replace(/\/+$/, "") !== "/desk") { return; }
    var until = Date.now() + DESK_PICK_LIMIT_MS;
    var look = function () {
      var item = document.querySelector('.gw-desk-item[data-case-id="' + CSS.escape(wanted) + '"]');
      if (item) { item.click(); item.scrollIntoView({ block: "nearest" }); return; }
      if (Date.now() < until) { window.setTimeout(look, 100); }
    };
    look();
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", pickOnDesk);
  } else {
    pickOnDesk();
  }

  window.GridWatchFocus = {
    /* What the tile shows now (tests, the benchmark): null when released. */
    current: function () {
      return current && { kind: current.kind, cameraId: current.cameraId, caseId: current.caseId,
                          alertId: current.alert ? current.alert.id : null };
    },
    seen: function (alertId) { return seen.has(alertId); },
    shownAt: function (alertId) { return shownAt[alertId] || null; },
    frameAt: function (alertId) { return frameAt[alertId] || null; },
    liveAt: function (alertId) { return liveAt[alertId] || null; },
    pin: pin,
    release: release
  };

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    gridwatchFocus: {
      /* Every push: the newest urgent alert not seen before takes the tile. The first call (no push yet) only
       * takes the config, so a pin works before any alert arrives. */
      onPush: function (inbox, config, gridNames, loc) {
        cfg = config || cfg;
        if (skewMs === null && cfg && cfg.serverNowMs) { skewMs = cfg.serverNowMs - Date.now(); }
        grids = gridNames || {};
        locale = loc || {};
        var alarm = null;
        ((inbox && inbox.alerts) || []).forEach(function (a) {
          if (!a || !a.id || seen.has(a.id)) { return; }
          seen.add(a.id);
          if (urgent(a) && recent(a) && !releasedLately(a)) { alarm = a; }
        });
        if (seen.size > 2000) { seen = new Set(Array.from(seen).slice(-1000)); }
        if (alarm) { open({ kind: "alert", cameraId: alarm.camera_id, alert: alarm }); }
        return window.dash_clientside.no_update;
      },

      onQueue: function (store) {
        queue = (store && store.alerts) || [];
        resolveCase();
        return window.dash_clientside.no_update;
      }
    }
  });
})();
