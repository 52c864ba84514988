/* Live video in the browser: the camera's own frames, played at the live edge (dashboard/live.py serves them).
 *
 * API for other pages and tiles (e.g. the alarm focus tile):
 *
 *   var player = window.GridWatchLive.attach(videoElement, cameraId, {onState: function (state, detail) {},
 *                                                                     overlay: canvasElement, sub: false});
 *       Plays the camera in <video> (muted, inline). state is "connecting", "playing" (the first frame is shown),
 *       "unsupported" (the browser cannot play the camera's codec, e.g. H.265: detail is the codec; keep the
 *       preview and say so), "error" (retrying; detail says why), "unavailable" (the server refused: not logged in,
 *       another site, or a camera it does not know; not retried) or "closed". Calling attach again on the same
 *       element first detaches it. Resolves the configuration from /api/live by itself. With ``overlay`` (a
 *       <canvas> laid over the video, same box) the detection boxes vision found are drawn on it, each set over the
 *       frame it was found in (the worker's box sets carry the frame's capture time, the video's frames theirs).
 *       ``sub: true`` plays the camera's detection sub-stream (e.g. 640x360) where it has one: for small tiles.
 *   window.GridWatchLive.detach(videoElement)   stops the player and releases the stream (the server closes the
 *       camera's connection once nobody watches it).
 *   player.captureTime(mediaTime) -> Unix ms the frame at that video time was captured (null when unknown);
 *   player.boxesAt(mediaTime) -> that frame's boxes [[x1, y1, x2, y2, class, confidence], ...] in 0..1 of the
 *       frame; player.stats() -> {frames, jumps}.
 *   window.GridWatchLive.config() -> Promise of /api/live ({source: "relay"|"mediamtx", maxTiles, url|whep}).
 *
 * The wall's tiles are handled here too: a tile plays live while it is on screen, its camera online and the tab
 * visible, at most config.maxTiles (dashboard.live_tiles) at once, the most recently shown first; the others keep
 * wall.js's preview JPEG. A page too slow to decode them all plays fewer (see adjustBudget). A tile narrower than
 * SUB_BELOW_PX plays the camera's detection sub-stream when it has one (the server falls back to the main stream). A tile's .gw-cam-video box with live video gets the class gw-live-on (assets/live.css
 * hides its JPEG; the tile's own class list belongs to wall.js, which rewrites it with each camera state); one
 * whose codec the browser cannot play gets gw-live-unsupported and a notice in the page's language.
 *
 * Staying live: each frame is appended the moment it arrives; playback a little behind the newest frame (more
 * than SOFT_LAG_S) runs 15% faster until it has caught up, which nobody notices; more than LAG_S behind, or sitting
 * in a gap (the server skipped frames of a slow viewer up to the next keyframe), it seeks to the live edge instead
 * of drifting. Played-out video older than KEEP_S is removed so memory stays flat. */
(function () {
  "use strict";

  var LAG_S = 1.0;  // further behind than this: seek to the live edge (a visible skip)
  var SOFT_LAG_S = 0.15;  // behind more than this: play a little faster until caught up (no visible skip)
  var CATCH_UP_RATE = 1.15;
  var EDGE_S = 0.04;
  var KEEP_S = 10;
  var MAX_PENDING = 90;  // a busy page's backlog of frames: beyond this skip to the next keyframe
  var RETRY_MS = [1000, 2000, 5000, 10000];
  var SCAN_MS = 500;
  var SUB_BELOW_PX = 720;  // a tile narrower than this (the 9 and 16 layouts) plays the camera's sub-stream
  var BOX_HOLD_MS = 400;  // a box set stays on the frames after it this long (vision sees ~5 frames a second)
  var BOX_EARLY_MS = 20;  // the two sides reckon capture time separately: a set this much "later" still fits
  var CONFIG_URL = "/api/live";

  var configPromise = null;
  function config() {
    if (!configPromise) {
      configPromise = fetch(CONFIG_URL, { credentials: "same-origin", cache: "no-store" })
        .then(function (r) { return r.status === 200 ? r.json() : { maxTiles: 0 }; })
        .catch(function () { configPromise = null; return { maxTiles: 0 }; });
    }
    return configPromise;
  }

  function resolveUrl(raw) {
    var url = new URL(raw, window.location.href);
    // As push.js: a server listening on every interface, or loopback, is reached by the page's own host name
    // (the login cookie goes only to that name).
    var loopback = ["127.0.0.1", "localhost", "[::1]"];
    if (["0.0.0.0", "[::]", "::", ""].indexOf(url.hostname) >= 0 ||
        (loopback.indexOf(url.hostname) >= 0 && loopback.indexOf(window.location.hostname) >= 0)) {
      url.hostname = window.location.hostname;
    }
    return url.toString();
  }

  function supported(mime) {
    return !!(window.MediaSource && window.MediaSource.isTypeSupported(mime));
  }

  /* --- one <video> fed by the relay (fMP4 over a websocket into Media Source Extensions) --- */
  function RelayPlayer(video, cameraId, cfg, onState, overlay, sub) {
    this.video = video;
    this.sub = !!sub;
    this.overlay = overlay || null;
    this.boxSets = [];  // [captured ms, boxes], oldest first
    this.cameraId = cameraId;
    this.cfg = cfg;
    this.onState = onState || function () {};
    this.closed = false;
    this.retry = 0;
    this.frames = 0;
    this.jumps = 0;
    this.captures = [];  // [media time s, captured ms], newest last, for captureTime()
    this.connect();
    this.drawLoop();
  }

  RelayPlayer.prototype.state = function (state, detail) {
    if (this.lastState === state && state !== "error") { return; }
    this.lastState = state;
    try { this.onState(state, detail); } catch (err) { console.error("GridWatch live: onState failed", err); }
  };

  RelayPlayer.prototype.connect = function () {
    var self = this;
    if (self.closed) { return; }
    self.state("connecting");
    var ws = new WebSocket(resolveUrl(self.cfg.url) + encodeURIComponent(self.cameraId) +
                           (self.sub ? "?stream=sub" : ""));
    ws.binaryType = "arraybuffer";
    self.ws = ws;
    ws.onmessage = function (ev) {
      if (self.ws !== ws) { return; }
      if (typeof ev.data === "string") { self.control(JSON.parse(ev.data)); } else { self.binary(ev.data); }
    };
    ws.onclose = function (ev) {
      if (self.ws !== ws || self.closed) { return; }
      self.ws = null;
      if (self.lastState === "unsupported") { return; }
      if (ev.code === 4401 || ev.code === 4403 || ev.code === 4404) {  // login, origin, camera: no point retrying
        self.state("unavailable", ev.reason || ("closed " + ev.code));
        return;
      }
      self.state("error", ev.reason || ("closed " + ev.code));
      var wait = RETRY_MS[Math.min(self.retry, RETRY_MS.length - 1)];
      self.retry += 1;
      self.timer = window.setTimeout(function () { self.timer = null; self.connect(); }, wait);
    };
  };

  RelayPlayer.prototype.control = function (msg) {
    if (msg.type === "stream") {
      if (!supported(msg.mime)) {
        this.state("unsupported", msg.codec);
        this.close(true);
        return;
      }
      this.openSource(msg.mime);
    } else if (msg.type === "boxes") {
      this.boxSets.push([msg.t * 1000, msg.boxes || []]);
      if (this.boxSets.length > 60) { this.boxSets.splice(0, this.boxSets.length - 60); }
    } else if (msg.type === "error") {
      this.state("error", msg.reason);
    }
  };

  /* A (new) stream: a fresh MediaSource, so a camera that reconnected with other parameters plays on. */
  RelayPlayer.prototype.openSource = function (mime) {
    var self = this;
    self.dropSource();
    var ms = new MediaSource();
    self.ms = ms;
    self.sb = null;
    self.pending = [];
    self.needKey = false;
    self.watching = false;
    ms.addEventListener("sourceopen", function () {
      if (self.ms !== ms) { return; }
      URL.revokeObjectURL(self.video.src);
      var sb = ms.addSourceBuffer(mime);
      sb.mode = "segments";
      sb.addEventListener("updateend", function () { if (self.sb === sb) { self.afterAppend(); } });
      self.sb = sb;
      self.pump();
    }, { once: true });
    self.video.muted = true;
    self.video.playsInline = true;
    self.video.src = URL.createObjectURL(ms);
  };

  RelayPlayer.prototype.binary = function (buf) {
    if (!this.ms) { return; }
    var view = new DataView(buf);
    var kind = view.getUint8(0);
    var item = { kind: kind, media: view.getFloat64(1), captured: view.getFloat64(9), data: buf.slice(17) };
    if (kind === 2 && this.needKey) { return; }
    if (kind === 1) { this.needKey = false; }
    this.pending.push(item);
    if (this.pending.length > MAX_PENDING) {
      // The page fell behind the socket: keep the init segment, skip to the newest keyframe.
      var lastKey = -1;
      this.pending.forEach(function (p, i) { if (p.kind === 1) { lastKey = i; } });
      var keep = this.pending.filter(function (p, i) { return p.kind === 0 || (lastKey >= 0 && i >= lastKey); });
      this.needKey = lastKey < 0;
      this.pending = keep;
    }
    this.pump();
  };

  RelayPlayer.prototype.pump = function () {
    var sb = this.sb;
    if (!sb || sb.updating || !this.pending.length) { return; }
    var item = this.pending.shift();
    if (item.kind !== 0) {
      this.captures.push([item.media, item.captured * 1000]);
      if (this.captures.length > 300) { this.captures.splice(0, this.captures.length - 300); }
    }
    try {
      sb.appendBuffer(item.data);
    } catch (err) {
      // QuotaExceededError: drop what was played and try again after the removal.
      this.trim(true);
      this.pending.unshift(item);
    }
  };

  RelayPlayer.prototype.afterAppend = function () {
    var v = this.video, b = this.sb.buffered;
    if (b.length) {
      var end = b.end(b.length - 1), start = b.start(b.length - 1);
      var lag = end - v.currentTime;
      if (v.currentTime < start || lag > LAG_S) {
        if (this.frames > 0) { this.jumps += 1; }
        v.currentTime = Math.max(start, end - EDGE_S);
      } else {
        var rate = lag > SOFT_LAG_S ? CATCH_UP_RATE : 1;
        if (v.playbackRate !== rate) { v.playbackRate = rate; }
      }
      if (v.paused) {
        var self = this;
        var p = v.play();
        if (p && p.catch) { p.catch(function () { /* autoplay refused: tried again on the next frame */ }); }
        if (!self.watching && v.requestVideoFrameCallback) {
          self.watching = true;
          v.requestVideoFrameCallback(function () { if (!self.closed) { self.retry = 0; self.state("playing"); } });
        } else if (!v.requestVideoFrameCallback) {
          self.state("playing");
        }
      }
      this.frames += 1;
    }
    if (!this.trim(false)) { this.pump(); }
  };

  /* Remove video played more than KEEP_S ago (or all but the last second, when the buffer is full). */
  RelayPlayer.prototype.trim = function (urgent) {
    var sb = this.sb, v = this.video;
    if (!sb || sb.updating || !sb.buffered.length) { return false; }
    var first = sb.buffered.start(0);
    var upTo = v.currentTime - (urgent ? 1 : KEEP_S);
    if (upTo - first < (urgent ? 0.1 : KEEP_S / 2)) { return false; }
    sb.remove(first, upTo);
    return true;
  };

  RelayPlayer.prototype.captureTime = function (mediaTime) {
    var best = null, gap = Infinity;
    this.captures.forEach(function (c) {
      var d = Math.abs(c[0] - mediaTime);
      if (d < gap) { gap = d; best = c[1]; }
    });
    return gap < 0.02 ? best : null;
  };

  RelayPlayer.prototype.stats = function () { return { frames: this.frames, jumps: this.jumps }; };

  /* The newest box set found in a frame captured at most BOX_HOLD_MS before the frame at mediaTime. */
  RelayPlayer.prototype.boxesAt = function (mediaTime) {
    var captured = this.captureTime(mediaTime);
    if (captured === null) { return []; }
    for (var i = this.boxSets.length - 1; i >= 0; i--) {
      var t = this.boxSets[i][0];
      if (t <= captured + BOX_EARLY_MS) { return captured - t <= BOX_HOLD_MS ? this.boxSets[i][1] : []; }
    }
    return [];
  };

  /* Every presented frame: its boxes onto the overlay canvas. */
  RelayPlayer.prototype.drawLoop = function () {
    var self = this, v = this.video;
    if (!this.overlay || !v.requestVideoFrameCallback) { return; }
    var onFrame = function (_now, meta) {
      if (self.closed) { clearBoxes(self.overlay); return; }
      drawBoxes(self.overlay, v, self.boxesAt(meta.mediaTime));
      v.requestVideoFrameCallback(onFrame);
    };
    v.requestVideoFrameCallback(onFrame);
  };

  function clearBoxes(canvas) {
    canvas.getContext("2d").clearRect(0, 0, canvas.width, canvas.height);
  }

  /* Boxes in 0..1 of the frame onto a canvas over the video, which shows the frame letterboxed (object-fit:
   * contain). */
  function drawBoxes(canvas, video, boxes) {
    var w = canvas.clientWidth, h = canvas.clientHeight;
    if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
    var ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, w, h);
    if (!boxes.length || !video.videoWidth) { return; }
    var scale = Math.min(w / video.videoWidth, h / video.videoHeight);
    var fw = video.videoWidth * scale, fh = video.videoHeight * scale, ox = (w - fw) / 2, oy = (h - fh) / 2;
    ctx.lineWidth = 2;
    ctx.strokeStyle = "#fbbf24";
    ctx.fillStyle = "#fbbf24";
    ctx.font = "12px sans-serif";
    boxes.forEach(function (b) {
      var x = ox + b[0] * fw, y = oy + b[1] * fh;
      ctx.strokeRect(x, y, (b[2] - b[0]) * fw, (b[3] - b[1]) * fh);
      ctx.fillText(b[4] + " " + Math.round(b[5] * 100) + "%", x + 2, Math.max(12, y - 3));
    });
  }

  RelayPlayer.prototype.dropSource = function () {
    if (this.ms) {
      if (this.ms.readyState === "open") { try { this.ms.endOfStream(); } catch (err) { /* closing anyway */ } }
      this.ms = null;
      this.sb = null;
      this.pending = [];
    }
  };

  RelayPlayer.prototype.close = function (keepState) {
    if (this.closed) { return; }
    this.closed = true;
    if (this.timer) { window.clearTimeout(this.timer); }
    var ws = this.ws;
    this.ws = null;
    if (ws) { ws.close(1000, "detached"); }
    this.dropSource();
    this.video.removeAttribute("src");
    this.video.load();  // releases the decoder at once
    if (!keepState) { this.state("closed"); }
  };

  /* --- one <video> fed by MediaMTX over WebRTC (WHEP): the app serves no video bytes --- */
  function WhepPlayer(video, cameraId, cfg, onState) {
    var self = this;
    self.video = video;
    self.onState = onState || function () {};
    self.closed = false;
    var url = cfg.whep.replace("{camera}", encodeURIComponent(cameraId)).replace("{host}", window.location.hostname);
    var pc = new RTCPeerConnection();
    self.pc = pc;
    pc.addTransceiver("video", { direction: "recvonly" });
    pc.ontrack = function (ev) {
      video.muted = true;
      video.playsInline = true;
      video.srcObject = ev.streams[0] || new MediaStream([ev.track]);
      var p = video.play();
      if (p && p.catch) { p.catch(function () {}); }
      self.onState("playing");
    };
    self.onState("connecting");
    pc.createOffer().then(function (offer) { return pc.setLocalDescription(offer); }).then(function () {
      return fetch(url, { method: "POST", headers: { "Content-Type": "application/sdp" }, body: pc.localDescription.sdp });
    }).then(function (r) {
      if (r.status !== 201) { throw new Error("WHEP answered " + r.status); }
      self.resource = r.headers.get("Location");
      return r.text();
    }).then(function (sdp) {
      if (!self.closed) { return pc.setRemoteDescription({ type: "answer", sdp: sdp }); }
    }).catch(function (err) { if (!self.closed) { self.onState("error", String(err)); } });
  }
  WhepPlayer.prototype.captureTime = function () { return null; };
  WhepPlayer.prototype.boxesAt = function () { return []; };
  WhepPlayer.prototype.stats = function () { return { frames: 0, jumps: 0 }; };
  WhepPlayer.prototype.close = function () {
    if (this.closed) { return; }
    this.closed = true;
    this.pc.close();
    this.video.srcObject = null;
    this.onState("closed");
  };

  /* --- the public API --- */
  var players = new Map();  // video element -> player

  function attach(video, cameraId, options) {
    detach(video);
    var opts = options || {};
    var slot = { closed: false, player: null };
    players.set(video, slot);
    config().then(function (cfg) {
      if (slot.closed || players.get(video) !== slot) { return; }
      if (cfg.source === "mediamtx" && cfg.whep) {
        slot.player = new WhepPlayer(video, cameraId, cfg, opts.onState);
      } else if (cfg.url && window.MediaSource) {
        slot.player = new RelayPlayer(video, cameraId, cfg, opts.onState, opts.overlay, opts.sub);
      } else if (opts.onState) {
        opts.onState(cfg.url ? "unsupported" : "closed", cfg.url ? "MediaSource" : "live video off");
      }
    });
    return {
      close: function () { detach(video); },
      captureTime: function (t) { return slot.player ? slot.player.captureTime(t) : null; },
      boxesAt: function (t) { return slot.player ? slot.player.boxesAt(t) : []; },
      stats: function () { return slot.player ? slot.player.stats() : { frames: 0, jumps: 0 }; }
    };
  }

  function detach(video) {
    var slot = players.get(video);
    if (!slot) { return; }
    players.delete(video);
    slot.closed = true;
    if (slot.player) { slot.player.close(); }
  }

  /* --- the wall's tiles --- */
  var tiles = new Map();  // camera id -> {tile, video, handle, shownAt}
  var onScreen = new WeakMap();  // tile -> whether it intersects the viewport
  var unsupported = {};  // camera id -> codec the browser cannot play (no retry on this page)
  var UNAVAILABLE_MS = 60000;
  var unavailableUntil = {};  // camera id -> when to try again a camera the server refused (its slot goes to others)
  var observer = window.IntersectionObserver ? new IntersectionObserver(function (entries) {
    entries.forEach(function (e) { onScreen.set(e.target, e.isIntersecting); });
    scan();
  }) : null;

  var texts = {};  // the page's language, from /api/live (the catalogues hold every word)

  function candidate(tile) {
    if (document.hidden || tile.style.display === "none") { return false; }
    if (tile.className.indexOf("gw-cam-online") < 0) { return false; }
    var cid = tile.getAttribute("data-cam");
    if (unsupported[cid] || (unavailableUntil[cid] || 0) > Date.now()) { return false; }
    if (!observer) { return true; }
    if (!tile._gwObserved) { tile._gwObserved = true; observer.observe(tile); return false; }
    return onScreen.get(tile) === true;
  }

  function release(cid) {
    var t = tiles.get(cid);
    if (!t) { return; }
    tiles.delete(cid);
    t.handle.close();
    [t.video, t.overlay].forEach(function (n) { if (n.parentNode) { n.parentNode.removeChild(n); } });
    var box = t.tile.querySelector(".gw-cam-video");
    if (box) { box.classList.remove("gw-live-on"); }
  }

  function start(tile, cid) {
    var box = tile.querySelector(".gw-cam-video");
    if (!box) { return; }
    var video = document.createElement("video");
    video.className = "gw-cam-live";
    video.muted = true;
    video.playsInline = true;
    video.setAttribute("data-camera", cid);
    var overlay = document.createElement("canvas");
    overlay.className = "gw-cam-boxes";
    box.insertBefore(overlay, box.firstChild);
    box.insertBefore(video, overlay);
    var entry = { tile: tile, video: video, overlay: overlay, shownAt: Date.now(), handle: null };
    entry.handle = attach(video, cid, {
      overlay: overlay,
      sub: box.clientWidth > 0 && box.clientWidth < SUB_BELOW_PX,
      onState: function (state, detail) {
        if (tiles.get(cid) !== entry) { return; }
        box.classList.toggle("gw-live-on", state === "playing");
        if (state === "unavailable") {
          unavailableUntil[cid] = Date.now() + UNAVAILABLE_MS;
          release(cid);
        }
        if (state === "unsupported") {
          unsupported[cid] = detail || "?";
          notice(tile, detail);
          release(cid);
        }
      }
    });
    tiles.set(cid, entry);
  }

  function notice(tile, codec) {
    var box = tile.querySelector(".gw-cam-video");
    if (!box || box.querySelector(".gw-live-notice")) { return; }
    box.classList.add("gw-live-unsupported");
    var span = document.createElement("span");
    span.className = "gw-live-notice";
    span.textContent = (texts.unsupported || "") + " (" + codec + ")";
    box.appendChild(span);
  }

  var liveMax = null;
  /* A page that cannot decode all its tiles (a weak PC, 16 tiles of 720p) keeps jumping to the live edge and shows
   * every tile stuttering. It plays fewer instead: when its players jumped more than once per live tile in a
   * STARVED_MS window, the budget drops by a quarter (the least recently shown tiles go back to the preview); after
   * CALM_MS without a jump it grows by one again, up to dashboard.live_tiles. */
  var STARVED_MS = 5000, CALM_MS = 60000;
  var budget = { tiles: null, jumps: 0, windowAt: 0, calmSince: 0 };

  function adjustBudget() {
    var now = Date.now(), jumps = 0;
    tiles.forEach(function (t) { jumps += t.handle.stats().jumps; });
    if (budget.tiles === null) { budget.tiles = liveMax; budget.windowAt = budget.calmSince = now; }
    var fresh = Math.max(0, jumps - budget.jumps);
    budget.jumps = jumps;
    if (fresh > 0) { budget.calmSince = now; }
    budget.window = (budget.window || 0) + fresh;
    if (now - budget.windowAt >= STARVED_MS) {
      if (budget.window > Math.max(1, tiles.size) && budget.tiles > 1) {
        budget.tiles = Math.max(1, budget.tiles - Math.ceil(budget.tiles / 4));
        budget.calmSince = now;
      }
      budget.window = 0;
      budget.windowAt = now;
    }
    if (now - budget.calmSince >= CALM_MS && budget.tiles < liveMax) {
      budget.tiles += 1;
      budget.calmSince = now;
    }
    return Math.min(budget.tiles, liveMax);
  }

  function scan() {
    if (liveMax === null) { return; }
    var allowed = adjustBudget();
    var wanted = [];
    document.querySelectorAll(".gw-cam[data-cam]").forEach(function (tile) {
      var cid = tile.getAttribute("data-cam");
      var t = tiles.get(cid);
      if (t && t.tile !== tile) { release(cid); t = null; }  // the grid was rebuilt: a new tile element
      if (candidate(tile)) {
        if (!tile._gwShownAt) { tile._gwShownAt = Date.now(); }
        wanted.push(tile);
      } else {
        tile._gwShownAt = 0;
      }
    });
    // At most `allowed` players: the most recently shown tiles win, the least recently shown are released.
    wanted.sort(function (a, b) { return b._gwShownAt - a._gwShownAt; });
    var keep = new Set(wanted.slice(0, allowed).map(function (tile) { return tile.getAttribute("data-cam"); }));
    Array.from(tiles.keys()).forEach(function (cid) { if (!keep.has(cid)) { release(cid); } });
    wanted.slice(0, allowed).forEach(function (tile) {
      var cid = tile.getAttribute("data-cam");
      if (!tiles.has(cid)) { start(tile, cid); }
    });
  }

  function wallTiles() {
    if (!document.querySelector(".gw-cam[data-cam]")) { return; }
    if (liveMax === null) {
      liveMax = 0;
      config().then(function (cfg) {
        texts = cfg.texts || {};
        liveMax = Number(cfg.maxTiles) || 0;
        budget.tiles = null;
        scan();
      });
      return;
    }
    scan();
  }
  window.setInterval(wallTiles, SCAN_MS);
  document.addEventListener("visibilitychange", function () { if (liveMax !== null) { scan(); } });
  window.addEventListener("pagehide", function () {
    Array.from(tiles.keys()).forEach(release);
    Array.from(players.keys()).forEach(detach);
  });

  window.GridWatchLive = {
    attach: attach,
    detach: detach,
    config: config,
    supported: supported,
    /* wall.js asks before fetching a tile's preview JPEG: a tile showing live video needs none. */
    playing: function (tile) { return !!tile && !!tile.querySelector(".gw-cam-video.gw-live-on"); },
    /* How many tiles the page plays at most now (dashboard.live_tiles, less while it cannot keep up). */
    budget: function () { return budget.tiles === null ? liveMax : Math.min(budget.tiles, liveMax); },
    /* The wall's players now (tests, the benchmark): {camera id: player handle}. */
    wallPlayers: function () {
      var out = {};
      tiles.forEach(function (t, cid) { out[cid] = t.handle; });
      return out;
    }
  };
})();
