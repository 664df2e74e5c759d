// The note form: a note or a call attempt, written to the history without moving the case.

import { api } from "../api.js";
import { h } from "../dom.js";
import { t } from "../i18n.js";

const enc = encodeURIComponent;

/**
 * The notes card; `ctx` is { caseId, toast, reload }. Nothing in it comes from the case, so
 * it is drawn once per visit and news never touches what the operator is writing.
 */
export function notesCard({ caseId, toast, reload }) {
  const kind = h("select", { id: "note-kind" },
    h("option", { value: "note" }, t("note.kind_note")),
    h("option", { value: "call_attempt" }, t("note.kind_call")));
  const text = h("textarea", { id: "note-text", rows: 2, maxlength: 1000, placeholder: t("note.hint") });
  const send = async (event) => {
    event.preventDefault();
    if (!text.value.trim()) { text.focus(); return; }
    try {
      await api(`/cases/${enc(caseId)}/notes`, { method: "POST", body: { kind: kind.value, text: text.value } });
      event.target.reset();
      toast(t("note.saved"));
    } catch (err) {
      toast(t("error.action", { detail: err.message }), "error");
    }
    reload();
  };
  const node = h("section", { class: "card", id: "notes-card" }, h("h2", {}, t("note.title")),
    h("form", { class: "note-form", id: "note-form", onsubmit: send },
      h("label", { for: "note-kind" }, t("note.kind")), kind,
      h("label", { for: "note-text", class: "sr-only" }, t("note.title")), text,
      h("button", { type: "submit", id: "note-submit", class: "primary" }, t("note.add"))));
  return { node, update: () => node };
}
