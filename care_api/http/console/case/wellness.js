// Wellness of the case's elder: daily "I'm OK" check-in windows and the
// no-activity watch, shown in the case view; staff add a window or start/stop the watch.

import { api } from "../api.js";
import { h, refill } from "../dom.js";
import { formatTime, t } from "../i18n.js";

const enc = encodeURIComponent;

/**
 * A card that loads and draws itself; `toast` reports what the operator did. `reload()`
 * reads it again (on case news): a window being typed in the form survives it.
 */
export function wellnessCard(elderId, toast) {
  const card = h("section", { class: "card", id: "wellness-card" }, h("h2", {}, t("wellness.title")));
  const base = `/elders/${enc(elderId)}`;

  async function run(path, options, doneKey) {
    try {
      await api(`${base}${path}`, options);
      toast(t(doneKey));
      // What was sent is done with: the redraw keeps typed values, so let go of them here.
      for (const form of card.querySelectorAll("form")) form.reset();
    } catch (err) {
      toast(t("error.action", { detail: err.message }), "error");
    }
    load();
  }

  function windowsPart(checkins) {
    const rows = checkins.windows.map((w) => h("tr", { dataset: { windowId: String(w.id) } },
      h("td", { class: "mono" }, `${w.start}–${w.end}`),
      h("td", {}, h("span", { class: ["badge", `checkin-${w.today}`] }, t(`wellness.today_${w.today}`))),
      h("td", { class: "muted" }, t("wellness.next", { at: formatTime(w.next_check_at) })),
      h("td", {}, h("button", { type: "button", class: "ghost small",
        onclick: () => run(`/checkins/${w.id}`, { method: "DELETE" }, "wellness.removed") }, "×"))));
    const start = h("input", { type: "time", id: "checkin-start", value: "08:00", required: true });
    const end = h("input", { type: "time", id: "checkin-end", value: "10:00", required: true });
    const form = h("form", { class: "inline", id: "checkin-form", onsubmit: (ev) => {
      ev.preventDefault();
      run("/checkins", { method: "POST", body: { start: start.value, end: end.value } }, "wellness.added");
    } }, start, "–", end, h("button", { type: "submit" }, t("wellness.add")));
    const away = checkins.away.length
      ? h("p", { class: "muted small" }, t("wellness.away", { days: checkins.away.join(", ") }))
      : null;
    return [h("h3", {}, t("wellness.checkins")),
      rows.length ? h("table", { class: "grid compact", id: "checkin-table" }, h("tbody", {}, rows))
        : h("p", { class: "empty" }, t("wellness.no_windows")),
      away, form];
  }

  function quietPart(watch) {
    const on = watch && watch.active;
    const facts = on
      ? h("p", { id: "quiet-state" }, t("wellness.quiet_on", { hours: watch.quiet_hours,
        last: formatTime(watch.last_activity_at) }),
      watch.prompted_at ? h("strong", { class: "alert" }, ` ${t("wellness.prompted", { at: formatTime(watch.prompted_at) })}`) : null)
      : h("p", { class: "empty", id: "quiet-state" }, t("wellness.quiet_off"));
    const button = on
      ? h("button", { type: "button", class: "ghost", id: "quiet-stop",
        onclick: () => run("/quiet-watch", { method: "DELETE" }, "wellness.quiet_stopped") }, t("wellness.stop"))
      : h("button", { type: "button", id: "quiet-start",
        onclick: () => run("/quiet-watch", { method: "PUT", body: {} }, "wellness.quiet_started") }, t("wellness.start"));
    return [h("h3", {}, t("wellness.quiet")), facts, button];
  }

  let latest = 0;

  async function load() {
    // Only the last read draws: an older answer arriving late would undo a newer one.
    const n = ++latest;
    const [c, q] = await Promise.allSettled([api(`${base}/checkins`), api(`${base}/quiet-watch`)]);
    if (n !== latest) return;
    if (c.status !== "fulfilled") {
      refill(card, h("h2", {}, t("wellness.title")), h("p", { class: "empty" }, t("case.elder_unavailable")));
      return;
    }
    refill(card, h("h2", {}, t("wellness.title")), windowsPart(c.value),
      quietPart(q.status === "fulfilled" ? q.value : null));
  }

  load();
  return { node: card, reload: load };
}
