// The desk's parts of a case and the board: people by name and role, outcome codes, the
// countdown to the next escalation, handover notes. The case page's cards are in case/.

import { api, serverNow } from "./api.js";
import { h } from "./dom.js";
import { currentLang, formatDuration, formatTime, t, tOr } from "./i18n.js";

/** The API's label maps are keyed by language tag; the console's languages are en and zh. */
export function label(labels) {
  const tag = currentLang() === "zh" ? "zh-CN" : "en";
  return labels?.[tag] ?? labels?.en ?? labels?.["zh-CN"] ?? Object.values(labels ?? {})[0] ?? "";
}

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

/** The outcome codes, the resolve form's choices ([] when they cannot be read). */
export async function outcomeCodes() {
  try {
    return await api("/outcome-codes");
  } catch {
    return [];
  }
}

export function outcomeSelect(codes, id = "resolve-outcome") {
  return h("select", { id, required: true },
    h("option", { value: "" }, t("outcome.pick")),
    codes.map((c) => h("option", { value: c.code }, label(c.labels))));
}

/** A history line's "why" for a tick: the step's words in the operator's language. */
export function tickText(ev, script) {
  const found = /^\[([a-z0-9_]+)\] (.*)$/.exec(ev.why);
  if (!found) return ev.why;
  const step = script?.steps.find((s) => s.id === found[1]);
  return step ? label(step.labels) : found[2];
}

/** The board's handover notes: the last day's, newest first, and a form for one more. */
export function handoverCard(notes, onDone, toast) {
  const text = h("textarea", { id: "handover-text", rows: 2, maxlength: 2000, placeholder: t("handover.hint") });
  const send = async (event) => {
    event.preventDefault();
    if (!text.value.trim()) { text.focus(); return; }
    try {
      await api("/handover", { method: "POST", body: { text: text.value } });
      event.target.reset();
      toast(t("handover.saved"));
    } catch (err) {
      toast(t("error.action", { detail: err.message }), "error");
    }
    onDone();
  };
  return h("section", { class: "card", id: "handover-card" },
    h("h2", {}, t("handover.title"), h("span", { class: "count" }, String(notes.length))),
    notes.length
      ? h("ul", { class: "handover" }, notes.map((n) => h("li", { dataset: { noteId: String(n.id) } },
        h("span", { class: "mono nowrap muted" }, formatTime(n.at)), " ",
        h("strong", {}, personText(n.who)), h("p", {}, n.text))))
      : h("p", { class: "empty" }, t("handover.none")),
    h("form", { class: "note-form", id: "handover-form", onsubmit: send },
      h("label", { for: "handover-text", class: "sr-only" }, t("handover.title")), text,
      h("button", { type: "submit", id: "handover-submit" }, t("handover.add"))));
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
