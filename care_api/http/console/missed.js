// Missed calls on the board: who called, when the 5-minute callback is due, and "Called back".

import { api, serverNow } from "./api.js";
import { h } from "./dom.js";
import { formatTime, t } from "./i18n.js";

/** The board's card of missed calls waiting for their callback (null when there are none). */
export function missedCard(calls, { toast, reload }) {
  if (!calls.length) return null;

  async function calledBack(call, button) {
    button.disabled = true;
    try {
      await api(`/hotline/calls/${call.id}/called-back`, { method: "POST", body: { note: "" } });
      toast(t("missed.done", { phone: call.phone }));
      reload();
    } catch (err) {
      button.disabled = false;
      toast(t("error.load", { detail: err.message }), "error");
    }
  }

  const rows = calls.map((call) => {
    const late = call.overdue || Date.parse(call.callback_due_at) < serverNow();
    const button = h("button", { type: "button", class: "small", dataset: { callId: call.id } },
      t("missed.called_back"));
    button.addEventListener("click", () => calledBack(call, button));
    return h("tr", { class: ["missed-call", late && "urgent"], dataset: { callId: call.id } },
      h("td", { class: "mono" }, call.phone),
      h("td", {}, t(`missed.caller.${call.caller}`)),
      h("td", { class: "mono" }, call.case_id ?? "—"),
      h("td", { class: "mono" }, formatTime(call.missed_at)),
      h("td", { class: ["mono", late && "flag"] }, formatTime(call.callback_due_at)),
      h("td", {}, button));
  });
  const head = ["missed.phone", "missed.caller", "col.case", "missed.at", "missed.due", ""]
    .map((key) => h("th", {}, key ? t(key) : ""));
  return h("section", { class: "card", id: "board-missed" },
    h("h2", {}, t("missed.title"), h("span", { class: "count" }, String(calls.length))),
    h("table", { class: "grid" }, h("thead", {}, h("tr", {}, head)), h("tbody", {}, rows)));
}
