// Answer-time figures of emergencies: answered within 60 s / 180 s against the
// industry's targets, time to "on site", and the same per district and per shift.

import { hBars } from "./charts.js";
import { h } from "./dom.js";
import { formatDuration, formatPercent, t } from "./i18n.js";

const rateClass = (rate, target) => (rate === null ? "" : rate >= target ? "ok" : "alert");

function row(name, f, a) {
  return h("tr", {},
    h("th", { scope: "row" }, name),
    h("td", {}, String(f.emergencies)),
    h("td", { class: rateClass(f.within_60s, a.target_60s) }, formatPercent(f.within_60s)),
    h("td", { class: rateClass(f.within_180s, a.target_180s) }, formatPercent(f.within_180s)),
    h("td", {}, formatDuration(f.on_site_p50_s)),
    h("td", {}, formatDuration(f.on_site_p90_s)));
}

/** The KPI page's answer-time cards, or nothing when the report has no such figures. */
export function answerTimesCard(a) {
  if (!a) return null;
  const bars = [
    { label: t("answers.within_60"), value: a.within_60s, text: formatPercent(a.within_60s), cls: "rate" },
    { label: t("answers.within_180"), value: a.within_180s, text: formatPercent(a.within_180s), cls: "rate" },
  ];
  const head = h("tr", {}, ...["answers.group", "answers.emergencies", "answers.within_60",
    "answers.within_180", "answers.on_site_p50", "answers.on_site_p90"].map((k) => h("th", { scope: "col" }, t(k))));
  const districts = Object.entries(a.by_district).map(([d, f]) => row(d || t("answers.no_district"), f, a));
  const shifts = Object.entries(a.by_shift).map(([s, f]) =>
    row(t(`answers.shift_${s}`, { from: String(a.shifts[s]).padStart(2, "0") }), f, a));
  const targets = t("answers.targets", {
    t60: formatPercent(a.target_60s), t180: formatPercent(a.target_180s), n: a.emergencies });
  return [
    h("section", { class: "card", id: "kpi-answer-rates" },
      h("h2", {}, t("answers.title"), h("span", { class: "muted small" }, ` ${targets}`)),
      hBars(bars, { max: 1, target: a.target_60s })),
    h("section", { class: "card wide", id: "kpi-answer-times" }, h("h2", {}, t("answers.table")),
      h("table", { class: "grid compact answer-times" }, h("thead", {}, head),
        h("tbody", {}, row(t("answers.all"), a, a), ...districts, ...shifts))),
  ];
}
