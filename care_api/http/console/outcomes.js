// The outcome codes a case is resolved with, as the API lists them, and their picker.

import { api } from "./api.js";
import { h } from "./dom.js";
import { label, t } from "./i18n.js";

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
