// What the elder's 4G watch tells, on the case view (with the track over the case) and on
// the elder's page: the last position with a map link, the safe zone, the latest readings.

import { api } from "./api.js";
import { h, refill } from "./dom.js";
import { formatTime, t } from "./i18n.js";

const enc = encodeURIComponent;
const READINGS_SHOWN = 5;

function mapLink(point) {
  const at = `${point.lat.toFixed(6)},${point.lon.toFixed(6)}`;
  const href = `https://www.openstreetmap.org/?mlat=${point.lat}&mlon=${point.lon}#map=17/${point.lat}/${point.lon}`;
  return h("a", { href, target: "_blank", rel: "noopener noreferrer", class: "mono" }, at);
}

function readingText(r) {
  const parts = [];
  if (r.heart_rate !== null) parts.push(t("wearable.heart", { bpm: r.heart_rate }));
  if (r.systolic !== null || r.diastolic !== null) {
    parts.push(t("wearable.pressure", { sys: r.systolic ?? "—", dia: r.diastolic ?? "—" }));
  }
  if (r.temperature_c !== null) parts.push(t("wearable.temperature", { c: r.temperature_c }));
  return parts.join(" · ");
}

/** Buttons that send the watch a command; each is followed on its terminal's command list. */
function commandsPart(deviceId, toast) {
  async function send(cmd, params = {}) {
    try {
      await api(`/devices/${enc(deviceId)}/commands`, { method: "POST", body: { cmd, params } });
      toast(t("wearable.sent", { cmd }));
    } catch (err) {
      toast(t("error.action", { detail: err.message }), "error");
    }
  }
  const number = h("input", { type: "tel", id: "monitor-number", placeholder: "+86…", size: 16 });
  return h("div", { class: "inline", id: "wearable-commands" },
    h("button", { type: "button", id: "watch-locate", onclick: () => send("locate") }, t("wearable.locate")),
    h("button", { type: "button", class: "ghost", id: "watch-ring", onclick: () => send("ring") }, t("wearable.ring")),
    h("button", { type: "button", class: "ghost", id: "watch-sos",
      onclick: () => send("sos_numbers") }, t("wearable.sos_numbers")),
    h("button", { type: "button", class: "ghost", id: "watch-sos-hotline",
      onclick: () => send("sos_numbers", { hotline: true }) }, t("wearable.sos_hotline")),
    number,
    // No number: the watch calls back the phone the operator set for bridged calls.
    h("button", { type: "button", class: "ghost", id: "watch-monitor",
      onclick: () => send("monitor", number.value ? { number: number.value } : {}) },
    t("wearable.monitor")));
}

/** A card that loads itself; stays hidden for an elder whose terminals report none of it.
 *  `caseId` null (the elder's page): the last position only, no track. With `deviceId`
 *  (the case's watch) and `toast`, buttons send it commands. */
export function wearableCard(caseId, elderId, deviceId = null, toast = null) {
  return wearablePart(caseId, elderId, deviceId, toast).node;
}

/** The same card and its `reload()`, for a page that reads it again on news: a number
 *  being typed for the call-back survives the redraw. */
export function wearablePart(caseId, elderId, deviceId = null, toast = null) {
  const card = h("section", { class: "card", id: "wearable-card", hidden: true });
  let latest = 0;

  async function load() {
    // Only the last read draws: an older answer arriving late would undo a newer one.
    const n = ++latest;
    const [track, readings, zone] = await Promise.allSettled([
      caseId !== null
        ? api(`/cases/${enc(caseId)}/track`)
        : api(`/elders/${enc(elderId)}/position`).then((last) => ({ last, points: null })),
      api(`/elders/${enc(elderId)}/readings?limit=${READINGS_SHOWN}`),
      api(`/elders/${enc(elderId)}/safe-zone`),
    ]);
    const tr = track.status === "fulfilled" ? track.value : null;
    const rs = readings.status === "fulfilled" ? readings.value : [];
    const z = zone.status === "fulfilled" ? zone.value : null;
    if (n !== latest) return;
    if (!(tr && tr.last) && !rs.length && !z) return;
    const parts = [h("h2", {}, t("wearable.title"))];
    if (tr && tr.last) {
      parts.push(h("p", { id: "wearable-position" }, `${t("wearable.last")}: `, mapLink(tr.last),
        ` (${tr.last.source}, ${formatTime(tr.last.at)})`));
      if (tr.points !== null) {
        parts.push(h("p", { class: "muted small", id: "wearable-track" },
          t("wearable.track", { n: tr.points.length })));
      }
      if (tr.points && tr.points.length) {
        parts.push(h("table", { class: "grid compact" }, h("tbody", {},
          tr.points.slice(-READINGS_SHOWN).reverse().map((p) => h("tr", {},
            h("td", {}, formatTime(p.at)), h("td", {}, mapLink(p)), h("td", { class: "muted" }, p.source))))));
      }
    }
    parts.push(h("p", { id: "wearable-zone" }, z
      ? [t("wearable.zone", { m: z.radius_m }), " ",
        z.outside_since
          ? h("strong", { class: "alert" }, t("wearable.outside", { at: formatTime(z.outside_since) }))
          : t("wearable.inside")]
      : h("span", { class: "muted" }, t("wearable.no_zone"))));
    if (rs.length) {
      parts.push(h("h3", {}, t("wearable.readings")));
      parts.push(h("table", { class: "grid compact", id: "wearable-readings" }, h("tbody", {},
        rs.map((r) => h("tr", {}, h("td", {}, formatTime(r.received_at)), h("td", {}, readingText(r)))))));
    }
    if (deviceId !== null && toast !== null && tr && tr.last && tr.last.device_id === deviceId) {
      parts.push(commandsPart(deviceId, toast));
    }
    card.hidden = false;
    refill(card, ...parts);
  }

  load();
  return { node: card, reload: load };
}
