// A care case's volunteer offers: who was asked, in which ring, how far, and their answer.

import { h, refill } from "../dom.js";
import { formatTime, t, tOr } from "../i18n.js";
import { volunteerName } from "./data.js";

/** The offers card: `update(s)` redraws it, or gives null on a case that has none to show. */
export function offersCard() {
  const node = h("section", { class: "card", id: "offers-card" });
  return {
    node,
    update({ detail, offers, calls }) {
      if (detail.kind !== "care" && !offers.length) return null;
      return refill(node,
        h("h2", {}, t("case.offers"), h("span", { class: "count" }, String(offers.length))),
        offers.length
          ? h("table", { class: "grid compact" },
            h("thead", {}, h("tr", {}, ["col.volunteer", "col.ring", "col.distance", "col.status", "col.answered"]
              .map((k) => h("th", {}, t(k))))),
            h("tbody", {}, offers.map((o) => h("tr", { dataset: { volunteerId: String(o.volunteer_id), status: o.status } },
              h("td", {}, volunteerName(o.volunteer_id),
                calls.canCall ? [" ", calls.button(`volunteer:${o.volunteer_id}`)] : null),
              h("td", { class: "num" }, String(o.ring)),
              h("td", { class: "num" }, `${o.distance_km.toFixed(1)} km`),
              h("td", {}, h("span", { class: `badge delivery t-${o.status}` }, tOr(`offer.${o.status}`, o.status))),
              h("td", { class: "mono nowrap" }, formatTime(o.answered_at ?? o.offered_at))))))
          : h("p", { class: "empty" }, t("case.no_offers")));
    },
  };
}
