// The live board: open cases, newest emergency first, redrawn whenever the stream says so.

import { api, noteServerTime, serverNow } from "./api.js";
import { fill, h, refill, telLink } from "./dom.js";
import { formatDuration, formatTime, t } from "./i18n.js";
import { dutyLine, loadDuty } from "./duty.js";
import { ACTIVE, UNOWNED, kindBadge, lineBadge, stateBadge } from "./states.js";
import { caseBadges } from "./codes.js";
import { missedCard } from "./missed.js";
import { leftText, tickCountdowns } from "./countdown.js";
import { handoverCard } from "./handover.js";
import { ownerText } from "./people.js";
import { INCIDENT_REFRESH_MS, incidentsCard, loadIncidents } from "./incidents.js";

// Several events arrive together for one change (state + press); one reload serves them all.
const RELOAD_DEBOUNCE_MS = 60;
// How long a case that just turned up stays highlighted.
const FRESH_MS = 15000;
// Missed calls come with no case event to push them: the board also looks every so often.
const POLL_MS = 10000;

const age = (iso) => formatDuration((serverNow() - Date.parse(iso)) / 1000);

export function mount(root, { navigate, toast }) {
  let rows = [];
  let missed = []; // calls nobody answered, waiting for their 5-minute callback
  let duty = null; // who is on duty, from the rota
  let handover = []; // the last day's notes from shift to shift
  let incidents = []; // area incidents: a storm is one line here, not a case per terminal
  let dueCallbacks = []; // callbacks the machine could not make: the operators' list
  let loaded = false;
  let reloadTimer = null;
  const seen = new Set();
  const fresh = new Map(); // case id → when it first appeared on this board

  async function load() {
    try {
      const [data, onDuty, notes, storms, due] = await Promise.all([api("/console/board"),
        loadDuty(), api("/handover").catch(() => handover), loadIncidents(),
        api("/callbacks/due?limit=200").catch(() => [])]);
      duty = onDuty;
      handover = notes;
      incidents = storms;
      dueCallbacks = due;
      noteServerTime(data.now);
      for (const row of data.cases) {
        if (loaded && !seen.has(row.id)) fresh.set(row.id, Date.now());
        seen.add(row.id);
      }
      rows = data.cases;
      missed = data.missed_calls ?? [];
      loaded = true;
      draw();
    } catch (err) {
      if (err.status !== 401) toast(t("error.load", { detail: err.message }), "error");
    }
  }

  function reloadSoon() {
    clearTimeout(reloadTimer);
    reloadTimer = setTimeout(load, RELOAD_DEBOUNCE_MS);
  }

  function open(row) {
    navigate(`#/case/${encodeURIComponent(row.id)}`);
  }

  function rowFor(row) {
    const isFresh = Date.now() - (fresh.get(row.id) ?? 0) < FRESH_MS;
    const emergency = row.kind === "emergency";
    return h("tr", {
      class: ["case-row", emergency && "emergency", emergency && UNOWNED.has(row.state) && "urgent",
        isFresh && "fresh"],
      dataset: { caseId: row.id, kind: row.kind, state: row.state },
      tabindex: 0,
      onclick: () => open(row),
      onkeydown: (event) => { if (event.key === "Enter") open(row); },
    },
    h("td", { class: "mono" }, row.id),
    h("td", {}, kindBadge(row.kind), caseBadges(row)),
    h("td", { class: "line" }, lineBadge(row.line)),
    h("td", { class: "elder" }, row.elder_name),
    h("td", { class: "summary" }, row.summary,
      UNOWNED.has(row.state) ? row.flags.map((f) => h("span", { class: "flag" }, f)) : null),
    h("td", { class: "age mono", dataset: { opened: row.opened_at }, title: formatTime(row.opened_at) },
      age(row.opened_at)),
    h("td", {}, stateBadge(row.state)),
    h("td", { class: "num step" },
      row.level ? t("board.step", { n: row.level }) : row.next_escalation_at ? null : "—",
      row.next_escalation_at ? h("div", { class: "mono small countdown-left", title: t("countdown.board"),
        dataset: { due: row.next_escalation_at } }, leftText(row.next_escalation_at)) : null),
    h("td", { class: row.owner ? "owner" : "owner none" }, ownerText(row) ?? t("board.unowned")));
  }

  function table(list, title, empty, id) {
    const head = ["col.case", "col.kind", "col.line", "col.elder", "col.summary", "col.age", "col.state",
      "col.step", "col.owner"].map((key) => h("th", {}, t(key)));
    return h("section", { class: "card", id },
      h("h2", {}, title, h("span", { class: "count" }, String(list.length))),
      list.length
        ? h("table", { class: "grid cases" }, h("thead", {}, h("tr", {}, head)),
          h("tbody", {}, list.map(rowFor)))
        : h("p", { class: "empty" }, empty));
  }

  function dueCard() {
    if (!dueCallbacks.length) return null;
    const overdue = (d) => d.due_at && Date.parse(d.due_at) <= serverNow();
    return h("section", { class: "card", id: "board-callbacks" },
      h("h2", {}, t("board.callbacks_due"), h("span", { class: "count" }, String(dueCallbacks.length))),
      h("table", { class: "grid cases" },
        h("thead", {}, h("tr", {}, ["col.case", "col.elder", "col.to", "col.due", "col.why"]
          .map((key) => h("th", {}, t(key))))),
        h("tbody", {}, dueCallbacks.map((d) => h("tr", {
          class: ["case-row", overdue(d) && "urgent"], dataset: { caseId: d.case_id }, tabindex: 0,
          onclick: (event) => { if (event.target.tagName !== "A") open({ id: d.case_id }); },
        },
        h("td", { class: "mono" }, d.case_id), h("td", {}, d.elder_name),
        h("td", {}, telLink(d.phone, d.phone, { class: "tel" })),
        h("td", { class: "mono nowrap" }, formatTime(d.due_at)),
        h("td", {}, d.reason))))));
  }

  function stat(label, value, cls) {
    return h("div", { class: ["stat", cls] }, h("span", { class: "value" }, String(value)),
      h("span", { class: "label" }, label));
  }

  function draw() {
    const active = rows.filter((r) => ACTIVE.has(r.state));
    const waiting = rows.filter((r) => !ACTIVE.has(r.state));
    const emergencies = active.filter((r) => r.kind === "emergency");
    const unowned = active.filter((r) => UNOWNED.has(r.state));
    refill(root, h("div", { class: "board" },
      dutyLine(duty),
      h("div", { class: "stats" },
        stat(t("board.emergencies"), emergencies.length, emergencies.length ? "alert" : ""),
        stat(t("board.unowned_count"), unowned.length, unowned.length ? "warn" : ""),
        stat(t("board.active"), active.length),
        stat(t("board.awaiting_count"), waiting.length),
        stat(t("missed.count"), missed.length, missed.length ? "warn" : "")),
      missedCard(missed, { toast, reload: reloadSoon }),
      incidentsCard(incidents, { openOnly: true }),
      table(active, t("board.open"), t("board.none_open"), "board-open"),
      table(waiting, t("board.awaiting"), t("board.none_awaiting"), "board-awaiting"),
      handoverCard(handover, load, toast), dueCard()));
  }

  function tick() {
    for (const cell of root.querySelectorAll("td.age")) cell.textContent = age(cell.dataset.opened);
    tickCountdowns(root);
    for (const row of root.querySelectorAll("tr.fresh")) {
      if (Date.now() - (fresh.get(row.dataset.caseId) ?? 0) >= FRESH_MS) row.classList.remove("fresh");
    }
  }

  fill(root, h("p", { class: "empty" }, t("common.loading")));
  const ticker = setInterval(tick, 1000);
  const poller = setInterval(load, POLL_MS);
  const stormTimer = setInterval(async () => {
    const storms = await loadIncidents();
    if (JSON.stringify(storms) !== JSON.stringify(incidents)) {
      incidents = storms;
      if (loaded) draw();
    }
  }, INCIDENT_REFRESH_MS);
  load();
  return {
    onCase: reloadSoon,
    onSync: reloadSoon,
    unmount() {
      clearInterval(ticker);
      clearInterval(poller);
      clearInterval(stormTimer);
      clearTimeout(reloadTimer);
    },
  };
}
