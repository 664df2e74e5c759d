// The forms of the actions card: send to a merchant, offer to volunteers, resolve with an
// outcome, reclassify, and the callback's answers. Each is drawn from a read `s`
// of the case and submits through the page's `act(path, body, done)`.

import { h } from "../dom.js";
import { t } from "../i18n.js";
import { outcomeSelect } from "../outcomes.js";
import { KINDS, LINES, OPEN_ORDER, STRATEGIES } from "../states.js";

// An order still with its merchant: no second one is sent meanwhile.
export const orderRunning = (order) => OPEN_ORDER.has(order.status);

const optional = (value, parse) => (value === "" ? undefined : parse(value));

function scoreSelect(id) {
  return h("select", { id },
    h("option", { value: "" }, "—"),
    [5, 4, 3, 2, 1].map((n) => h("option", { value: String(n) }, t(`score.${n}`))));
}

function yesNoSelect(id) {
  return h("select", { id }, h("option", { value: "" }, "—"),
    h("option", { value: "true" }, t("common.yes")), h("option", { value: "false" }, t("common.no")));
}

/** A service case to a merchant by category and strategy; a note while an order runs. */
export function dispatchForm({ orders, categories }, { act }) {
  const running = orders.find(orderRunning);
  if (running) {
    return h("p", { class: "muted", id: "dispatch-running" },
      t("dispatch.running", { id: running.id, merchant: running.merchant_name ?? "—" }));
  }
  const category = h("input", { id: "dispatch-category", list: "merchant-categories", required: true,
    maxlength: 64, placeholder: t("dispatch.category_hint"), autocomplete: "off" });
  const strategy = h("select", { id: "dispatch-strategy" },
    STRATEGIES.map((k) => h("option", { value: k }, t(`strategy.${k}`))));
  const note = h("input", { id: "dispatch-note", maxlength: 1000, placeholder: t("dispatch.note") });
  const placed = (order) => (order.merchant_name
    ? t("done.dispatch", { id: order.id, merchant: order.merchant_name })
    : t("done.dispatch_unassigned", { category: order.category }));
  return h("form", { class: "inline", id: "dispatch-form", onsubmit: (e) => {
    e.preventDefault();
    act("orders", { category: category.value.trim(), strategy: strategy.value, note: note.value }, placed);
  } }, h("label", { for: "dispatch-category" }, t("dispatch.category")), category,
  h("datalist", { id: "merchant-categories" }, categories.map((c) => h("option", { value: c }))),
  strategy, note,
  h("button", { type: "submit", id: "act-dispatch", class: "primary" }, t("action.dispatch")));
}

/** A care case nobody owns, offered to volunteers; a note while offers wait for answers. */
export function offerForm({ offers }, { act }) {
  const waiting = offers.filter((o) => o.status === "offered");
  if (waiting.length) {
    return h("p", { class: "muted", id: "offer-running" }, t("offer.running", { n: waiting.length }));
  }
  const need = h("input", { id: "offer-need", maxlength: 500, placeholder: t("offer.need_hint") });
  const skill = h("input", { id: "offer-skill", maxlength: 64, placeholder: t("offer.skill") });
  const medical = h("input", { type: "checkbox", id: "offer-medical" });
  return h("form", { class: "inline", id: "offer-form", onsubmit: (e) => {
    e.preventDefault();
    const body = { need: need.value.trim(), needs_medical: medical.checked };
    if (skill.value.trim()) body.skill = skill.value.trim();
    act("offers", body, "done.offer");
  } }, h("label", { for: "offer-need" }, t("offer.label")), need, skill,
  h("label", { for: "offer-medical", class: "check" }, medical, t("offer.medical")),
  h("button", { type: "submit", id: "act-offer", class: "primary" }, t("action.offer")));
}

/** Resolve with an outcome and a note. */
export function resolveForm({ outcomes }, { act, toast }) {
  const note = h("input", { id: "resolve-note", maxlength: 1000, placeholder: t("action.note") });
  // The outcome is required here: the centre's figures count cases by it.
  const outcome = outcomeSelect(outcomes);
  return h("form", { class: "inline", id: "resolve-form", novalidate: true, onsubmit: (e) => {
    e.preventDefault();
    if (!outcome.value) {
      outcome.setAttribute("aria-invalid", "true");
      outcome.focus();
      toast(t("outcome.required"), "error");
      return;
    }
    act("resolve", { note: note.value, outcome: outcome.value }, "done.resolve");
  } }, h("label", { for: "resolve-outcome" }, t("action.resolve_label")), outcome, note,
  h("button", { type: "submit", id: "act-resolve" }, t("action.resolve")));
}

/** Another kind, or the line the call-back found, and why. */
export function reclassifyForm({ detail }, { act }) {
  const kind = h("select", { id: "reclass-kind" }, KINDS.filter((k) => k !== detail.kind)
    .map((k) => h("option", { value: k }, t(`kind.${k}`))),
  h("option", { value: "" }, t("action.same_kind")));
  // The line the call-back found (a single press that is legal help); the server picks
  // the kind that goes with it when the kind is left as it is.
  const line = h("select", { id: "reclass-line" }, h("option", { value: "" }, t("line.same")),
    LINES.filter((l) => l !== detail.line).map((l) => h("option", { value: l }, t(`line.${l}`))));
  const note = h("input", { id: "reclass-note", maxlength: 900, placeholder: t("action.why") });
  return h("form", { class: "inline", onsubmit: (e) => {
    e.preventDefault();
    const body = { note: note.value };
    if (kind.value) body.kind = kind.value;
    if (line.value) body.line = line.value;
    act("reclassify", body, "done.reclassify");
  } }, h("label", { for: "reclass-kind" }, t("action.reclassify_label")), kind,
  h("label", { for: "reclass-line" }, t("col.line")), line, note,
  h("button", { type: "submit", id: "act-reclassify" }, t("action.reclassify")));
}

/** The callback's answers: reached or not, the scores, a comment. */
export function callbackForm(_s, { act, caseId }) {
  const reached = h("input", { type: "checkbox", id: "cb-reached", checked: true });
  const satisfaction = scoreSelect("cb-satisfaction");
  const quality = scoreSelect("cb-quality");
  const timeOk = yesNoSelect("cb-time");
  const priceOk = yesNoSelect("cb-price");
  const comment = h("input", { id: "cb-comment", maxlength: 900, placeholder: t("callback.comment") });
  const submit = (e) => {
    e.preventDefault();
    act("callback", {
      reached: reached.checked,
      satisfaction: optional(satisfaction.value, Number),
      quality: optional(quality.value, Number),
      time_ok: optional(timeOk.value, (v) => v === "true"),
      price_ok: optional(priceOk.value, (v) => v === "true"),
      comment: comment.value,
    }, (after) => (after.state === "closed"
      ? t("done.callback", { id: caseId })
      : t("done.callback_again", { id: caseId })));
  };
  const labelled = (id, key, control) => h("label", { for: id }, t(key), control);
  return h("form", { class: "callback", id: "callback-form", onsubmit: submit },
    h("h3", {}, t("callback.title")),
    h("div", { class: "fields" },
      labelled("cb-reached", "callback.reached", reached),
      labelled("cb-satisfaction", "callback.satisfaction", satisfaction),
      labelled("cb-quality", "callback.quality", quality),
      labelled("cb-time", "callback.time_ok", timeOk),
      labelled("cb-price", "callback.price_ok", priceOk)),
    comment, h("button", { type: "submit", id: "act-callback", class: "primary" }, t("callback.save")));
}
