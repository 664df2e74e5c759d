// What the elder's 4G watch tells, on the case view (with the track over the case) and on
// the elder's page: the last position with a map link, the safe zone, the latest readings.

import { api } from "./api.js";
import { fill, h } from "./dom.js";
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

/** A card that loads itself; stays hidden for an elder whose terminals report none of it.
 *  `caseId` null (the elder's page): the last position only, no track. */
export function wearableCard(caseId, elderId) {
  const card = h("section", { class: "card", id: "wearable-card", hidden: true });

  async function load() {
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
    card.hidden = false;
    fill(card, ...parts);
  }

  load();
  return card;
}
