// The admin's procedures page: the steps an operator ticks per case kind and service line,
// and the outcome codes a case is resolved with, each label in English and Chinese.

import { api } from "./api.js";
import { fill, h } from "./dom.js";
import {
  adminOnly, bound, defaultBadge, editorFoot, LABEL_LANGS, labelsOf, send,
} from "./editor.js";
import { t } from "./i18n.js";
import { KINDS, LINES } from "./states.js";

const enc = encodeURIComponent;
const copy = (items) => items.map((item) => ({ ...item, labels: { ...item.labels } }));

/** Rows of (id or code, English label, Chinese label) with add, remove and move up. */
function rowsEditor(prefix, rows, key, redraw, base = "") {
  const move = (i) => { [rows[i - 1], rows[i]] = [rows[i], rows[i - 1]]; redraw(); };
  return h("table", { class: "grid editor-rows", id: `${prefix}-rows` },
    h("thead", {}, h("tr", {},
      h("th", {}, "#"), h("th", {}, t(`editor.${key}`)),
      LABEL_LANGS.map(([, label]) => h("th", {}, t(label))), h("th", {}, ""))),
    h("tbody", {}, rows.map((row, i) => h("tr", { dataset: { row: String(i) } },
      h("td", { class: "muted" }, String(i + 1)),
      h("td", {}, bound(row, key, `${base}${i}.${key}`, { label: t(`editor.${key}`),
        attrs: { id: `${prefix}-${i}-${key}`, class: "mono", size: 14, maxlength: 32 } })),
      LABEL_LANGS.map(([tag, label]) => h("td", {}, bound(row.labels, tag, `${base}${i}.labels.${tag}`, {
        label: t(label), attrs: { id: `${prefix}-${i}-${tag}`, maxlength: 200 } }))),
      h("td", { class: "actions nowrap" },
        h("button", { type: "button", class: "ghost", title: t("editor.up"), disabled: i === 0,
          dataset: { action: "up" }, onclick: () => move(i) }, "↑"), " ",
        h("button", { type: "button", class: "ghost danger", dataset: { action: "remove" },
          onclick: () => { rows.splice(i, 1); redraw(); } }, t("editor.remove")))))),
    h("tfoot", {}, h("tr", {}, h("td", { colspan: 5 },
      h("button", { type: "button", class: "ghost", id: `${prefix}-add`,
        onclick: () => { rows.push({ [key]: "", labels: {} }); redraw(); } }, t("editor.add_row"))))));
}

const scriptBody = (line, steps) => ({
  ...(line ? { line } : {}),
  steps: steps.map((s) => ({ id: s.id.trim(), labels: labelsOf(s) })),
});

export function mount(root, { toast }) {
  const editable = KINDS;
  let kind = editable[0];
  let line = "";
  let script = null; // the procedure in force for (kind, line), as the API answered it
  let steps = [];
  let codes = [];
  const scriptBox = h("section", { class: "card", id: "script-editor" });
  const codesBox = h("section", { class: "card", id: "codes-editor" });

  function drawScript() {
    const pick = (id, value, options, onchange) => h("select", { id, onchange }, options.map(([v, text]) =>
      h("option", { value: v, selected: v === value }, text)));
    fill(scriptBox,
      h("h2", {}, t("procedures.script_title"), " ", defaultBadge(script.default, "script-default")),
      h("p", { class: "hint" }, t("procedures.script_hint")),
      h("div", { class: "editor-pick" },
        h("label", { for: "script-kind" }, t("col.kind")),
        pick("script-kind", kind, editable.map((k) => [k, t(`kind.${k}`)]),
          (e) => { kind = e.target.value; loadScript(); }),
        h("label", { for: "script-line" }, t("col.line")),
        pick("script-line", line, [["", t("procedures.every_line")], ...LINES.map((l) => [l, t(`line.${l}`)])],
          (e) => { line = e.target.value; loadScript(); })),
      script.line !== line
        ? h("p", { class: "hint", id: "script-inherited" }, t("procedures.inherited")) : null,
      rowsEditor("script", steps, "id", drawScript, "steps."),
      editorFoot("script", saveScript, resetScript));
  }

  function drawCodes() {
    fill(codesBox,
      h("h2", {}, t("procedures.codes_title")),
      h("p", { class: "hint" }, t("procedures.codes_hint")),
      rowsEditor("codes", codes, "code", drawCodes),
      editorFoot("codes", saveCodes, resetCodes));
  }

  const showScript = (answer) => {
    script = answer;
    steps = copy(answer.steps.map(({ id, labels }) => ({ id, labels })));
    drawScript();
  };

  let asked = 0;
  async function loadScript() {
    const mine = ++asked; // the kind and line picked last win, whichever answer comes first
    try {
      const answer = await api(`/scripts/${enc(kind)}${line ? `?line=${enc(line)}` : ""}`);
      if (mine === asked) showScript(answer);
    } catch (err) {
      if (err.status !== 401) toast(t("error.load", { detail: err.message }), "error");
    }
  }

  async function saveScript() {
    const saved = await send(scriptBox, `/scripts/${enc(kind)}`, "PUT", scriptBody(line, steps));
    if (saved) {
      showScript(saved);
      toast(t("procedures.script_saved"));
    }
  }

  async function resetScript() {
    const path = `/scripts/${enc(kind)}${line ? `?line=${enc(line)}` : ""}`;
    const now = await send(scriptBox, path, "DELETE");
    if (now) {
      showScript(now);
      toast(t("editor.reset_done"));
    }
  }

  const showCodes = (answer) => { codes = copy(answer); drawCodes(); };

  async function saveCodes() {
    const body = codes.map((c) => ({ code: c.code.trim(), labels: labelsOf(c) }));
    const saved = await send(codesBox, "/outcome-codes", "PUT", body);
    if (saved) {
      showCodes(saved);
      toast(t("procedures.codes_saved"));
    }
  }

  async function resetCodes() {
    const now = await send(codesBox, "/outcome-codes", "DELETE");
    if (now) {
      showCodes(now);
      toast(t("editor.reset_done"));
    }
  }

  async function load() {
    try {
      // Only an administrator edits; an operator who types the address is told so.
      const who = await api("/session");
      if (who.role !== "admin") {
        fill(root, adminOnly("procedures.title", "procedures-admin-only"));
        return;
      }
      const [first, outcomes] = await Promise.all([api(`/scripts/${enc(kind)}`), api("/outcome-codes")]);
      fill(root, h("div", { class: "editor-page" }, scriptBox, codesBox));
      showScript(first);
      showCodes(outcomes);
    } catch (err) {
      if (err.status !== 401) toast(t("error.load", { detail: err.message }), "error");
    }
  }

  fill(root, h("p", { class: "empty" }, t("common.loading")));
  load();
  return {};
}
