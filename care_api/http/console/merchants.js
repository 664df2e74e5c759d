// Merchants (加盟商): who takes service orders, in which categories, and registering one.

import { api } from "./api.js";
import { fill, h, refill, telLink } from "./dom.js";
import { field, number, pager, registryForm, submit, text, words } from "./forms.js";
import { t, tOr } from "./i18n.js";

const PAGE = 100;

export function mount(root, { toast }) {
  let rows = [];
  let offset = 0;

  async function load() {
    try {
      rows = await api(`/merchants?limit=${PAGE}&offset=${offset}`);
      draw();
    } catch (err) {
      if (err.status !== 401) toast(t("error.load", { detail: err.message }), "error");
    }
  }

  async function register(form) {
    const body = {
      name: text(form, "name"), phone: text(form, "phone"), categories: words(form, "categories"),
      lat: number(form, "lat"), lon: number(form, "lon"), rating: number(form, "rating") ?? 3,
    };
    const made = await submit(form, "/merchants", "POST", body);
    if (!made) return;
    form.reset();
    toast(t("merchants.added", { name: made.name }));
    load();
  }

  function draw() {
    const head = ["elder.name", "elder.phone", "merchants.categories", "merchants.rating", "fleet.status"]
      .map((k) => h("th", {}, t(k)));
    refill(root, h("div", { class: "registry-page" },
      h("section", { class: "card", id: "merchants-card" },
        h("h2", {}, t("merchants.title"), h("span", { class: "count" }, String(rows.length))),
        rows.length
          ? h("table", { class: "grid compact", id: "merchant-table" }, h("thead", {}, h("tr", {}, head)),
            h("tbody", {}, rows.map((m) => h("tr", { dataset: { merchantId: String(m.id) } },
              h("td", {}, m.name), h("td", {}, telLink(m.phone, m.phone, { class: "tel" })),
              h("td", {}, m.categories.join(", ")), h("td", { class: "num" }, m.rating.toFixed(1)),
              h("td", {}, tOr(`merchants.status_${m.status}`, m.status))))))
          : h("p", { class: "empty" }, t("merchants.none")),
        pager("merchant-pager", offset, PAGE, rows.length, (next) => { offset = next; load(); })),
      h("section", { class: "card", id: "merchant-new" },
        h("h2", {}, t("merchants.register")),
        registryForm("merchant-form", [
          field("merchant", "name", t("elder.name"), { attrs: { maxlength: 200 } }),
          field("merchant", "phone", t("elder.phone"), { type: "tel", hint: t("hint.phone") }),
          field("merchant", "categories", t("merchants.categories"), { hint: t("hint.words") }),
          field("merchant", "lat", t("elder.lat"), { hint: t("hint.lat"), attrs: { inputmode: "decimal" } }),
          field("merchant", "lon", t("elder.lon"), { hint: t("hint.lon"), attrs: { inputmode: "decimal" } }),
          field("merchant", "rating", t("merchants.rating"), { value: 3, hint: t("hint.rating"),
            attrs: { inputmode: "decimal" } }),
        ], t("merchants.register"), register))));
  }

  fill(root, h("p", { class: "empty" }, t("common.loading")));
  load();
  return {};
}
