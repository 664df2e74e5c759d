// People as operators read them: a name and a role ("Li Na · Operator"), never a bare key
// ("contact:9"), in history lines, owners and the recipients of messages.

import { h } from "./dom.js";
import { t, tOr } from "./i18n.js";

/** A role in the operator's language: "operator" → "Operator" / "话务员". */
export const roleText = (role) => tOr(`role.${role}`, role);

/**
 * A person as people read them: "Li Na · Operator", "Wang Jun (son) · Contact",
 * "Check-in watch · System", "Terminal T1001". Never the bare key ("contact:9").
 */
export function personText(who) {
  if (!who) return "—";
  if (who.role === "device") return t("who.device", { id: who.name });
  if (who.role === "system") return `${tOr(`system.${who.name}`, who.name)} · ${roleText("system")}`;
  if (!who.name) return roleText(who.role);
  // A key with a row id whose row is gone (a contact removed since) has only the number.
  const name = /^\d+$/.test(who.name) ? t("who.removed", { id: who.name }) : who.name;
  const detail = who.detail ? ` (${who.detail})` : "";
  return `${name}${detail} · ${roleText(who.role)}`;
}

/** The owner of a listed case ("owner_role"/"owner_name" from the API). */
export const ownerText = (row) => (row.owner
  ? personText({ role: row.owner_role ?? row.owner.split(":")[0], name: row.owner_name ?? "" })
  : null);

export function personCell(who) {
  return h("span", { class: ["person", who && `r-${who.role}`] }, personText(who));
}

/** `text` with every person key in it ("contact:9") replaced by that person's name. */
export function namePeople(text, people) {
  return String(text ?? "").replace(/\b(?:contact|volunteer|merchant|elder):\d+\b/g,
    (key) => (people?.[key] ? personText(people[key]) : key));
}

/** A message's recipient as people read it: a name and role, or the desk it went to. */
export function recipientText(recipient, people) {
  if (people?.[recipient]) return personText(people[recipient]);
  if (/^[a-z_]+$/.test(recipient)) return tOr(`audience.${recipient}`, recipient);
  return namePeople(recipient, people);
}
