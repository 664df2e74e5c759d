// A map of the elder's home: the responders near it and the watch's last position. With the
// centre's tile server (VNH_MAP_TILES) the tiles lie underneath; without one the drawing
// still shows where everyone is relative to the home, with a distance ring and labels.

import { api } from "./api.js";
import { h, s } from "./dom.js";
import { t } from "./i18n.js";

const W = 480;
const H = 300;
const TILE = 256;
const EARTH_M = 156543.03392; // metres per pixel at zoom 0 on the equator
const RINGS_KM = [0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50];

// Web Mercator world pixels at zoom z: the same projection the tiles use.
function project(lat, lon, z) {
  const scale = TILE * 2 ** z;
  const sin = Math.sin((lat * Math.PI) / 180);
  return {
    x: ((lon + 180) / 360) * scale,
    y: (0.5 - Math.log((1 + sin) / (1 - sin)) / (4 * Math.PI)) * scale,
  };
}

function haversineKm(a, b) {
  const rad = (d) => (d * Math.PI) / 180;
  const dLat = rad(b.lat - a.lat);
  const dLon = rad(b.lon - a.lon);
  const q = Math.sin(dLat / 2) ** 2 + Math.cos(rad(a.lat)) * Math.cos(rad(b.lat)) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371 * Math.asin(Math.sqrt(q));
}

const km = (d) => (d < 1 ? `${Math.round(d * 1000)} m` : `${d.toFixed(1)} km`);

/** The zoom at which every point fits the drawing around the home. */
function zoomFor(home, points) {
  const far = Math.max(0.15, ...points.map((p) => haversineKm(home, p)));
  const metresPerPixel = (far * 1000 * 2.4) / Math.min(W, H);
  const z = Math.floor(Math.log2((EARTH_M * Math.cos((home.lat * Math.PI) / 180)) / metresPerPixel));
  return Math.max(2, Math.min(18, z));
}

function tileUrl(template, z, x, y) {
  const n = 2 ** z;
  const wrapped = ((x % n) + n) % n;
  return template.replace("{z}", z).replace("{x}", wrapped).replace("{y}", y).replace("{s}", "abc"[(x + y) % 3]);
}

/** The map's SVG for the data of GET /elders/{id}/map. */
export function drawMap(data) {
  const home = data.home;
  const points = [...data.responders, ...(data.watch ? [data.watch] : [])];
  const z = zoomFor(home, points);
  const c = project(home.lat, home.lon, z);
  const at = (p) => { const q = project(p.lat, p.lon, z); return { x: q.x - c.x + W / 2, y: q.y - c.y + H / 2 }; };
  const layers = [];
  if (data.tiles) {
    const left = c.x - W / 2;
    const top = c.y - H / 2;
    for (let tx = Math.floor(left / TILE); tx <= Math.floor((left + W) / TILE); tx += 1) {
      for (let ty = Math.floor(top / TILE); ty <= Math.floor((top + H) / TILE); ty += 1) {
        if (ty < 0 || ty >= 2 ** z) continue;
        layers.push(s("image", { class: "tile", href: tileUrl(data.tiles, z, tx, ty),
          x: tx * TILE - left, y: ty * TILE - top, width: TILE, height: TILE }));
      }
    }
  }
  // A distance ring sized to the drawing, so "how far" reads without tiles.
  const metresPerPixel = (EARTH_M * Math.cos((home.lat * Math.PI) / 180)) / 2 ** z;
  const ringKm = RINGS_KM.filter((r) => (r * 1000) / metresPerPixel <= Math.min(W, H) / 2.2).pop() ?? RINGS_KM[0];
  const ringPx = (ringKm * 1000) / metresPerPixel;
  layers.push(s("circle", { class: "ring", cx: W / 2, cy: H / 2, r: ringPx }),
    s("text", { class: "ring-label", x: W / 2 + ringPx * 0.72, y: H / 2 - ringPx * 0.72 }, km(ringKm)));
  for (const r of data.responders) {
    const p = at(r);
    layers.push(s("g", { class: `responder ${r.role}`, dataset: { responder: `${r.role}:${r.id}` } },
      s("line", { class: "tie", x1: W / 2, y1: H / 2, x2: p.x, y2: p.y }),
      s("circle", { cx: p.x, cy: p.y, r: 6 }),
      s("text", { x: p.x + 9, y: p.y + 4 }, `${r.name} · ${km(r.distance_km)}`),
      s("title", {}, `${t(`role.${r.role}`)} ${r.name}: ${km(r.distance_km)}`)));
  }
  if (data.watch) {
    const p = at(data.watch);
    layers.push(s("g", { class: "watch", id: "map-watch" },
      s("rect", { x: p.x - 6, y: p.y - 6, width: 12, height: 12, rx: 3 }),
      s("text", { x: p.x + 9, y: p.y - 8 }, `${t("map.watch")} · ${km(haversineKm(home, data.watch))}`)));
  }
  layers.push(s("g", { class: "home", id: "map-home" },
    s("path", { d: `M${W / 2} ${H / 2 - 11} l10 9 h-4 v9 h-12 v-9 h-4 z` }),
    s("text", { x: W / 2 + 12, y: H / 2 + 16 }, t("map.home"))));
  return s("svg", { class: ["map", data.tiles ? "tiled" : "plain"], viewBox: `0 0 ${W} ${H}`,
    role: "img", "aria-label": t("map.title") }, layers);
}

/** The case page's map card; it loads its own data. */
export function mapCard(elderId) {
  const body = h("div", { class: "map-box" }, h("p", { class: "empty" }, t("common.loading")));
  const card = h("section", { class: "card", id: "map-card" }, h("h2", {}, t("map.title")), body);
  api(`/elders/${elderId}/map`).then((data) => {
    body.replaceChildren();
    if (!data.home) {
      body.append(h("p", { class: "empty" }, t("map.no_home")));
      return;
    }
    body.append(drawMap(data), h("p", { class: "muted small", id: "map-legend" },
      data.tiles ? t("map.tiled") : t("map.plain"),
      " · ", t("map.responders", { n: data.responders.length })));
  }).catch((err) => {
    body.replaceChildren(h("p", { class: "empty" }, t("error.load", { detail: err.message })));
  });
  return card;
}
