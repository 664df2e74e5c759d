// Volunteers: who the centre can ask for help near an elder, and registering a new one.

import { api } from "./api.js";
import { fill, h, refill, telLink } from "./dom.js";
import { checked, field, number, pager, registryForm, submit, text, words } from "./forms.js";
import { t } from "./i18n.js";

const PAGE = 100;

export function mount(root, { toast }) {
  let rows = [];
  let offset = 0;

  async function load() {
    try {
      rows = await api(`/volunteers?limit=${PAGE}&offset=${offset}`);
      draw();
    } catch (err) {
      if (err.status !== 401) toast(t("error.load", { detail: err.message }), "error");
    }
  }

  async function register(form) {
    const body = {
      name: text(form, "name"), phone: text(form, "phone"), lat: number(form, "lat"),
      lon: number(form, "lon"), skills: words(form, "skills"), active: checked(form, "active"),
      drill_opt_in: checked(form, "drill_opt_in"),
    };
    const made = await submit(form, "/volunteers", "POST", body);
    if (!made) return;
    form.reset();
    toast(t("volunteers.added", { name: made.name }));
    load();
  }

  function draw() {
    const head = ["elder.name", "elder.phone", "volunteers.skills", "volunteers.location", "volunteers.active"]
      .map((k) => h("th", {}, t(k)));
    refill(root, h("div", { class: "registry-page" },
      h("section", { class: "card", id: "volunteers-card" },
        h("h2", {}, t("volunteers.title"), h("span", { class: "count" }, String(rows.length))),
        rows.length
          ? h("table", { class: "grid compact", id: "volunteer-table" }, h("thead", {}, h("tr", {}, head)),
            h("tbody", {}, rows.map((v) => h("tr", { dataset: { volunteerId: String(v.id) } },
              h("td", {}, v.name), h("td", {}, telLink(v.phone, v.phone, { class: "tel" })),
              h("td", {}, v.skills.join(", ") || "—"),
              h("td", { class: "mono" }, `${v.lat.toFixed(4)}, ${v.lon.toFixed(4)}`),
              h("td", {}, t(v.active ? "common.yes" : "common.no"))))))
          : h("p", { class: "empty" }, t("volunteers.none")),
        pager("volunteer-pager", offset, PAGE, rows.length, (next) => { offset = next; load(); })),
      h("section", { class: "card", id: "volunteer-new" },
        h("h2", {}, t("volunteers.register")),
        registryForm("volunteer-form", [
          field("volunteer", "name", t("elder.name"), { attrs: { maxlength: 200 } }),
          field("volunteer", "phone", t("elder.phone"), { type: "tel", hint: t("hint.phone") }),
          field("volunteer", "lat", t("elder.lat"), { hint: t("hint.lat"), attrs: { inputmode: "decimal" } }),
          field("volunteer", "lon", t("elder.lon"), { hint: t("hint.lon"), attrs: { inputmode: "decimal" } }),
          field("volunteer", "skills", t("volunteers.skills"), { hint: t("hint.words") }),
          field("volunteer", "active", t("volunteers.active_label"), { type: "checkbox", value: true }),
          field("volunteer", "drill_opt_in", t("contacts.drill_opt_in"), { type: "checkbox" }),
        ], t("volunteers.register"), register))));
  }

  fill(root, h("p", { class: "empty" }, t("common.loading")));
  load();
  return {};
}
