// The messages the case sent: when, to whom, by which channel, and how each was delivered.

import { h, refill } from "../dom.js";
import { formatTime, t, tOr } from "../i18n.js";
import { recipientText } from "../people.js";

/** The notifications card: `update(s)` redraws it from a read of the case. */
export function notificationsCard() {
  const node = h("section", { class: "card", id: "notifications-card" });
  return {
    node,
    update({ detail }) {
      const list = detail.notifications;
      return refill(node,
        h("h2", {}, t("case.notifications"), h("span", { class: "count" }, String(list.length))),
        list.length
          ? h("table", { class: "grid compact" },
            // Three columns, so the card's width at 1280×720 holds them all without clipping.
            h("thead", {}, h("tr", {}, ["col.time", "col.to", "col.status"].map((k) => h("th", {}, t(k))))),
            h("tbody", {}, list.map((n) => h("tr", { title: n.body },
              h("td", { class: "mono" }, formatTime(n.created_at)),
              h("td", {}, n.recipient ? h("div", {}, recipientText(n.recipient, detail.people)) : null,
                h("span", { class: "mono small" }, n.to)),
              h("td", {}, h("div", { class: "small" }, tOr(`channel.${n.channel}`, n.channel)),
                h("span", { class: `badge delivery d-${n.status}` }, tOr(`delivery.${n.status}`, n.status)),
                n.detail ? h("div", { class: "muted small" }, n.detail) : null)))))
          : h("p", { class: "empty" }, t("case.no_notifications")));
    },
  };
}
