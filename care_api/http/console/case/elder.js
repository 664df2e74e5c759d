// The case's elder: name, phone, address, district, medical notes, and the contacts to call.

import { contactBadge } from "../codes.js";
import { h, refill } from "../dom.js";
import { t } from "../i18n.js";
import { dash, field } from "./facts.js";

/** The elder card: `update(s)` redraws it from a read of the case. */
export function elderCard() {
  const node = h("section", { class: "card" });
  return {
    node,
    update({ elder, contacts, calls }) {
      if (!elder) {
        node.removeAttribute("id");
        return refill(node, h("h2", {}, t("case.elder")), h("p", { class: "empty" }, t("case.elder_unavailable")));
      }
      const notes = elder.medical_notes === null
        ? h("span", { class: "muted" }, t("elder.notes_hidden"))
        : elder.medical_notes ? h("span", { class: "notes" }, elder.medical_notes) : "—";
      node.id = "elder-card";
      return refill(node,
        h("h2", {}, t("case.elder")),
        h("dl", { class: "facts" },
          field(t("elder.name"), h("strong", {}, elder.name)),
          field(t("elder.phone"), calls.link("elder", elder.phone, elder.phone, { class: "tel" })),
          field(t("elder.address"), dash(elder.address)),
          field(t("elder.district"), dash(elder.district)),
          field(t("elder.notes"), notes)),
        h("h3", {}, t("elder.contacts")),
        contacts.length
          ? h("table", { class: "grid compact" }, h("tbody", {}, contacts.map((c) => h("tr", {},
            h("td", { class: "num" }, String(c.priority)), h("td", {}, c.name, contactBadge(c)),
            h("td", { class: "muted" }, dash(c.relation)),
            h("td", {}, calls.link(`contact:${c.id}`, c.phone, c.phone, { class: "tel" }))))))
          : h("p", { class: "empty" }, t("elder.no_contacts")));
    },
  };
}
