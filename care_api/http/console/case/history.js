// The case's history: every event with its time, who, what and why, in the reader's words.

import { h, refill } from "../dom.js";
import { formatTime, t, tOr } from "../i18n.js";
import { namePeople, personCell } from "../people.js";
import { tickText } from "./procedure.js";

/** The history card: `update(s)` redraws it from a read of the case. */
export function historyCard() {
  const node = h("section", { class: "card", id: "history-card" });
  return {
    node,
    update({ detail }) {
      const what = (ev) => (ev.action === "transition"
        ? `${t(`state.${ev.from_state}`)} → ${t(`state.${ev.to_state}`)}`
        : tOr(`event.${ev.action}`, ev.action));
      // The server says its lines (a callback's answers too) in the console's language.
      const why = (ev) => (ev.action === "script_step" ? tickText(ev, detail.script)
        : namePeople(ev.why, detail.people));
      return refill(node, h("h2", {}, t("case.history")),
        h("table", { class: "grid compact" },
          h("thead", {}, h("tr", {}, ["col.time", "col.by", "col.what", "col.why"].map((k) => h("th", {}, t(k))))),
          h("tbody", {}, detail.events.map((ev) => h("tr", { class: `ev-${ev.action}` },
            h("td", { class: "mono nowrap" }, formatTime(ev.at)), h("td", { class: "by" }, personCell(ev.who)),
            h("td", {}, what(ev)), h("td", {}, why(ev)))))));
    },
  };
}
