// Bulk import: choose a CSV or XLSX file, read the server's check of every row, then confirm.

import { api } from "./api.js";
import { fill, h } from "./dom.js";
import { currentLang, t } from "./i18n.js";

const KINDS = ["elders", "volunteers", "merchants"];
const COLUMNS = {
  elders: "name*, phone*, address, district, language, lat, lon, access_notes, medical_notes, "
    + "contact1_name, contact1_phone, contact1_relation (… contact3_*), terminal, terminal_model, terminal_secret",
  volunteers: "name*, phone*, lat*, lon*, skills, hours (mon-fri 08:00-12:00; sat 09:00-12:00), language",
  merchants: "name*, phone*, categories*, lat, lon, rating, hours, language",
};

export function mount(root, { toast }) {
  let kind = "elders";
  let file = null;
  let report = null;
  let busy = false;

  const lang = () => (currentLang() === "zh" ? "zh-CN" : "en");

  async function send(commit) {
    if (!file || busy) return;
    busy = true;
    draw();
    try {
      const params = new URLSearchParams({ commit: String(commit), filename: file.name, lang: lang() });
      report = await api(`/imports/${kind}?${params}`, { method: "POST", file });
      if (report.committed) toast(t("import.done", { n: report.new }));
    } catch (err) {
      report = null;
      if (err.status === 403) toast(t("import.admin_only"), "error");
      else if (err.status !== 401) toast(t("error.action", { detail: err.message }), "error");
    } finally {
      busy = false;
      draw();
    }
  }

  function secretsLink() {
    if (!report?.secrets?.length) return null;
    const lines = ["device_id,secret", ...report.secrets.map((s) => `${s.device_id},${s.secret}`)];
    const url = URL.createObjectURL(new Blob([`${lines.join("\n")}\n`], { type: "text/csv" }));
    return h("p", {},
      h("a", { href: url, download: "terminal-secrets.csv", id: "import-secrets", class: "button" },
        t("import.secrets", { n: report.secrets.length })),
      " ", h("span", { class: "hint" }, t("import.secrets_hint")));
  }

  function summary() {
    const counts = { rows: report.rows, new: report.new, unchanged: report.unchanged };
    const key = report.committed ? "import.summary_done" : "import.summary_preview";
    const parts = [t(key, counts)];
    if (report.kind === "elders") {
      parts.push(t("import.summary_more", { contacts: report.new_contacts, terminals: report.new_terminals }));
    }
    return h("p", { class: "import-summary", id: "import-summary" }, parts.join(" "));
  }

  function reportView() {
    if (!report) return null;
    const bad = report.problems;
    const nothingNew = !report.new && !report.new_contacts && !report.new_terminals;
    return h("section", { class: "card", id: "import-report" },
      summary(),
      bad.length
        ? [
          h("p", { class: "error", id: "import-refused" }, t("import.bad_rows", { n: bad.length })),
          h("table", { class: "grid import-problems", id: "import-problems" },
            h("thead", {}, h("tr", {},
              h("th", {}, t("import.row")), h("th", {}, t("import.column")), h("th", {}, t("import.reason")))),
            h("tbody", {}, bad.map((p) => h("tr", {},
              h("td", { class: "row-no mono" }, String(p.row)),
              h("td", { class: "mono" }, p.column || "—"),
              h("td", {}, p.reason))))),
        ]
        : null,
      !bad.length && !report.committed && !nothingNew
        ? h("button", { type: "button", class: "primary", id: "import-confirm", disabled: busy,
          onclick: () => send(true) }, t("import.confirm", { n: report.new }))
        : null,
      !bad.length && !report.committed && nothingNew
        ? h("p", { class: "empty", id: "import-nothing" }, t("import.nothing_new"))
        : null,
      secretsLink());
  }

  // The form is drawn once (a file input cannot be refilled); the report below it is redrawn.
  const reportBox = h("div", { id: "import-result" });
  const columns = h("p", { class: "import-columns", id: "import-columns" });
  const check = h("button", { type: "button", id: "import-check", disabled: true, onclick: () => send(false) },
    t("import.check"));
  const select = h("select", {
    id: "import-kind",
    onchange: (e) => { kind = e.target.value; report = null; if (file) send(false); else draw(); },
  }, KINDS.map((k) => h("option", { value: k }, t(`import.kind.${k}`))));
  const input = h("input", {
    type: "file", id: "import-file", accept: ".csv,.xlsx,text/csv",
    onchange: (e) => { file = e.target.files[0] ?? null; report = null; send(false); },
  });

  function draw() {
    check.disabled = !file || busy;
    fill(columns, t("import.columns"), " ", COLUMNS[kind]);
    fill(reportBox, busy ? h("p", { class: "empty" }, t("import.checking")) : reportView());
  }

  const form = () => fill(root,
    h("section", { class: "card" },
      h("h2", {}, t("import.title")),
      h("p", { class: "hint" }, t("import.intro")),
      h("div", { class: "import-form" },
        h("label", {}, t("import.kind"), select),
        h("label", {}, t("import.file"), input),
        check),
      columns),
    reportBox);
  fill(root, h("p", { class: "empty" }, t("common.loading")));
  // Importing is the administrator's: others are told so, without a form they cannot use.
  api("/session").then((who) => {
    if (who.role === "admin") {
      form();
      draw();
    } else {
      fill(root, h("section", { class: "card" }, h("h2", {}, t("import.title")),
        h("p", { class: "empty", id: "import-admin-only" }, t("import.admin_only"))));
    }
  }).catch((err) => {
    if (err.status !== 401) toast(t("error.load", { detail: err.message }), "error");
  });
  return {};
}
