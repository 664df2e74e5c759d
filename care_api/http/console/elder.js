// One elder: the profile (a new one, or edited), contacts, terminals (provisioned here, the
// secret shown once) and the elder's cases, newest first.

import { api } from "./api.js";
import { caseBadges, contactBadge } from "./codes.js";
import { fill, h, refill, telLink } from "./dom.js";
import { checked, field, number, registryForm, submit, text } from "./forms.js";
import { formatTime, t } from "./i18n.js";
import { kindBadge, stateBadge } from "./states.js";
import { ownerText } from "./people.js";
import { wearableCard } from "./wearable.js";

const enc = encodeURIComponent;
const CASES_SHOWN = 50;
const dash = (value) => (value === null || value === undefined || value === "" ? "—" : value);

// The languages a person may read and hear; "" leaves them on the centre's.
const languageOptions = () => [["", t("language.centre")], ["zh-CN", "中文"], ["en", "English"]];

function profileFields(elder) {
  const e = elder ?? {};
  return [
    field("elder", "name", t("elder.name"), { value: e.name, attrs: { maxlength: 200 } }),
    field("elder", "phone", t("elder.phone"), { type: "tel", value: e.phone, hint: t("hint.phone") }),
    field("elder", "address", t("elder.address"), { value: e.address, attrs: { maxlength: 500 } }),
    field("elder", "district", t("elder.district"), { value: e.district, attrs: { maxlength: 64 } }),
    field("elder", "lat", t("elder.lat"), { value: e.lat, hint: t("hint.lat"), attrs: { inputmode: "decimal" } }),
    field("elder", "lon", t("elder.lon"), { value: e.lon, hint: t("hint.lon"), attrs: { inputmode: "decimal" } }),
    field("elder", "medical_notes", t("elder.notes"), { type: "textarea", value: e.medical_notes,
      attrs: { maxlength: 4000 } }),
    field("elder", "access_notes", t("elder.access_notes"), { type: "textarea", value: e.access_notes,
      hint: t("hint.access_notes"), attrs: { maxlength: 1000 } }),
    field("elder", "language", t("elder.language"), { type: "select", value: e.language ?? "",
      options: languageOptions() }),
    field("elder", "wanders", t("elder.wanders"), { type: "checkbox", value: e.wanders }),
    field("elder", "taken_off_case", t("elder.taken_off_case"), { type: "checkbox",
      value: e.taken_off_case }),
  ];
}

function profileBody(form) {
  return {
    name: text(form, "name"), phone: text(form, "phone"), address: text(form, "address"),
    district: text(form, "district"), lat: number(form, "lat"), lon: number(form, "lon"),
    medical_notes: text(form, "medical_notes"), access_notes: text(form, "access_notes"),
    language: text(form, "language") || null,
    wanders: checked(form, "wanders"), taken_off_case: checked(form, "taken_off_case"),
  };
}

export function mount(root, { arg, navigate, toast }) {
  const isNew = arg === "new";
  const elderId = isNew ? null : Number(arg);
  let elder = null;
  let contacts = [];
  let devices = [];
  let cases = [];
  let editing = null; // the contact whose details the contact form shows, or null to add one
  let removing = null; // the contact id whose Remove button was clicked once
  // A terminal's secret, shown until the operator says it is copied; never stored anywhere.
  let secret = null;
  let wearable = null; // made once: a redraw must not load it again

  async function load() {
    if (isNew) {
      draw();
      return;
    }
    if (!Number.isInteger(elderId) || elderId < 1) {
      fill(root, h("p", { class: "error" }, t("elders.not_found", { id: arg })));
      return;
    }
    try {
      elder = await api(`/elders/${elderId}`);
    } catch (err) {
      if (err.status !== 401) fill(root, h("p", { class: "error" }, t("elders.not_found", { id: arg })));
      return;
    }
    const [c, d, k] = await Promise.allSettled([
      api(`/elders/${elderId}/contacts?limit=100`),
      api(`/devices?elder_id=${elderId}`),
      api(`/cases?elder_id=${elderId}&limit=${CASES_SHOWN}`),
    ]);
    wearable = wearableCard(null, elderId);
    contacts = c.status === "fulfilled" ? c.value : [];
    devices = d.status === "fulfilled" ? d.value.devices : [];
    cases = k.status === "fulfilled" ? k.value : [];
    draw();
  }

  async function saveProfile(form) {
    const saved = await submit(form, isNew ? "/elders" : `/elders/${elderId}`, isNew ? "POST" : "PATCH",
      profileBody(form));
    if (!saved) return;
    toast(t(isNew ? "elders.created" : "elders.saved", { name: saved.name }));
    if (isNew) navigate(`#/elder/${saved.id}`);
    else load();
  }

  async function addContact(form) {
    const body = {
      name: text(form, "name"), phone: text(form, "phone"), relation: text(form, "relation"),
      priority: number(form, "priority") ?? 1, notify_only: checked(form, "notify_only"),
      drill_opt_in: checked(form, "drill_opt_in"), language: text(form, "language") || null,
    };
    const path = editing ? `/elders/${elderId}/contacts/${editing.id}` : `/elders/${elderId}/contacts`;
    const saved = await submit(form, path, editing ? "PATCH" : "POST", body);
    if (!saved) return;
    form.reset();
    toast(t(editing ? "contacts.saved" : "contacts.added", { name: saved.name }));
    editing = null;
    load();
  }

  async function removeContact(contact) {
    // Two clicks: the first arms the button, the second removes (no browser dialog).
    if (removing !== contact.id) {
      removing = contact.id;
      draw();
      return;
    }
    removing = null;
    try {
      await api(`/elders/${elderId}/contacts/${contact.id}`, { method: "DELETE" });
      toast(t("contacts.removed", { name: contact.name }));
    } catch (err) {
      toast(t("error.action", { detail: err.message }), "error");
    }
    load();
  }

  async function provision(form) {
    const deviceId = text(form, "device_id");
    const body = { device_id: deviceId, elder_id: elderId, model: text(form, "model") || null,
      heartbeat_s: number(form, "heartbeat_s") };
    const made = await submit(form, "/devices", "POST", body,
      { 409: ["device_id", t("terminal.taken", { id: deviceId })] });
    if (!made) return;
    form.reset();
    secret = { deviceId: made.device_id, value: made.secret };
    load();
  }

  async function copySecret() {
    const input = root.querySelector("#secret-value");
    try {
      await navigator.clipboard.writeText(secret.value);
    } catch {
      // No clipboard permission (plain http, an old browser): select it for Ctrl+C instead.
      input.select();
      toast(t("terminal.copy_by_hand"), "error");
      return;
    }
    toast(t("terminal.copied"));
  }

  function secretPanel() {
    if (!secret) return null;
    return h("div", { class: "secret", id: "device-secret", role: "alert" },
      h("strong", {}, t("terminal.secret_title", { id: secret.deviceId })),
      h("p", {}, t("terminal.secret_warning")),
      h("div", { class: "secret-row" },
        h("input", { id: "secret-value", class: "mono", readonly: true, value: secret.value,
          "aria-label": t("terminal.secret_title", { id: secret.deviceId }) }),
        h("button", { type: "button", id: "secret-copy", class: "primary", onclick: copySecret },
          t("terminal.copy"))),
      h("button", { type: "button", id: "secret-done", class: "ghost",
        onclick: () => { secret = null; draw(); } }, t("terminal.copied_done")));
  }

  function profileCard() {
    return h("section", { class: "card", id: "profile-card" },
      h("h2", {}, t(isNew ? "elders.new" : "elders.profile")),
      registryForm("elder-form", profileFields(elder), t(isNew ? "elders.create" : "common.save"), saveProfile));
  }

  function contactsCard() {
    const head = ["contacts.priority", "elder.name", "contacts.relation", "elder.phone", "contacts.actions"]
      .map((k) => h("th", {}, t(k)));
    const c0 = editing ?? {};
    return h("section", { class: "card", id: "contacts-card" },
      h("h2", {}, t("elder.contacts"), h("span", { class: "count" }, String(contacts.length))),
      contacts.length
        ? h("table", { class: "grid compact", id: "contact-table" }, h("thead", {}, h("tr", {}, head)),
          h("tbody", {}, contacts.map((c) => h("tr", { dataset: { contactId: String(c.id) } },
            h("td", { class: "num" }, String(c.priority)), h("td", {}, c.name, contactBadge(c)),
            h("td", { class: "muted" }, dash(c.relation)),
            h("td", {}, telLink(c.phone, c.phone, { class: "tel" })),
            h("td", { class: "nowrap" },
              h("button", { type: "button", class: "ghost small", dataset: { edit: String(c.id) },
                onclick: () => { editing = c; removing = null; draw(); } }, t("contacts.edit")),
              h("button", { type: "button", class: ["ghost small", removing === c.id && "danger"],
                dataset: { remove: String(c.id) }, onclick: () => removeContact(c) },
              t(removing === c.id ? "contacts.remove_confirm" : "contacts.remove")))))))
        : h("p", { class: "empty" }, t("elder.no_contacts")),
      h("h3", {}, editing ? t("contacts.editing", { name: editing.name }) : t("contacts.add")),
      // Keyed by the contact edited, so switching contacts draws fresh values, not kept edits.
      registryForm(editing ? `contact-form-${editing.id}` : "contact-form", [
        field("contact", "name", t("elder.name"), { value: c0.name, attrs: { maxlength: 200 } }),
        field("contact", "phone", t("elder.phone"), { type: "tel", value: c0.phone, hint: t("hint.phone") }),
        field("contact", "relation", t("contacts.relation"), { value: c0.relation, attrs: { maxlength: 64 } }),
        field("contact", "priority", t("contacts.priority"), { value: c0.priority ?? contacts.length + 1,
          hint: t("hint.priority"), attrs: { inputmode: "numeric" } }),
        field("contact", "language", t("elder.language"), { type: "select", value: c0.language ?? "",
          options: languageOptions() }),
        field("contact", "notify_only", t("contacts.notify_only"), { type: "checkbox", value: c0.notify_only }),
        field("contact", "drill_opt_in", t("contacts.drill_opt_in"), { type: "checkbox", value: c0.drill_opt_in }),
      ], editing ? t("common.save") : t("contacts.add"), addContact),
      editing ? h("button", { type: "button", class: "ghost", id: "contact-cancel",
        onclick: () => { editing = null; draw(); } }, t("common.cancel")) : null);
  }

  function terminalsCard() {
    const head = ["fleet.device", "fleet.status", "fleet.battery", "fleet.last_seen"].map((k) => h("th", {}, t(k)));
    const status = (online) => {
      const key = online === true ? "online" : online === false ? "offline" : "unknown";
      return h("span", { class: `dot ${key}` }, t(`fleet.${key}`));
    };
    return h("section", { class: "card", id: "terminals-card" },
      h("h2", {}, t("elders.terminals"), h("span", { class: "count" }, String(devices.length))),
      secretPanel(),
      devices.length
        ? h("table", { class: "grid compact", id: "terminal-table" }, h("thead", {}, h("tr", {}, head)),
          h("tbody", {}, devices.map((d) => h("tr", { dataset: { deviceId: d.device_id } },
            h("td", { class: "mono" }, d.device_id), h("td", {}, status(d.online)),
            h("td", {}, d.battery === null ? "—" : `${d.battery} %`),
            h("td", { class: "nowrap" }, d.last_seen_at ? formatTime(d.last_seen_at) : t("fleet.never"))))))
        : h("p", { class: "empty" }, t("terminal.none")),
      h("h3", {}, t("terminal.provision")),
      registryForm("device-form", [
        field("device", "device_id", t("fleet.device"), { hint: t("hint.device_id"), attrs: { maxlength: 64 } }),
        field("device", "model", t("terminal.model"), { attrs: { maxlength: 64 } }),
        field("device", "heartbeat_s", t("terminal.heartbeat"), { hint: t("hint.heartbeat"),
          attrs: { inputmode: "numeric" } }),
      ], t("terminal.provision"), provision));
  }

  function casesCard() {
    const head = ["col.case", "col.kind", "col.summary", "col.state", "col.time", "col.owner"]
      .map((k) => h("th", {}, t(k)));
    const open = (c) => navigate(`#/case/${enc(c.id)}`);
    return h("section", { class: "card", id: "elder-cases" },
      h("h2", {}, t("elders.cases"), h("span", { class: "count" }, String(cases.length))),
      cases.length
        ? h("table", { class: "grid compact" }, h("thead", {}, h("tr", {}, head)),
          h("tbody", {}, cases.map((c) => h("tr", {
            class: "link-row", tabindex: 0, dataset: { caseId: c.id, state: c.state },
            onclick: () => open(c), onkeydown: (e) => { if (e.key === "Enter") open(c); },
          },
          h("td", { class: "mono nowrap" }, h("a", { href: `#/case/${enc(c.id)}` }, c.id)),
          h("td", { class: "nowrap" }, kindBadge(c.kind), caseBadges(c)), h("td", {}, c.summary),
          h("td", {}, stateBadge(c.state)), h("td", { class: "mono nowrap" }, formatTime(c.opened_at)),
          h("td", { class: "muted" }, ownerText(c) ?? "—")))))
        : h("p", { class: "empty" }, t("elders.no_cases")),
      cases.length === CASES_SHOWN ? h("p", { class: "muted small" }, t("elders.latest_cases", { n: CASES_SHOWN })) : null);
  }

  function draw() {
    refill(root, h("div", { class: "elder-view", dataset: { elderId: isNew ? "new" : String(elderId) } },
      h("header", { class: "page-head" },
        h("a", { href: "#/elders", class: "back" }, `← ${t("elders.title")}`),
        h("h1", {}, isNew ? t("elders.new") : elder.name),
        elder ? telLink(elder.phone, elder.phone, { class: "tel" }) : null),
      isNew
        ? profileCard()
        : h("div", { class: "elder-grid" },
          h("div", { class: "col" }, profileCard(), wearable),
          h("div", { class: "col" }, casesCard(), terminalsCard(), contactsCard()))));
  }

  fill(root, h("p", { class: "empty" }, t("common.loading")));
  load();
  // Case news names no elder: a new case may be theirs, and a known one may have moved. Only
  // the case list is read again (it is not elder data, so the audit log stays readable).
  async function reloadCases() {
    if (isNew || !elder) return;
    try {
      cases = await api(`/cases?elder_id=${elderId}&limit=${CASES_SHOWN}`);
      draw();
    } catch {
      // the next news or sync tries again
    }
  }
  return {
    onCase: (news) => {
      if (news.change === "opened" || cases.some((c) => c.id === news.case_id)) reloadCases();
    },
    onSync: reloadCases,
  };
}
