// Area incidents (alarm storms): one line per district or hub gone dark, growing live.

import { api, serverNow } from "./api.js";
import { h } from "./dom.js";
import { formatDuration, formatTime, t } from "./i18n.js";

// A storm grows by the second; the board and the fleet view look again this often.
export const INCIDENT_REFRESH_MS = 5000;

export async function loadIncidents() {
  try {
    return await api("/incidents?limit=20");
  } catch {
    return [];
  }
}

function where(row) {
  return row.scope === "all" ? t("incident.all") : t(`incident.scope_${row.scope}`, { area: row.area });
}

function line(row) {
  const open = row.closed_at === null;
  const since = formatDuration((serverNow() - Date.parse(row.since)) / 1000);
  return h("tr", { class: ["incident-row", open && "problem"], dataset: { incidentId: String(row.id) } },
    h("td", {}, t(`incident.trouble_${row.trouble}`)),
    h("td", {}, where(row)),
    h("td", { class: "num terminals" }, String(row.terminals)),
    h("td", { class: "num" }, `${row.back} / ${row.still_down}`),
    h("td", { class: "nowrap", title: formatTime(row.since) },
      open ? t("incident.since", { age: since }) : formatTime(row.since)),
    h("td", {}, open ? t("incident.open") : row.close_reason));
}

// The card, or nothing when there has been no incident (or only closed ones, if `openOnly`).
export function incidentsCard(rows, { openOnly = false } = {}) {
  const shown = openOnly ? rows.filter((r) => r.closed_at === null) : rows;
  if (!shown.length) return null;
  const head = ["incident.what", "incident.where", "incident.terminals", "incident.back_down",
    "incident.since_col", "incident.state"].map((k) => h("th", {}, t(k)));
  return h("section", { class: "card incidents", id: "incidents" },
    h("h2", {}, t("incident.title"), h("span", { class: "count" }, String(shown.length))),
    h("p", { class: "muted" }, t("incident.note")),
    h("table", { class: "grid compact" }, h("thead", {}, h("tr", {}, head)),
      h("tbody", {}, shown.map(line))));
}
