// The centre's figures: cases per day by kind, completion and satisfaction, time to acknowledge.

import { api } from "./api.js";
import { answerTimesCard } from "./answer_times.js";
import { hBars, legend, stackedBars } from "./charts.js";
import { fill, h } from "./dom.js";
import { formatDate, formatDuration, formatPercent, label, t } from "./i18n.js";
import { KINDS, STATES } from "./states.js";
import { outcomeCodes } from "./outcomes.js";

// The figures the centre is judged by (DESIGN.md): 98 % completion and satisfaction.
const TARGET_RATE = 0.98;
const PERIODS = [1, 7, 30];
const RELOAD_DEBOUNCE_MS = 300;

export function mount(root, { toast }) {
  let days = 7;
  // Every visit starts on the real figures: drill figures are only ever shown when asked for.
  let drill = false;
  let reloadTimer = null;
  let latest = 0;

  async function load() {
    // Only the last request draws, so a slow real answer never lands under the drill switch.
    const ask = { days, drill, n: ++latest };
    try {
      const [k, codes] = await Promise.all([
        api(`/reports/kpi?days=${ask.days}${ask.drill ? "&drill=true" : ""}`), outcomeCodes()]);
      if (ask.n === latest) draw(k, ask.drill, codes);
    } catch (err) {
      if (err.status !== 401) toast(t("error.load", { detail: err.message }), "error");
    }
  }

  const tile = (id, label, value, cls) => h("div", { class: ["stat", cls], id },
    h("span", { class: "value" }, value), h("span", { class: "label" }, label));
  const rateClass = (rate) => (rate === null ? "" : rate >= TARGET_RATE ? "ok" : "alert");

  /** "Real cases / Drills": which cases the figures count (drills are never mixed in). */
  function modeSwitch(shownDrill) {
    const button = (value, key) => h("button", {
      type: "button", class: ["ghost", value === shownDrill && "active"], "aria-pressed": String(value === shownDrill),
      dataset: { mode: value ? "drill" : "real" },
      onclick: () => { if (drill !== value) { drill = value; load(); } },
    }, t(key));
    return h("span", { class: "mode-switch", role: "group", "aria-label": t("kpi.mode") },
      button(false, "kpi.mode_real"), button(true, "kpi.mode_drill"));
  }

  /** Cases by the outcome they were resolved with: the admin's codes first, in their order. */
  function outcomeBars(k, codes) {
    const counts = k.by_outcome ?? {};
    const known = codes.map((c) => c.code);
    const rows = [...known, ...Object.keys(counts).filter((c) => !known.includes(c))]
      .map((code) => {
        const found = codes.find((c) => c.code === code);
        const n = counts[code] || 0;
        return { label: found ? label(found.labels) : code, value: n, text: String(n), cls: `oc-${code}` };
      });
    return h("section", { class: "card", id: "kpi-outcomes" }, h("h2", {}, t("kpi.outcomes")),
      rows.length ? hBars(rows) : h("p", { class: "empty" }, t("kpi.no_outcomes")));
  }

  function draw(k, shownDrill, codes = []) {
    const kindLabel = (kind) => t(`kind.${kind}`);
    const periodButtons = PERIODS.map((n) => h("button", {
      type: "button", class: ["ghost", n === days && "active"], dataset: { days: String(n) },
      onclick: () => { days = n; load(); },
    }, t("kpi.days", { n })));
    const rates = [
      { label: t("kpi.completion"), value: k.completion_rate, text: formatPercent(k.completion_rate), cls: "rate" },
      { label: t("kpi.satisfaction"), value: k.satisfaction_rate, text: formatPercent(k.satisfaction_rate), cls: "rate" },
      { label: t("kpi.callback"), value: k.callback_rate, text: formatPercent(k.callback_rate), cls: "rate" },
    ];
    const ackMax = Math.max(60, k.ack_p90_s || 0);
    const acks = [
      { label: t("kpi.median"), value: k.ack_p50_s, text: formatDuration(k.ack_p50_s), cls: "speed" },
      { label: t("kpi.p90"), value: k.ack_p90_s, text: formatDuration(k.ack_p90_s), cls: "speed" },
    ];
    const states = STATES.map((st) => ({ label: t(`state.${st}`), value: k.by_state[st] || 0,
      text: String(k.by_state[st] || 0), cls: `s-${st}` }));
    const mode = shownDrill ? "drill" : "real";
    fill(root, h("div", { class: ["kpi", shownDrill && "drill"], dataset: { total: String(k.total), mode } },
      h("div", { class: "toolbar" }, h("h2", {}, t("nav.kpi")), modeSwitch(shownDrill), periodButtons,
        h("span", { class: "muted" }, t("kpi.period", { since: formatDate(k.since), until: formatDate(k.until, true) }))),
      shownDrill ? h("div", { class: "drill-banner", id: "kpi-drill-banner", role: "status" },
        h("strong", {}, t("kpi.drill_banner")), " ", t("kpi.drill_banner_detail")) : null,
      h("div", { class: "stats" },
        tile("kpi-total", t("kpi.total"), String(k.total)),
        tile("kpi-completion", t("kpi.completion"), formatPercent(k.completion_rate), rateClass(k.completion_rate)),
        tile("kpi-satisfaction", t("kpi.satisfaction"), formatPercent(k.satisfaction_rate), rateClass(k.satisfaction_rate)),
        tile("kpi-callbacks", t("kpi.callbacks"), String(k.callbacks)),
        tile("kpi-ack-p50", t("kpi.ack_p50"), formatDuration(k.ack_p50_s)),
        tile("kpi-ack-p90", t("kpi.ack_p90"), formatDuration(k.ack_p90_s))),
      h("div", { class: "charts" },
        h("section", { class: "card wide" }, h("h2", {}, t("kpi.per_day")), legend(KINDS, kindLabel),
          stackedBars(k.per_day, KINDS, kindLabel)),
        h("section", { class: "card" }, h("h2", {}, t("kpi.rates"),
          h("span", { class: "muted small" }, ` ${t("kpi.target", { rate: formatPercent(TARGET_RATE) })}`)),
        hBars(rates, { max: 1, target: TARGET_RATE })),
        h("section", { class: "card" }, h("h2", {}, t("kpi.ack_time"),
          h("span", { class: "muted small" }, ` ${t("kpi.ack_count", { n: k.ack_count })}`)),
        hBars(acks, { max: ackMax })),
        h("section", { class: "card" }, h("h2", {}, t("kpi.by_state")), hBars(states)),
        outcomeBars(k, codes),
        answerTimesCard(k.answer_times))));
  }

  fill(root, h("p", { class: "empty" }, t("common.loading")));
  load();
  const reloadSoon = () => {
    clearTimeout(reloadTimer);
    reloadTimer = setTimeout(load, RELOAD_DEBOUNCE_MS);
  };
  return { onCase: reloadSoon, onSync: reloadSoon, unmount: () => clearTimeout(reloadTimer) };
}
