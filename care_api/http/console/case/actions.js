// What the operator can do with the case now: confirm a late check-in, acknowledge, call,
// on site; the latest calls; and the forms (send, offer, resolve, reclassify, callback).

import { h, refill } from "../dom.js";
import { formatTime, t } from "../i18n.js";
import { ACTIVE, AWAITING_CALLBACK, UNOWNED } from "../states.js";
import { callbackForm, dispatchForm, offerForm, reclassifyForm, resolveForm } from "./action_forms.js";

/**
 * The actions card; `ctx` is { caseId, act, toast }. `update(s)` redraws it from a read of
 * the case, and what the operator is typing in its forms survives the redraw.
 */
export function actionsCard(ctx) {
  const { act } = ctx;
  const node = h("section", { class: "card", id: "actions-card" });
  return {
    node,
    update(s) {
      const { detail, elder, calls } = s;
      const state = detail.state;
      const parts = [];
      // A late "I'm OK" after a missed check-in: nobody closes it but an operator.
      const late = UNOWNED.has(state) ? detail.events.findLast((ev) => ev.action === "checked_in_late") : null;
      if (late) {
        parts.push(h("button", { type: "button", id: "act-confirm-checkin", class: "primary",
          onclick: () => act("resolve", { note: t("checkin.late_note", { at: formatTime(late.at) }) }, "done.resolve") },
        t("action.confirm_checkin")));
      }
      if (UNOWNED.has(state)) {
        parts.push(h("button", { type: "button", id: "act-ack", class: "primary",
          onclick: () => act("ack", {}, "done.ack") }, t("action.ack")));
      }
      if (elder) parts.push(calls.link("elder", elder.phone, t("action.call_elder"), { class: "button", id: "act-call" }));
      if (state === "accepted") {
        parts.push(h("button", { type: "button", id: "act-onsite",
          onclick: () => act("on-site", undefined, "done.on_site") }, t("action.on_site")));
      }
      const forms = [];
      // A service case goes to a merchant, a care case nobody owns to volunteers.
      if (detail.kind === "service" && ACTIVE.has(state)) forms.push(dispatchForm(s, ctx));
      if (detail.kind === "care" && UNOWNED.has(state)) forms.push(offerForm(s, ctx));
      if (ACTIVE.has(state)) forms.push(resolveForm(s, ctx));
      if (state !== "closed") forms.push(reclassifyForm(s, ctx));
      if (AWAITING_CALLBACK.has(state)) forms.push(callbackForm(s, ctx));
      const lateNotice = late ? h("p", { class: "late-checkin", id: "late-checkin", role: "status" },
        t("checkin.late_notice", { at: formatTime(late.at) })) : null;
      return refill(node, h("h2", {}, t("case.actions")),
        lateNotice, h("div", { class: "actions" }, parts), calls.list(), forms,
        state === "closed" ? h("p", { class: "muted" }, t("case.closed_note")) : null);
    },
  };
}
