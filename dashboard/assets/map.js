/* The tiled map (dashboard/map_leaflet.py): how its features look, the case click that opens the desk, and the
   watch on the tile server.

   Features carry their own look (dashboard/map_layers.py decides colours, where they are tested): paths take
   properties.style; points are made by properties.kind. window.L is Leaflet as dash-leaflet bundles it.

   Tiles: Leaflet marks a tile "loaded" whether it arrived or failed, and a server that never answers leaves
   its <img> pending for minutes. So the watch looks at the tiles themselves twice a second: once one has
   pixels the base map is up; while none has, and either every one failed or the box's data-notice-ms went by
   since the first was asked for, the notice shows above the grids. The box's data-tiles says which
   (none / waiting / ok / failed). Leaflet never asks for a failed tile again until the map moves, and a wall
   does not move: so while the notice shows, every data-notice-ms the failed tiles are asked for again, and the
   base map comes back by itself once its server does. */
(function () {
  'use strict';

  function style(feature) {
    return (feature && feature.properties && feature.properties.style) || {};
  }

  function car(feature, latlng) {
    var p = feature.properties;
    var arrow = p.heading === null || p.heading === undefined ? '<div class="gw-map-car-dot"></div>' :
      '<div class="gw-map-car-arrow" style="transform: rotate(' + Number(p.heading) + 'deg)"></div>';
    return L.marker(latlng, {
      icon: L.divIcon({className: 'gw-map-car gw-map-car-' + (p.link || 'unknown'), html: arrow,
                       iconSize: [26, 26], iconAnchor: [13, 13]}),
      keyboard: false, pane: 'wall-tilemap-cars'});
  }

  function camera(feature, latlng) {
    var p = feature.properties;
    return L.marker(latlng, {
      icon: L.divIcon({className: 'gw-map-cam gw-map-cam-' + p.state,
                       html: '<div class="gw-map-cam-body" style="background:' + p.colour + '"></div>',
                       iconSize: [16, 16], iconAnchor: [8, 8]}),
      keyboard: false, pane: 'wall-tilemap-cameras'});
  }

  function pointToLayer(feature, latlng) {
    var p = feature.properties || {};
    if (p.kind === 'car') { return car(feature, latlng); }
    if (p.kind === 'camera') { return camera(feature, latlng); }
    var opts = Object.assign({pane: 'wall-tilemap-cases', className: 'gw-map-case gw-map-case-' + p.state},
                             p.style || {});
    return L.circleMarker(latlng, opts);
  }

  function openCase(feature) {
    var id = feature && feature.properties && feature.properties.case_id;
    if (!id) { return window.dash_clientside.no_update; }
    window.location.assign('desk?case=' + encodeURIComponent(id));
    return id;
  }

  function tileState(img) {
    if (!img.complete) { return 'waiting'; }
    return img.naturalWidth > 0 ? 'ok' : 'failed';
  }

  function noticeMs(box) {
    return Number(box.getAttribute('data-notice-ms') || 8000);
  }

  function retry(box, tiles, states, now) {
    if (!box._gwRetried) { box._gwRetried = now; return; }
    if (now - box._gwRetried < noticeMs(box)) { return; }
    box._gwRetried = now;
    states.forEach(function (s, i) {
      if (s === 'failed') { tiles[i].src = tiles[i].src; }  // the same address: the browser asks again
    });
  }

  function watch(box) {
    var tiles = box.querySelectorAll('.leaflet-tile-pane img.leaflet-tile');
    if (!tiles.length) { return; }
    var now = Date.now();
    if (!box._gwFirstAsk) { box._gwFirstAsk = now; }
    var states = Array.prototype.map.call(tiles, tileState);
    var state;
    if (states.indexOf('ok') >= 0) {
      state = 'ok';
      box._gwFirstAsk = 0;  // a later outage counts from its own first unanswered tile
      box._gwRetried = 0;
    } else if (states.every(function (s) { return s === 'failed'; }) ||
               now - box._gwFirstAsk >= noticeMs(box)) {
      state = 'failed';
      retry(box, tiles, states, now);
    } else {
      state = 'waiting';
    }
    if (box.getAttribute('data-tiles') !== state) { box.setAttribute('data-tiles', state); }
  }

  setInterval(function () {
    document.querySelectorAll('.gw-tilemap-box:not([hidden])').forEach(watch);
  }, 500);

  window.gridwatchMap = {style: style, pointToLayer: pointToLayer};
  window.dash_clientside = Object.assign({}, window.dash_clientside, {gridwatchMap: {openCase: openCase}});
}());
