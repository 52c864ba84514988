/* GridWatch push feed: one websocket per wall, reconnecting with backoff and resuming from the last
 * stream id; every message is handed to Dash with dash_clientside.set_props (no polling, no reload).
 * The status words come with the config (config.texts: connecting, live, lost) from the catalogues. */
(function () {
  "use strict";

  var MAX_BUFFER = 50;
  var MIN_DELAY_MS = 500;
  var MAX_DELAY_MS = 10000;

  var cfg = null;
  var ws = null;
  var since = null;
  var delay = MIN_DELAY_MS;
  var buffer = [];
  var seq = 0;
  var timer = null;
  var shown = null;

  function setProps(id, props) {
    if (window.dash_clientside && window.dash_clientside.set_props) {
      window.dash_clientside.set_props(id, props);
    }
  }

  function showStatus(kind) {
    if (kind === shown) { return; }
    shown = kind;
    // The stylesheet shows the red banner and greys the queue, figures and map while this says "lost".
    document.documentElement.setAttribute("data-gw-conn", kind);
    var words = cfg.texts || {};
    setProps(cfg.status, { children: words[kind] || kind, className: "gw-conn gw-conn-" + kind });
  }

  function resolveUrl(raw) {
    var url = new URL(raw, window.location.href);
    // The server may listen on every interface; the browser must use the host it reached the wall by.
    if (["0.0.0.0", "[::]", "::", ""].indexOf(url.hostname) >= 0) {
      url.hostname = window.location.hostname;
    }
    // The login cookie goes only to the host name the page was loaded by: on one machine, use that name.
    var loopback = ["127.0.0.1", "localhost", "[::1]"];
    if (loopback.indexOf(url.hostname) >= 0 && loopback.indexOf(window.location.hostname) >= 0) {
      url.hostname = window.location.hostname;
    }
    if (since) { url.searchParams.set("since", since); }
    return url.toString();
  }

  var RELOAD_KEY = "gridwatch-push-reload";

  function reloadedLately() {
    // A page that is logged in but whose cookie does not reach the push port must not reload for ever.
    var at = Number(window.sessionStorage.getItem(RELOAD_KEY) || 0);
    return Date.now() - at < 30000;
  }

  function retry() {
    if (timer !== null) { return; }
    var wait = delay * (0.75 + Math.random() * 0.5);
    delay = Math.min(delay * 2, MAX_DELAY_MS);
    timer = window.setTimeout(connect, wait);
  }

  function onMessage(event) {
    var msg;
    try {
      msg = JSON.parse(event.data);
    } catch (err) {
      console.warn("GridWatch push: unreadable message", err);
      return;
    }
    if (!msg || !msg.alert || !msg.stream_id) { return; }
    since = msg.stream_id;
    buffer.push(msg.alert);
    if (buffer.length > MAX_BUFFER) { buffer.shift(); }
    seq += 1;
    // The whole recent buffer goes each time: Dash may coalesce quick updates, the merge de-duplicates.
    setProps(cfg.inbox, { data: { seq: seq, alerts: buffer.slice() } });
  }

  function connect() {
    timer = null;
    try {
      ws = new WebSocket(resolveUrl(cfg.url));
    } catch (err) {
      console.warn("GridWatch push: cannot open websocket", err);
      showStatus("lost");
      retry();
      return;
    }
    ws.onopen = function () {
      delay = MIN_DELAY_MS;
      showStatus("live");
    };
    ws.onmessage = onMessage;
    ws.onclose = function (ev) {
      ws = null;
      if (ev && ev.code === 4401 && !reloadedLately()) {
        // No login behind this page any more (session expired or ended): reloading lands on the login form.
        window.sessionStorage.setItem(RELOAD_KEY, String(Date.now()));
        window.location.reload();
        return;
      }
      showStatus("lost");
      retry();
    };
  }

  window.gridwatchPush = {
    start: function (config) {
      if (cfg !== null || !config || !config.url) { return false; }
      cfg = config;
      since = config.since || null;
      showStatus("connecting");
      connect();
      return true;
    },
    state: function () {
      return { connected: ws !== null && ws.readyState === 1, since: since };
    }
  };
})();
