// Who is on duty: one line on the board, from GET /on-duty (the rota, else the setting).

import { api } from "./api.js";
import { h } from "./dom.js";
import { t } from "./i18n.js";

/** The on-duty answer, or null when it cannot be read (the board shows without it). */
export async function loadDuty() {
  try {
    return await api("/on-duty");
  } catch {
    return null;
  }
}

/** The board's on-duty line: the supervisor the ladder would page, and the operators. */
export function dutyLine(duty) {
  if (!duty) return null;
  const supervisor = duty.supervisor
    ?? (duty.supervisor_source === "setting" ? t("duty.setting") : t("duty.nobody"));
  const operators = duty.operators.map((p) => p.person).join(", ") || t("duty.nobody");
  return h("p", { class: "duty", id: "on-duty" },
    h("span", { class: "label" }, t("duty.supervisor")), " ",
    h("strong", { dataset: { source: duty.supervisor_source ?? "none" } }, supervisor),
    " · ",
    h("span", { class: "label" }, t("duty.operators")), " ", operators);
}
