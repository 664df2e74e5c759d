// A service case's orders: the merchant each went to, its status, when it was contacted.

import { h, refill } from "../dom.js";
import { formatTime, t, tOr } from "../i18n.js";
import { orderRunning } from "./action_forms.js";

function contactCell(o) {
  if (o.contacted_at) return t("dispatch.contacted_at", { at: formatTime(o.contacted_at) });
  if (o.contact_due_at && orderRunning(o)) return t("dispatch.contact_due", { at: formatTime(o.contact_due_at) });
  return "—";
}

/** The orders card: `update(s)` redraws it, or gives null on a case that has none to show. */
export function ordersCard() {
  const node = h("section", { class: "card", id: "orders-card" });
  return {
    node,
    update({ detail, orders, calls }) {
      if (detail.kind !== "service" && !orders.length) return null;
      return refill(node,
        h("h2", {}, t("case.orders"), h("span", { class: "count" }, String(orders.length))),
        orders.length
          ? h("table", { class: "grid compact" },
            h("thead", {}, h("tr", {}, ["col.order", "col.category", "col.merchant", "col.status", "col.contact"]
              .map((k) => h("th", {}, t(k))))),
            h("tbody", {}, orders.map((o) => h("tr", { dataset: { orderId: String(o.id), status: o.status } },
              h("td", { class: "mono" }, `#${o.id}`),
              h("td", {}, o.category, o.note ? h("div", { class: "muted small" }, o.note) : null),
              h("td", {}, o.merchant_name ?? h("span", { class: "muted" }, t("dispatch.nobody")),
                o.merchant_id && calls.canCall ? [" ", calls.button(`merchant:${o.merchant_id}`)] : null),
              h("td", {}, h("span", { class: `badge delivery o-${o.status}` }, tOr(`order.${o.status}`, o.status))),
              h("td", { class: "mono nowrap" }, contactCell(o))))))
          : h("p", { class: "empty" }, t("case.no_orders")));
    },
  };
}
