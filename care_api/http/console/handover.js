// The board's handover notes: the last day's, newest first, and a form for one more.

import { api } from "./api.js";
import { h } from "./dom.js";
import { formatTime, t } from "./i18n.js";
import { personText } from "./people.js";

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
