// The case page's head: number, kind, line, state and badges, the summary, the ladder's
// flags, when it opened, its owner and outcome; below it the countdown to the next step.

import { serverNow } from "../api.js";
import { caseBadges } from "../codes.js";
import { countdown } from "../countdown.js";
import { fill, h } from "../dom.js";
import { formatDuration, formatTime, label, t } from "../i18n.js";
import { personText } from "../people.js";
import { ACTIVE, UNOWNED, kindBadge, lineBadge, stateBadge } from "../states.js";

function outcomeLabel(code, outcomes) {
  const known = outcomes.find((o) => o.code === code);
  return known ? label(known.labels) : code;
}

/** The head card: `update(s)` redraws it from a read of the case (it has no form). */
export function headCard() {
  const node = h("header", { class: "case-head" });
  return {
    node,
    update({ detail: d, outcomes }) {
      const running = ACTIVE.has(d.state);
      const since = running ? (serverNow() - Date.parse(d.opened_at)) / 1000 : null;
      node.classList.toggle("emergency", d.kind === "emergency");
      fill(node,
        h("a", { href: "#/board", class: "back" }, `← ${t("nav.board")}`),
        h("h1", { class: "mono" }, d.id), kindBadge(d.kind), lineBadge(d.line), stateBadge(d.state),
        caseBadges(d),
        h("span", { class: "summary" }, d.summary),
        // The ladder's flags ("call 120") matter while nobody owns the case.
        UNOWNED.has(d.state)
          ? [...new Set(d.events.filter((ev) => ev.action === "flag").map((ev) => ev.why))]
            .map((f) => h("span", { class: "flag" }, f))
          : null,
        h("span", { class: "meta" }, t("case.opened", { at: formatTime(d.opened_at) }),
          since !== null ? ` · ${t("case.age", { age: formatDuration(since) })}` : "",
          d.level ? ` · ${t("board.step", { n: d.level })}` : "",
          ` · ${t("col.owner")}: ${d.owner ? personText(d.owner_who) : t("board.unowned")}`,
          d.outcome ? ` · ${t("outcome.label")}: ${outcomeLabel(d.outcome.code, outcomes)}` : ""));
      return node;
    },
  };
}

/** The countdown to the ladder's next step, drawn anew each read; null when none is due. */
export const countdownBar = ({ detail }) => countdown(detail.next_escalation);
