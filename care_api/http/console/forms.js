// Forms of the registry pages: one labelled control per API field, and the API's refusals
// shown next to the field they are about. The API is the one judge of what is valid, so the
// forms do not validate in the browser (novalidate): every refusal reads the same way.

import { api, ApiError } from "./api.js";
import { h } from "./dom.js";
import { t, tOr } from "./i18n.js";

/**
 * A labelled control for API field `name`; its id is `${prefix}-${name}`.
 * `type` is an input type, "textarea" or "select" (with `options`); `value` the current value.
 */
export function field(prefix, name, label, { type = "text", value = null, hint = "", attrs = {}, options = null } = {}) {
  const id = `${prefix}-${name}`;
  const shown = value === null || value === undefined ? "" : String(value);
  let control;
  if (type === "textarea") {
    control = h("textarea", { id, name, rows: 3, ...attrs }, shown);
  } else if (type === "select") {
    // `options`: [[value, label], …]; the current value is selected.
    control = h("select", { id, name, ...attrs }, (options ?? []).map(([v, text]) => h("option",
      { value: v, selected: v === shown }, text)));
  } else if (type === "checkbox") {
    control = h("input", { id, name, type, checked: Boolean(value), ...attrs });
  } else {
    control = h("input", { id, name, type, value: shown, autocomplete: "off", ...attrs });
  }
  const error = h("span", { class: "field-error", id: `${id}-error`, role: "alert" });
  if (type === "checkbox") {
    return h("div", { class: "field check", dataset: { field: name } },
      h("label", { for: id }, control, ` ${label}`), error);
  }
  control.setAttribute("aria-describedby", `${id}-error`);
  return h("div", { class: "field", dataset: { field: name } },
    h("label", { for: id }, label), control, hint ? h("span", { class: "hint" }, hint) : null, error);
}

/** A form of fields, its submit button and a line for refusals that name no field. */
export function registryForm(id, fields, submitLabel, onsubmit) {
  return h("form", { class: "registry", id, novalidate: true, onsubmit: (event) => {
    event.preventDefault();
    onsubmit(event.currentTarget);
  } },
  h("div", { class: "fields" }, fields),
  h("div", { class: "form-foot" },
    h("button", { type: "submit", class: "primary", id: `${id}-submit` }, submitLabel),
    h("span", { class: "form-error error", id: `${id}-error`, role: "alert" })));
}

const control = (form, name) => form.querySelector(`[name="${CSS.escape(name)}"]`);

/** Text as typed, trimmed. */
export const text = (form, name) => control(form, name).value.trim();

/** A number, null when left empty; text that is no number goes as typed, for the API to refuse. */
export function number(form, name) {
  const raw = text(form, name);
  if (raw === "") return null;
  const value = Number(raw);
  return Number.isFinite(value) ? value : raw;
}

export const checked = (form, name) => control(form, name).checked;

/** A comma-separated list ("meals, cleaning" or "送餐，保洁"), empty items dropped. */
export const words = (form, name) => text(form, name).split(/[,，、]/).map((w) => w.trim()).filter(Boolean);

/** Forget the refusals shown on `form`. */
export function clearErrors(form) {
  for (const node of form.querySelectorAll(".field-error, .form-error")) node.textContent = "";
  for (const node of form.querySelectorAll(".field.invalid")) node.classList.remove("invalid");
  for (const node of form.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
}

/** The operator's words for one of pydantic's refusals; its own message when we have none. */
function refusal(item) {
  return tOr(`invalid.${item.type}`, item.msg ?? String(item));
}

/**
 * Show why the API refused: each 422 item beside its field, anything else under the form.
 * `byStatus` maps a status to [field, message] for refusals about one field (a 409 id taken).
 */
export function showErrors(form, err, byStatus = {}) {
  clearErrors(form);
  const general = [];
  const mark = (name, message) => {
    const slot = name === null ? null : form.querySelector(`[data-field="${CSS.escape(String(name))}"]`);
    if (!slot) return false;
    const error = slot.querySelector(".field-error");
    error.textContent = error.textContent ? `${error.textContent} ${message}` : message;
    slot.classList.add("invalid");
    control(form, String(name))?.setAttribute("aria-invalid", "true");
    return true;
  };
  if (err instanceof ApiError && err.status === 422 && Array.isArray(err.detail)) {
    for (const item of err.detail) {
      const loc = Array.isArray(item.loc) ? item.loc : [];
      const name = loc[0] === "body" && loc.length > 1 ? loc[1] : null;
      if (!mark(name, refusal(item))) general.push(name ? `${name}: ${refusal(item)}` : refusal(item));
    }
  } else if (err instanceof ApiError && err.status in byStatus) {
    const [name, message] = byStatus[err.status];
    if (!mark(name, message)) general.push(message);
  } else {
    general.push(t("error.action", { detail: err.message }));
  }
  form.querySelector(".form-error").textContent = general.join(" ");
  form.querySelector("[aria-invalid]")?.focus();
}

/** Submit `body` to the API for `form`, showing refusals on it; the answer, or null if refused. */
export async function submit(form, path, method, body, byStatus = {}) {
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  clearErrors(form);
  try {
    return await api(path, { method, body });
  } catch (err) {
    if (err.status !== 401) showErrors(form, err, byStatus);
    return null;
  } finally {
    button.disabled = false;
  }
}

/** "Previous / Next" under a list read `limit` rows at a time; `go(offset)` shows another page. */
export function pager(id, offset, limit, shown, go) {
  if (offset === 0 && shown < limit) return null;
  return h("div", { class: "pager", id },
    h("button", { type: "button", class: "ghost", disabled: offset === 0,
      onclick: () => go(Math.max(0, offset - limit)) }, t("pager.previous")),
    h("span", { class: "muted" }, t("pager.rows", { from: offset + 1, to: offset + shown })),
    h("button", { type: "button", class: "ghost", disabled: shown < limit,
      onclick: () => go(offset + limit) }, t("pager.next")));
}
