// Case states and kinds as the console groups them, and small labelled badges for both.

import { h } from "./dom.js";
import { t } from "./i18n.js";

export const KINDS = ["emergency", "care", "service", "consult", "device"];
// The centre's five service lines; a terminal problem (and an unclassified consult) has none.
export const LINES = ["life_care", "medical", "emergency", "legal", "care_home"];
export const UNOWNED = new Set(["open", "dispatched", "escalated"]);
export const ACTIVE = new Set([...UNOWNED, "accepted", "on_site"]);
export const AWAITING_CALLBACK = new Set(["resolved", "cancelled"]);

export const kindBadge = (kind) => h("span", { class: `badge kind k-${kind}` }, t(`kind.${kind}`));
export const lineBadge = (line) => (line
  ? h("span", { class: `badge line l-${line}`, dataset: { line } }, t(`line.${line}`))
  : h("span", { class: "badge line none" }, t("line.none")));
export const stateBadge = (state) => h("span", { class: `badge state s-${state}` },
  t(`state.${state}`));
