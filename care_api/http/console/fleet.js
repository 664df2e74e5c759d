// The fleet of terminals: online or not, battery, last seen; problems listed first.

import { api, authHeaders, serverNow } from "./api.js";
import { fill, h } from "./dom.js";
import { formatDuration, formatTime, t } from "./i18n.js";
import { INCIDENT_REFRESH_MS, incidentsCard, loadIncidents } from "./incidents.js";

const REFRESH_MS = 30000;
const LOW_BATTERY_PERCENT = 20;

export function mount(root, { toast }) {
  let problemsOnly = false;
  let data = null;
  let hubs = {};
  let incidents = [];

  async function loadHubs() {
    // Serial hubs are the gateway's ports, so their state comes from the service's health.
    try {
      // The ports' details are for staff: without the token /healthz says only up or down.
      const res = await fetch("/healthz", {
        headers: { Accept: "application/json", ...authHeaders() },
      });
      const health = await res.json();
      return (health.gateway && health.gateway.serial) || {};
    } catch {
      return {};
    }
  }

  async function load() {
    try {
      [data, hubs, incidents] = await Promise.all([api(`/devices?problems=${problemsOnly}`),
        loadHubs(), loadIncidents()]);
      draw();
    } catch (err) {
      if (err.status !== 401) toast(t("error.load", { detail: err.message }), "error");
    }
  }

  const tile = (label, value, cls) => h("div", { class: ["stat", value ? cls : ""] },
    h("span", { class: "value" }, String(value)), h("span", { class: "label" }, label));

  function status(online) {
    const key = online === true ? "online" : online === false ? "offline" : "unknown";
    return h("span", { class: `dot ${key}` }, t(`fleet.${key}`));
  }

  function battery(level) {
    if (level === null) return "—";
    return h("span", { class: ["battery", level < LOW_BATTERY_PERCENT && "low"] },
      h("meter", { min: 0, max: 100, low: LOW_BATTERY_PERCENT, high: 50, optimum: 100, value: level }),
      ` ${level} %`);
  }

  function lastSeen(iso) {
    if (!iso) return t("fleet.never");
    return `${formatTime(iso)} (${t("fleet.ago", { age: formatDuration((serverNow() - Date.parse(iso)) / 1000) })})`;
  }

  function hubsCard() {
    const ports = Object.entries(hubs);
    if (!ports.length) return null;
    const head = ["fleet.port", "fleet.status", "fleet.lines", "fleet.last_error"]
      .map((k) => h("th", {}, t(k)));
    return h("section", { class: "card" }, h("h2", {}, t("fleet.hubs")),
      h("table", { class: "grid compact", id: "hub-table" }, h("thead", {}, h("tr", {}, head)),
        h("tbody", {}, ports.map(([port, p]) => h("tr", {
          class: [p.state !== "open" && "problem"], dataset: { port },
        },
        h("td", { class: "mono" }, port),
        h("td", {}, h("span", { class: `dot ${p.state === "open" ? "online" : "offline"}` },
          t(`fleet.port_${p.state}`))),
        h("td", { class: "num" }, `${p.lines_in ?? 0} / ${p.lines_out ?? 0}`),
        h("td", { class: "muted" }, p.last_error ?? "—"))))));
  }

  function draw() {
    const sum = data.summary;
    const toggle = h("input", { type: "checkbox", id: "problems-only", checked: problemsOnly,
      onchange: (e) => { problemsOnly = e.target.checked; load(); } });
    const head = ["fleet.device", "col.elder", "fleet.status", "fleet.battery", "fleet.signal",
      "fleet.fw", "fleet.last_seen"].map((k) => h("th", {}, t(k)));
    fill(root, h("div", { class: "fleet" },
      h("div", { class: "stats" },
        tile(t("fleet.total"), sum.total),
        tile(t("fleet.online"), sum.online, "ok"),
        tile(t("fleet.offline"), sum.offline, "alert"),
        tile(t("fleet.unknown"), sum.unknown, "warn"),
        tile(t("fleet.low_battery"), sum.low_battery, "warn")),
      incidentsCard(incidents),
      h("section", { class: "card" },
        h("div", { class: "toolbar" }, h("h2", {}, t("nav.fleet")),
          h("label", { for: "problems-only" }, toggle, ` ${t("fleet.problems_only")}`),
          h("button", { type: "button", class: "ghost", onclick: load }, t("common.refresh"))),
        data.devices.length
          ? h("table", { class: "grid", id: "fleet-table" }, h("thead", {}, h("tr", {}, head)),
            h("tbody", {}, data.devices.map((d) => h("tr", {
              class: [d.online !== true && "problem", d.battery !== null && d.battery < LOW_BATTERY_PERCENT && "problem"],
              dataset: { deviceId: d.device_id },
            },
            h("td", { class: "mono" }, d.device_id), h("td", {}, d.elder_name ?? "—"),
            h("td", {}, status(d.online)), h("td", {}, battery(d.battery)),
            h("td", { class: "num" }, d.rssi === null ? "—" : `${d.rssi} dBm`),
            h("td", { class: "mono" }, d.fw ?? "—"), h("td", { class: "nowrap" }, lastSeen(d.last_seen_at))))))
          : h("p", { class: "empty" }, t("fleet.none"))),
      hubsCard()));
  }

  fill(root, h("p", { class: "empty" }, t("common.loading")));
  const timer = setInterval(load, REFRESH_MS);
  const stormTimer = setInterval(async () => {
    const storms = await loadIncidents();
    if (data && JSON.stringify(storms) !== JSON.stringify(incidents)) {
      incidents = storms;
      draw();
    }
  }, INCIDENT_REFRESH_MS);
  load();
  return {
    onCase: (news) => { if (news.kind === "device") load(); },
    unmount: () => { clearInterval(timer); clearInterval(stormTimer); },
  };
}
