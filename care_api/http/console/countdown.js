// The countdown to a case's next escalation step: when, whom it reaches, and its ticking.

import { serverNow } from "./api.js";
import { h } from "./dom.js";
import { formatDuration, t, tOr } from "./i18n.js";

/** "Next step in 1 min 40 s: Contact 2, up to 5 nearest volunteers, the console". */
export function reachText(reach) {
  const names = reach.names.length ? reach.names.join(", ") : null;
  const audience = tOr(`audience.${reach.audience}`, reach.audience, { n: reach.limit ?? "" });
  return names ? `${audience}: ${names}` : audience;
}

export function countdown(next) {
  if (!next) return null;
  const whom = next.reaches.map(reachText).join(" · ");
  return h("div", { class: "countdown", id: "next-escalation", role: "status",
    dataset: { due: next.due_at, step: String(next.step) } },
  h("strong", {}, t("countdown.next", { n: next.step })), " ",
  h("span", { class: "mono countdown-left", dataset: { due: next.due_at } }, leftText(next.due_at)),
  " → ", h("span", { class: "countdown-whom" }, whom),
  next.flag ? h("span", { class: "flag" }, next.flag) : null);
}

/** "in 1 min 40 s", or "due now" once the time has come. */
export function leftText(iso) {
  const left = (Date.parse(iso) - serverNow()) / 1000;
  return left > 0 ? t("countdown.in", { left: formatDuration(left) }) : t("countdown.due_now");
}

/** Refresh every countdown under `root` (called each second). */
export function tickCountdowns(root) {
  for (const node of root.querySelectorAll(".countdown-left")) node.textContent = leftText(node.dataset.due);
}
