// Small badges for what issue 9 adds to a case: its Contact ID code, and whether it is a drill.
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

/** Every extra badge of a board row or a case: [] when it has none. */
export function caseBadges(row) {
  return [contactIdBadge(row.contact_id)].filter(Boolean);
}
