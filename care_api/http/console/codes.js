// Small badges: a case's Contact ID code and drill mark, info-only contacts.
// Kept apart from board.js / case.js so both only call caseBadges(row).

import { h } from "./dom.js";
import { t, tOr } from "./i18n.js";

/** The case's Contact ID code ("1101") as a badge; its meaning, translated, on hover. */
export function contactIdBadge(code) {
  if (!code) return null;
  const meaning = tOr(`code.e${code.event}`, code.description);
  return h("span", { class: ["badge", "cid", code.qualifier === 3 && "restore"],
    title: t("code.title", { code: code.code, meaning }), dataset: { cid: code.code } },
  `${t("code.label")} ${code.code}`);
}

/** "DRILL" on a case opened by a terminal in test mode: its messages are marked TEST. */
export function drillBadge(row) {
  return row.drill ? h("span", { class: "badge drill", title: t("drill.title") }, t("drill.badge")) : null;
}

/** A warning about the elder's set-up ("no_contacts": nobody to page) as a badge. */
export function warningBadges(row) {
  return (row.warnings || []).map((w) =>
    h("span", { class: "badge warning", title: tOr(`warning.${w}_title`, w) }, tOr(`warning.${w}`, w)));
}

/** Every extra badge of a board row or a case: [] when it has none. */
export function caseBadges(row) {
  return [drillBadge(row), ...warningBadges(row), contactIdBadge(row.contact_id)].filter(Boolean);
}

/** "Info only" beside a contact who is never paged and hears of a case when it closes. */
export function contactBadge(contact) {
  return [
    contact.notify_only
      ? h("span", { class: "badge info-only", title: t("contact.info_only_title") }, t("contact.info_only"))
      : null,
    contact.drill_opt_in
      ? h("span", { class: "badge info-only", title: t("contact.drills_title") }, t("contact.drills"))
      : null,
  ].filter(Boolean);
}
