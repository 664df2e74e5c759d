// The elder directory: everyone the centre looks after, found by name, phone or terminal.

import { api } from "./api.js";
import { fill, h, refill } from "./dom.js";
import { pager } from "./forms.js";
import { t } from "./i18n.js";

const PAGE = 50;
const SEARCH_DEBOUNCE_MS = 250;

export function mount(root, { arg, navigate, toast }) {
  let query = arg ?? "";
  let offset = 0;
  let rows = null;
  let typing = null;
  let latest = 0;
  // A search from the header that finds exactly one elder opens them at once.
  let openSingle = Boolean(arg);

  async function load() {
    const n = ++latest;
    try {
      const params = new URLSearchParams({ q: query, limit: String(PAGE), offset: String(offset) });
      const found = await api(`/elders?${params}`);
      if (n !== latest) return; // an older search answered late
      if (openSingle && found.length === 1 && offset === 0) {
        // Replace, so Back returns to where the search started, not to this redirect.
        location.replace(`#/elder/${found[0].id}`);
        return;
      }
      openSingle = false;
      rows = found;
      draw();
    } catch (err) {
      if (err.status !== 401) toast(t("error.load", { detail: err.message }), "error");
    }
  }

  const search = (event) => {
    const typed = event.target.value.trim();
    clearTimeout(typing);
    typing = setTimeout(() => {
      query = typed;
      offset = 0;
      load();
    }, SEARCH_DEBOUNCE_MS);
  };

  const open = (row) => navigate(`#/elder/${row.id}`);

  function draw() {
    const head = ["elder.name", "elder.phone", "elder.district", "elders.terminals"]
      .map((k) => h("th", {}, t(k)));
    refill(root, h("section", { class: "card directory" },
      h("div", { class: "toolbar" },
        h("h2", {}, t("elders.title")),
        h("input", { type: "search", id: "elder-search", value: query, placeholder: t("search.placeholder"),
          "aria-label": t("search.placeholder"), autocomplete: "off", maxlength: 200, oninput: search }),
        h("span", { class: "spacer" }),
        h("a", { href: "#/elder/new", class: "button primary", id: "elder-new" }, t("elders.new"))),
      rows.length
        ? h("table", { class: "grid", id: "elder-table" },
          h("thead", {}, h("tr", {}, head)),
          h("tbody", {}, rows.map((row) => h("tr", {
            class: "link-row", tabindex: 0, dataset: { elderId: String(row.id) },
            onclick: () => open(row), onkeydown: (e) => { if (e.key === "Enter") open(row); },
          },
          h("td", {}, h("a", { href: `#/elder/${row.id}` }, row.name)),
          h("td", { class: "mono" }, row.phone),
          h("td", {}, row.district || "—"),
          h("td", { class: "mono" }, row.devices.join(", ") || "—")))))
        : h("p", { class: "empty", id: "elder-none" },
          query ? t("elders.none_found", { q: query }) : t("elders.none")),
      pager("elder-pager", offset, PAGE, rows.length, (next) => { offset = next; load(); })));
  }

  fill(root, h("p", { class: "empty" }, t("common.loading")));
  load();
  return { unmount: () => clearTimeout(typing) };
}
