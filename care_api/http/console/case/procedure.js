// The case's procedure: its steps with a tick box each; a tick goes to the history.

import { api } from "../api.js";
import { h, refill } from "../dom.js";
import { label, t } from "../i18n.js";
import { ACTIVE } from "../states.js";

const enc = encodeURIComponent;

/**
 * The procedure card; `ctx` is { caseId, toast, reload }. `update(s)` redraws it, or gives
 * null on a case without a procedure.
 */
export function procedureCard({ caseId, toast, reload }) {
  const node = h("section", { class: "card", id: "script-card" });
  const tick = async (step) => {
    try {
      await api(`/cases/${enc(caseId)}/script/${enc(step.id)}`, { method: "POST" });
    } catch (err) {
      toast(t("error.action", { detail: err.message }), "error");
    }
    reload();
  };
  return {
    node,
    update({ detail }) {
      const script = detail.script;
      if (!script) return null;
      const active = ACTIVE.has(detail.state);
      const done = script.steps.filter((step) => step.done).length;
      return refill(node,
        h("h2", {}, t("script.title"), h("span", { class: "count" }, `${done}/${script.steps.length}`)),
        h("ol", { class: "script" }, script.steps.map((step) => h("li", {
          class: step.done && "done", dataset: { step: step.id } },
        h("label", {}, h("input", { type: "checkbox", id: `step-${step.id}`, checked: step.done,
          disabled: step.done || !active, onchange: () => tick(step) }), " ", label(step.labels))))));
    },
  };
}

/** A history line's "why" for a tick: the step's words in the operator's language. */
export function tickText(ev, script) {
  const found = /^\[([a-z0-9_]+)\] (.*)$/.exec(ev.why);
  if (!found) return ev.why;
  const step = script?.steps.find((s) => s.id === found[1]);
  return step ? label(step.labels) : found[2];
}
