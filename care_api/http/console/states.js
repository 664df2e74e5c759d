// Case states and kinds as the console groups them, and small labelled badges for both.
// The words themselves come from the server (`GET /api/v1/vocabulary`, the domain's own
// enums): filled in place once after sign-in, so every view's imports see them.

import { api } from "./api.js";
import { h } from "./dom.js";
import { t } from "./i18n.js";

export const KINDS = [];
// Every state a case may be in, in the order of its life.
export const STATES = [];
// The centre's service lines; a terminal problem (and an unclassified consult) has none.
export const LINES = [];
export const STRATEGIES = [];
export const UNOWNED = new Set();
export const ACTIVE = new Set();
export const AWAITING_CALLBACK = new Set();
// A bridged call's states that are over; until then the case page follows it.
export const CALL_OVER = new Set();
// An order's statuses while it is still with its merchant: no second one is sent meanwhile.
export const OPEN_ORDER = new Set();

let loaded = false;
export const vocabularyLoaded = () => loaded;

/** Fetch the vocabulary (staff only) and fill the lists and sets above. */
export async function loadVocabulary() {
  const words = await api("/vocabulary");
  KINDS.splice(0, KINDS.length, ...words.kinds);
  STATES.splice(0, STATES.length, ...words.states);
  LINES.splice(0, LINES.length, ...words.lines);
  STRATEGIES.splice(0, STRATEGIES.length, ...words.strategies);
  for (const [set, values] of [[UNOWNED, words.unowned], [ACTIVE, words.active],
    [AWAITING_CALLBACK, words.awaiting_callback], [CALL_OVER, words.call_over],
    [OPEN_ORDER, words.open_order_statuses]]) {
    set.clear();
    values.forEach((value) => set.add(value));
  }
  loaded = true;
}

export const kindBadge = (kind) => h("span", { class: `badge kind k-${kind}` }, t(`kind.${kind}`));
export const lineBadge = (line) => (line
  ? h("span", { class: `badge line l-${line}`, dataset: { line } }, t(`line.${line}`))
  : h("span", { class: "badge line none" }, t("line.none")));
export const stateBadge = (state) => h("span", { class: `badge state s-${state}` },
  t(`state.${state}`));
