// Shared parts of the admin editors (procedures, outcome codes, ladders): rows of inputs the
// admin grows and shrinks, both languages' labels, and the API's refusals shown on the field
// they name. The API is the one judge of what is valid; nothing is checked in the browser.

import { api, ApiError } from "./api.js";
import { h } from "./dom.js";
import { t, tOr } from "./i18n.js";

/** The console's languages as the API keys its label maps. */
export const LABEL_LANGS = [["en", "editor.label_en"], ["zh-CN", "editor.label_zh"]];

/** A labels map with the empty languages left out (the API wants at least one). */
export function labelsOf(row) {
  const out = {};
  for (const [tag] of LABEL_LANGS) {
    const value = (row.labels?.[tag] ?? "").trim();
    if (value) out[tag] = value;
  }
  return out;
}

/** A text input bound to `obj[key]`; `path` names it for the API's refusals ("steps.0.id"). */
export function bound(obj, key, path, { type = "text", label, attrs = {} } = {}) {
  const value = obj[key] ?? "";
  return h("input", {
    type, value: String(value), "aria-label": label, title: label, autocomplete: "off",
    dataset: { path }, ...attrs,
    oninput: (event) => { obj[key] = event.target.value; },
  });
}

/** A whole number from an input's text; text that is no number goes as typed, for the API. */
export function whole(raw) {
  const text = String(raw ?? "").trim();
  if (text === "") return null;
  const value = Number(text);
  return Number.isFinite(value) ? value : text;
}

function where(loc) {
  // ["body", "steps", 1, "after_s"] → "Step 2 · Delay"; a number goes with the word before it.
  const parts = [];
  for (const part of loc.slice(1)) {
    if (typeof part === "number" && parts.length) parts[parts.length - 1] += ` ${part + 1}`;
    else parts.push(typeof part === "number" ? `#${part + 1}` : tOr(`editor.field.${part}`, part));
  }
  return parts.join(" · ");
}

/** Forget the refusals shown in `box`. */
export function clearRefusals(box) {
  for (const node of box.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
  for (const node of box.querySelectorAll(".invalid")) node.classList.remove("invalid");
  const line = box.querySelector(".form-error");
  if (line) line.textContent = "";
}

/** Show why the API refused: each 422 item marks its control and is listed under the form. */
export function showRefusals(box, err) {
  clearRefusals(box);
  const lines = [];
  if (err instanceof ApiError && err.status === 422 && Array.isArray(err.detail)) {
    for (const item of err.detail) {
      const loc = Array.isArray(item.loc) ? item.loc : [];
      const message = tOr(`invalid.${item.type}`, item.msg ?? String(item));
      // The deepest control the refusal names, or the row it is in.
      for (let n = loc.length; n > 1; n -= 1) {
        const node = box.querySelector(`[data-path="${CSS.escape(loc.slice(1, n).join("."))}"]`);
        if (node) {
          node.setAttribute("aria-invalid", "true");
          node.classList.add("invalid");
          break;
        }
      }
      lines.push(loc.length > 1 ? `${where(loc)}: ${message}` : message);
    }
  } else if (err instanceof ApiError && err.status === 422) {
    lines.push(String(err.detail ?? err.message)); // the rule the use case checked, in its words
  } else {
    lines.push(t("error.action", { detail: err.message }));
  }
  box.querySelector(".form-error").textContent = lines.join(" ");
  box.querySelector("[aria-invalid]")?.focus();
}

/** Send `body`; the answer, or null after showing the refusal in `box`. */
export async function send(box, path, method, body = undefined) {
  const buttons = [...box.querySelectorAll("button")];
  buttons.forEach((b) => { b.disabled = true; });
  clearRefusals(box);
  try {
    return await api(path, body === undefined ? { method } : { method, body });
  } catch (err) {
    if (err.status !== 401) showRefusals(box, err);
    return null;
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
  }
}

/** The foot of an editor: save, back to the default, and the line refusals go to. */
export function editorFoot(id, onSave, onReset) {
  return h("div", { class: "form-foot" },
    h("button", { type: "button", class: "primary", id: `${id}-save`, onclick: onSave }, t("common.save")),
    h("button", { type: "button", class: "ghost", id: `${id}-reset`, onclick: onReset }, t("editor.reset")),
    h("span", { class: "form-error error", id: `${id}-error`, role: "alert" }));
}

/** "Default" or "Edited" beside an editor's title. */
export const defaultBadge = (isDefault, id) => h("span", {
  class: ["badge", isDefault ? "muted" : "edited"], id,
}, t(isDefault ? "editor.default" : "editor.edited"));

/** The admin-only notice an operator sees instead of an editor. */
export const adminOnly = (title, id) => h("section", { class: "card" }, h("h2", {}, t(title)),
  h("p", { class: "empty", id }, t("editor.admin_only")));
