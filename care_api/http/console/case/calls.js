// Calls from the case page: "Call" beside a person places a bridged call through the service
// (the operator's phone rings, then theirs), and the case's latest calls with their state.

import { api } from "../api.js";
import { h, telLink } from "../dom.js";
import { formatDuration, t, tOr } from "../i18n.js";
import { CALL_OVER } from "../states.js";

const enc = encodeURIComponent;
// The phone an operator gave for calls, kept in this browser (the rota's is used without it).
const OPERATOR_PHONE_KEY = "vnh.operator_phone";
const CALLS_SHOWN = 5;

/** True while one of the case's calls is still under way (it changes without a case event). */
export const callUnderWay = (calling) => calling.calls.some((call) => !CALL_OVER.has(call.state));

/**
 * The page's caller for case `caseId`: a function that, given what GET /cases/{id}/calls
 * said, gives the cards their call links, buttons and list of calls. After a call is placed
 * (or refused) `reload()` reads the case again.
 */
export function caller(caseId, toast, reload) {
  async function placeCall(party, askPhone = false) {
    let phone = localStorage.getItem(OPERATOR_PHONE_KEY) || undefined;
    if (askPhone) {
      phone = window.prompt(t("call.your_phone"), phone ?? "") || undefined;
      if (!phone) return;
      localStorage.setItem(OPERATOR_PHONE_KEY, phone);
    }
    try {
      await api(`/cases/${enc(caseId)}/calls`, { method: "POST", body: { to: party, operator_phone: phone } });
      toast(t("call.placed"));
    } catch (err) {
      // No phone of the operator's on the rota or given yet: ask for one, once.
      if (err.status === 422 && !askPhone && String(err.message).includes("operator_phone")) {
        await placeCall(party, true);
        return;
      }
      toast(t("error.action", { detail: err.message }), "error");
    }
    await reload();
  }

  return (calling) => ({
    canCall: calling.can_call,
    // "Call": a bridged call where the service has a Twilio account, else a tel: link.
    link(party, phone, label, attrs = {}) {
      if (!calling.can_call) return telLink(phone, label, attrs);
      return h("button", { type: "button", ...attrs, dataset: { party },
        onclick: () => placeCall(party) }, label === phone ? `📞 ${label}` : label);
    },
    /** A small "Call" button beside a volunteer or a merchant. */
    button(party) {
      return h("button", { type: "button", class: "small", dataset: { party }, onclick: () => placeCall(party) },
        t("call.call"));
    },
    /** The case's latest calls and their state, or null when there were none. */
    list() {
      if (!calling.calls.length) return null;
      return h("ul", { class: "calls", id: "case-calls" }, calling.calls.slice(0, CALLS_SHOWN).map((call) =>
        h("li", { dataset: { callId: String(call.id), state: call.state } },
          h("span", {}, call.party_name || call.party), " ",
          h("span", { class: `badge delivery c-${call.state}` }, tOr(`call.${call.state}`, call.state)),
          call.duration_s !== null ? ` ${formatDuration(call.duration_s)}` : "",
          call.detail ? h("div", { class: "muted small" }, call.detail) : null)));
    },
  });
}
