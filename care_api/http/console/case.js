// One case: the elder, the terminal, the history, the messages sent, and the actions.

import { api, serverNow } from "./api.js";
import { fill, h, telLink } from "./dom.js";
import { formatDuration, formatTime, t, tOr } from "./i18n.js";
import { ACTIVE, AWAITING_CALLBACK, KINDS, UNOWNED, kindBadge, stateBadge } from "./states.js";
import { caseBadges, contactBadge } from "./codes.js";

const enc = encodeURIComponent;
const dash = (value) => (value === null || value === undefined || value === "" ? "—" : value);

function field(label, ...value) {
  return [h("dt", {}, label), h("dd", {}, ...value)];
}

function scoreSelect(id) {
  return h("select", { id },
    h("option", { value: "" }, "—"),
    [5, 4, 3, 2, 1].map((n) => h("option", { value: String(n) }, t(`score.${n}`))));
}

function yesNoSelect(id) {
  return h("select", { id }, h("option", { value: "" }, "—"),
    h("option", { value: "true" }, t("common.yes")), h("option", { value: "false" }, t("common.no")));
}

const optional = (value, parse) => (value === "" ? undefined : parse(value));

export function mount(root, { arg: caseId, toast }) {
  let detail = null;
  let elder = null;
  let contacts = [];
  let device = null;
  let busy = false;

  async function load() {
    try {
      detail = await api(`/cases/${enc(caseId)}`);
    } catch (err) {
      fill(root, h("p", { class: "error" }, t("case.not_found", { id: caseId, detail: err.message })));
      return;
    }
    const id = detail.elder_id;
    const [e, c, d] = await Promise.allSettled([
      api(`/elders/${id}`),
      api(`/elders/${id}/contacts`),
      detail.device_id ? api(`/devices/${enc(detail.device_id)}`) : Promise.resolve(null),
    ]);
    elder = e.status === "fulfilled" ? e.value : null;
    contacts = c.status === "fulfilled" ? c.value : [];
    device = d.status === "fulfilled" ? d.value : null;
    draw();
  }

  async function act(path, body, doneKey) {
    if (busy) return;
    busy = true;
    try {
      await api(`/cases/${enc(caseId)}/${path}`, { method: "POST", body });
      toast(t(doneKey, { id: caseId }));
    } catch (err) {
      toast(t("error.action", { detail: err.message }), "error");
    } finally {
      busy = false;
    }
    await load();
  }

  function elderCard() {
    if (!elder) return h("section", { class: "card" }, h("h2", {}, t("case.elder")),
      h("p", { class: "empty" }, t("case.elder_unavailable")));
    const notes = elder.medical_notes === null
      ? h("span", { class: "muted" }, t("elder.notes_hidden"))
      : elder.medical_notes ? h("span", { class: "notes" }, elder.medical_notes) : "—";
    return h("section", { class: "card", id: "elder-card" },
      h("h2", {}, t("case.elder")),
      h("dl", { class: "facts" },
        field(t("elder.name"), h("strong", {}, elder.name)),
        field(t("elder.phone"), telLink(elder.phone, elder.phone, { class: "tel" })),
        field(t("elder.address"), dash(elder.address)),
        field(t("elder.notes"), notes)),
      h("h3", {}, t("elder.contacts")),
      contacts.length
        ? h("table", { class: "grid compact" }, h("tbody", {}, contacts.map((c) => h("tr", {},
          h("td", { class: "num" }, String(c.priority)), h("td", {}, c.name, contactBadge(c)),
          h("td", { class: "muted" }, dash(c.relation)),
          h("td", {}, telLink(c.phone, c.phone, { class: "tel" }))))))
        : h("p", { class: "empty" }, t("elder.no_contacts")));
  }

  function deviceCard() {
    const body = device
      ? h("dl", { class: "facts" },
        field(t("fleet.device"), h("span", { class: "mono" }, device.device_id)),
        field(t("fleet.status"), onlineLabel(device.online)),
        field(t("fleet.battery"), device.battery === null ? "—" : `${device.battery} %`),
        field(t("fleet.last_seen"), formatTime(device.last_seen_at)),
        field(t("fleet.fw"), dash(device.fw)))
      : h("p", { class: "empty" }, detail.device_id ? detail.device_id : t("case.no_device"));
    return h("section", { class: "card", id: "device-card" }, h("h2", {}, t("case.terminal")), body);
  }

  function actionsCard() {
    const state = detail.state;
    const parts = [];
    if (UNOWNED.has(state)) {
      parts.push(h("button", { type: "button", id: "act-ack", class: "primary",
        onclick: () => act("ack", {}, "done.ack") }, t("action.ack")));
    }
    if (elder) parts.push(telLink(elder.phone, t("action.call_elder"), { class: "button", id: "act-call" }));
    if (state === "accepted") {
      parts.push(h("button", { type: "button", id: "act-onsite",
        onclick: () => act("on-site", undefined, "done.on_site") }, t("action.on_site")));
    }
    // TODO(alerts): dispatch to a merchant and offers to volunteers arrive with the alerts API.
    if (ACTIVE.has(state)) {
      parts.push(h("button", { type: "button", id: "act-dispatch", disabled: true,
        title: t("action.not_yet") }, t("action.dispatch")));
      parts.push(h("button", { type: "button", id: "act-offer", disabled: true,
        title: t("action.not_yet") }, t("action.offer")));
    }
    const forms = [];
    if (ACTIVE.has(state)) forms.push(resolveForm());
    if (state !== "closed") forms.push(reclassifyForm());
    if (AWAITING_CALLBACK.has(state)) forms.push(callbackForm());
    return h("section", { class: "card", id: "actions-card" }, h("h2", {}, t("case.actions")),
      h("div", { class: "actions" }, parts), forms,
      state === "closed" ? h("p", { class: "muted" }, t("case.closed_note")) : null);
  }

  function resolveForm() {
    const note = h("input", { id: "resolve-note", maxlength: 1000, placeholder: t("action.note") });
    return h("form", { class: "inline", onsubmit: (e) => {
      e.preventDefault();
      act("resolve", { note: note.value }, "done.resolve");
    } }, h("label", { for: "resolve-note" }, t("action.resolve_label")), note,
    h("button", { type: "submit", id: "act-resolve" }, t("action.resolve")));
  }

  function reclassifyForm() {
    const kind = h("select", { id: "reclass-kind" }, KINDS.filter((k) => k !== detail.kind)
      .map((k) => h("option", { value: k }, t(`kind.${k}`))));
    const note = h("input", { id: "reclass-note", maxlength: 900, placeholder: t("action.why") });
    return h("form", { class: "inline", onsubmit: (e) => {
      e.preventDefault();
      act("reclassify", { kind: kind.value, note: note.value }, "done.reclassify");
    } }, h("label", { for: "reclass-kind" }, t("action.reclassify_label")), kind, note,
    h("button", { type: "submit", id: "act-reclassify" }, t("action.reclassify")));
  }

  function callbackForm() {
    const reached = h("input", { type: "checkbox", id: "cb-reached", checked: true });
    const satisfaction = scoreSelect("cb-satisfaction");
    const quality = scoreSelect("cb-quality");
    const timeOk = yesNoSelect("cb-time");
    const priceOk = yesNoSelect("cb-price");
    const comment = h("input", { id: "cb-comment", maxlength: 900, placeholder: t("callback.comment") });
    const submit = (e) => {
      e.preventDefault();
      act("callback", {
        reached: reached.checked,
        satisfaction: optional(satisfaction.value, Number),
        quality: optional(quality.value, Number),
        time_ok: optional(timeOk.value, (v) => v === "true"),
        price_ok: optional(priceOk.value, (v) => v === "true"),
        comment: comment.value,
      }, "done.callback");
    };
    const labelled = (id, key, control) => h("label", { for: id }, t(key), control);
    return h("form", { class: "callback", id: "callback-form", onsubmit: submit },
      h("h3", {}, t("callback.title")),
      h("div", { class: "fields" },
        labelled("cb-reached", "callback.reached", reached),
        labelled("cb-satisfaction", "callback.satisfaction", satisfaction),
        labelled("cb-quality", "callback.quality", quality),
        labelled("cb-time", "callback.time_ok", timeOk),
        labelled("cb-price", "callback.price_ok", priceOk)),
      comment, h("button", { type: "submit", id: "act-callback", class: "primary" }, t("callback.save")));
  }

  function historyCard() {
    const what = (ev) => (ev.action === "transition"
      ? `${t(`state.${ev.from_state}`)} → ${t(`state.${ev.to_state}`)}`
      : tOr(`event.${ev.action}`, ev.action));
    return h("section", { class: "card", id: "history-card" }, h("h2", {}, t("case.history")),
      h("table", { class: "grid compact" },
        h("thead", {}, h("tr", {}, ["col.time", "col.by", "col.what", "col.why"].map((k) => h("th", {}, t(k))))),
        h("tbody", {}, detail.events.map((ev) => h("tr", { class: `ev-${ev.action}` },
          h("td", { class: "mono nowrap" }, formatTime(ev.at)), h("td", { class: "mono" }, ev.by),
          h("td", {}, what(ev)), h("td", {}, ev.why))))));
  }

  function notificationsCard() {
    const list = detail.notifications;
    return h("section", { class: "card", id: "notifications-card" },
      h("h2", {}, t("case.notifications"), h("span", { class: "count" }, String(list.length))),
      list.length
        ? h("table", { class: "grid compact" },
          h("thead", {}, h("tr", {}, ["col.time", "col.channel", "col.to", "col.status"].map((k) => h("th", {}, t(k))))),
          h("tbody", {}, list.map((n) => h("tr", { title: n.body },
            h("td", { class: "mono nowrap" }, formatTime(n.created_at)),
            h("td", {}, tOr(`channel.${n.channel}`, n.channel)),
            h("td", {}, n.recipient ? `${n.recipient} ` : "", h("span", { class: "mono" }, n.to)),
            h("td", {}, h("span", { class: `badge delivery d-${n.status}` }, tOr(`delivery.${n.status}`, n.status)),
              n.detail ? h("div", { class: "muted small" }, n.detail) : null)))))
        : h("p", { class: "empty" }, t("case.no_notifications")));
  }

  function draw() {
    const d = detail;
    const running = ACTIVE.has(d.state);
    const since = running ? (serverNow() - Date.parse(d.opened_at)) / 1000 : null;
    fill(root, h("div", { class: "case-view", dataset: { caseId: d.id, state: d.state } },
      h("header", { class: ["case-head", d.kind === "emergency" && "emergency"] },
        h("a", { href: "#/board", class: "back" }, `← ${t("nav.board")}`),
        h("h1", { class: "mono" }, d.id), kindBadge(d.kind), stateBadge(d.state), caseBadges(d),
        h("span", { class: "summary" }, d.summary),
        // The ladder's flags ("call 120") matter while nobody owns the case.
        UNOWNED.has(d.state)
          ? [...new Set(d.events.filter((ev) => ev.action === "flag").map((ev) => ev.why))]
            .map((f) => h("span", { class: "flag" }, f))
          : null,
        h("span", { class: "meta" }, t("case.opened", { at: formatTime(d.opened_at) }),
          since !== null ? ` · ${t("case.age", { age: formatDuration(since) })}` : "",
          d.level ? ` · ${t("board.step", { n: d.level })}` : "",
          ` · ${t("col.owner")}: ${d.owner ?? t("board.unowned")}`)),
      h("div", { class: "case-grid" },
        h("div", { class: "col" }, elderCard(), deviceCard()),
        h("div", { class: "col" }, actionsCard(), historyCard()),
        h("div", { class: "col" }, notificationsCard()))));
  }

  function onlineLabel(online) {
    const key = online === true ? "online" : online === false ? "offline" : "unknown";
    return h("span", { class: `dot ${key}` }, t(`fleet.${key}`));
  }

  fill(root, h("p", { class: "empty" }, t("common.loading")));
  load();
  return {
    onCase: (news) => { if (news.case_id === caseId && !busy) load(); },
    onSync: () => { if (!busy) load(); },
  };
}
