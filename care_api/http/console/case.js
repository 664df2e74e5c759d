// One case: the elder, the terminal, the history, the messages sent, and the actions.

import { api, serverNow } from "./api.js";
import { fill, h, refill, telLink } from "./dom.js";
import { formatDuration, formatTime, t, tOr } from "./i18n.js";
import { ACTIVE, AWAITING_CALLBACK, KINDS, LINES, STRATEGIES, UNOWNED, kindBadge, lineBadge, stateBadge }
  from "./states.js";
import { wearableCard } from "./wearable.js";
import { wellnessCard } from "./wellness.js";
import { caseBadges, contactBadge } from "./codes.js";
import { countdown, label, namePeople, notesCard, recipientText, outcomeCodes, outcomeSelect, personCell, personText, scriptCard,
  tickCountdowns, tickText } from "./desk.js";
import { mapCard } from "./map.js";

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

// A bridged call's states that are over; until then the page follows it.
const CALL_OVER = new Set(["completed", "busy", "no-answer", "failed", "canceled", "unplaced"]);
const CALL_POLL_MS = 3000;
// The phone an operator gave for calls, kept in this browser (the rota's is used without it).
const OPERATOR_PHONE_KEY = "vnh.operator_phone";

const RUNNING_ORDER = new Set(["assigned", "contacted"]);
// Volunteers' names by id, kept for the page's life: a name does not change mid-shift.
const volunteerNames = new Map();

async function nameVolunteers(tasks) {
  const unknown = [...new Set(tasks.map((task) => task.volunteer_id))].filter((id) => !volunteerNames.has(id));
  const found = await Promise.allSettled(unknown.map((id) => api(`/volunteers/${id}`)));
  found.forEach((r, i) => { if (r.status === "fulfilled") volunteerNames.set(unknown[i], r.value.name); });
}

export function mount(root, { arg: caseId, toast }) {
  let detail = null;
  let elder = null;
  let contacts = [];
  let device = null;
  let orders = [];
  let offers = [];
  let categories = [];
  let outcomes = [];
  let mapNode = null; // drawn once per visit: case news must not re-read the map each time
  let calling = { can_call: false, calls: [] };
  let callPoll = null;
  let busy = false;

  async function load() {
    try {
      detail = await api(`/cases/${enc(caseId)}`);
    } catch (err) {
      fill(root, h("p", { class: "error" }, t("case.not_found", { id: caseId, detail: err.message })));
      return;
    }
    const id = detail.elder_id;
    const kind = detail.kind;
    const [e, c, d, o, v, m, k] = await Promise.allSettled([
      api(`/elders/${id}`),
      api(`/elders/${id}/contacts`),
      detail.device_id ? api(`/devices/${enc(detail.device_id)}`) : Promise.resolve(null),
      // Orders exist on service cases, offers on care cases (and on cases reclassified since).
      kind === "service" ? api(`/orders?case_id=${enc(caseId)}`) : Promise.resolve([]),
      kind === "care" || hasEvent("offered") ? api(`/tasks?case_id=${enc(caseId)}`) : Promise.resolve([]),
      kind === "service" && !categories.length ? api("/merchants?limit=200") : Promise.resolve(null),
      api(`/cases/${enc(caseId)}/calls`),
    ]);
    calling = k.status === "fulfilled" ? k.value : { can_call: false, calls: [] };
    // A call under way changes without a case event: look again until it is over.
    clearTimeout(callPoll);
    if (calling.calls.some((call) => !CALL_OVER.has(call.state))) callPoll = setTimeout(load, CALL_POLL_MS);
    elder = e.status === "fulfilled" ? e.value : null;
    contacts = c.status === "fulfilled" ? c.value : [];
    device = d.status === "fulfilled" ? d.value : null;
    orders = o.status === "fulfilled" ? o.value : [];
    // The API lists newest first; the operator reads the rounds in order, nearest first.
    offers = (v.status === "fulfilled" ? v.value : [])
      .sort((a, b) => a.ring - b.ring || a.distance_km - b.distance_km);
    if (m.status === "fulfilled" && m.value) {
      categories = [...new Set(m.value.flatMap((merchant) => merchant.categories))].sort();
    }
    await nameVolunteers(offers);
    if ((ACTIVE.has(detail.state) || detail.outcome) && !outcomes.length) outcomes = await outcomeCodes();
    draw();
  }

  const hasEvent = (action) => detail.events.some((ev) => ev.action === action);

  async function act(path, body, done) {
    if (busy) return;
    busy = true;
    try {
      const result = await api(`/cases/${enc(caseId)}/${path}`, { method: "POST", body });
      toast(typeof done === "function" ? done(result) : t(done, { id: caseId }));
      // What was sent is done with: the redraw must not carry it into the next form (a second
      // callback would otherwise go out as "not reached" again).
      for (const form of root.querySelectorAll("form")) form.reset();
    } catch (err) {
      toast(t("error.action", { detail: err.message }), "error");
    } finally {
      busy = false;
    }
    await load();
  }

  // "Call": a bridged call through the service (your phone rings, then theirs); a tel: link
  // only where the service has no Twilio account to place one.
  function callLink(party, phone, label, attrs = {}) {
    if (!calling.can_call) return telLink(phone, label, attrs);
    return h("button", { type: "button", ...attrs, dataset: { party },
      onclick: () => placeCall(party) }, label === phone ? `📞 ${label}` : label);
  }

  async function placeCall(party, askPhone = false) {
    let phone = localStorage.getItem(OPERATOR_PHONE_KEY) || undefined;
    if (askPhone) {
      phone = window.prompt(t("call.your_phone"), phone ?? "") || undefined;
      if (!phone) return;
      localStorage.setItem(OPERATOR_PHONE_KEY, phone);
    }
    try {
      await api(`/cases/${enc(caseId)}/calls`, { method: "POST", body: { to: party, operator_phone: phone } });
      toast(t("call.placed"));
    } catch (err) {
      // No phone of the operator's on the rota or given yet: ask for one, once.
      if (err.status === 422 && !askPhone && String(err.message).includes("operator_phone")) {
        await placeCall(party, true);
        return;
      }
      toast(t("error.action", { detail: err.message }), "error");
    }
    await load();
  }

  function partyButton(party) {
    return h("button", { type: "button", class: "small", dataset: { party }, onclick: () => placeCall(party) },
      t("call.call"));
  }

  function callsList() {
    if (!calling.calls.length) return null;
    return h("ul", { class: "calls", id: "case-calls" }, calling.calls.slice(0, 5).map((call) =>
      h("li", { dataset: { callId: String(call.id), state: call.state } },
        h("span", {}, call.party_name || call.party), " ",
        h("span", { class: `badge delivery c-${call.state}` }, tOr(`call.${call.state}`, call.state)),
        call.duration_s !== null ? ` ${formatDuration(call.duration_s)}` : "",
        call.detail ? h("div", { class: "muted small" }, call.detail) : null)));
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
        field(t("elder.phone"), callLink("elder", elder.phone, elder.phone, { class: "tel" })),
        field(t("elder.address"), dash(elder.address)),
        field(t("elder.district"), dash(elder.district)),
        field(t("elder.notes"), notes)),
      h("h3", {}, t("elder.contacts")),
      contacts.length
        ? h("table", { class: "grid compact" }, h("tbody", {}, contacts.map((c) => h("tr", {},
          h("td", { class: "num" }, String(c.priority)), h("td", {}, c.name, contactBadge(c)),
          h("td", { class: "muted" }, dash(c.relation)),
          h("td", {}, callLink(`contact:${c.id}`, c.phone, c.phone, { class: "tel" }))))))
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
    // A late "I'm OK" after a missed check-in: nobody closes it but an operator.
    const late = UNOWNED.has(state) ? detail.events.findLast((ev) => ev.action === "checked_in_late") : null;
    if (late) {
      parts.push(h("button", { type: "button", id: "act-confirm-checkin", class: "primary",
        onclick: () => act("resolve", { note: t("checkin.late_note", { at: formatTime(late.at) }) }, "done.resolve") },
      t("action.confirm_checkin")));
    }
    if (UNOWNED.has(state)) {
      parts.push(h("button", { type: "button", id: "act-ack", class: "primary",
        onclick: () => act("ack", {}, "done.ack") }, t("action.ack")));
    }
    if (elder) parts.push(callLink("elder", elder.phone, t("action.call_elder"), { class: "button", id: "act-call" }));
    if (state === "accepted") {
      parts.push(h("button", { type: "button", id: "act-onsite",
        onclick: () => act("on-site", undefined, "done.on_site") }, t("action.on_site")));
    }
    const forms = [];
    // A service case goes to a merchant, a care case nobody owns to volunteers.
    if (detail.kind === "service" && ACTIVE.has(state)) forms.push(dispatchForm());
    if (detail.kind === "care" && UNOWNED.has(state)) forms.push(offerForm());
    if (ACTIVE.has(state)) forms.push(resolveForm());
    if (state !== "closed") forms.push(reclassifyForm());
    if (AWAITING_CALLBACK.has(state)) forms.push(callbackForm());
    const lateNotice = late ? h("p", { class: "late-checkin", id: "late-checkin", role: "status" },
      t("checkin.late_notice", { at: formatTime(late.at) })) : null;
    return h("section", { class: "card", id: "actions-card" }, h("h2", {}, t("case.actions")),
      lateNotice, h("div", { class: "actions" }, parts), callsList(), forms,
      state === "closed" ? h("p", { class: "muted" }, t("case.closed_note")) : null);
  }

  function dispatchForm() {
    const running = orders.find((o) => RUNNING_ORDER.has(o.status));
    if (running) {
      return h("p", { class: "muted", id: "dispatch-running" },
        t("dispatch.running", { id: running.id, merchant: running.merchant_name ?? "—" }));
    }
    const category = h("input", { id: "dispatch-category", list: "merchant-categories", required: true,
      maxlength: 64, placeholder: t("dispatch.category_hint"), autocomplete: "off" });
    const strategy = h("select", { id: "dispatch-strategy" },
      STRATEGIES.map((k) => h("option", { value: k }, t(`strategy.${k}`))));
    const note = h("input", { id: "dispatch-note", maxlength: 1000, placeholder: t("dispatch.note") });
    const placed = (order) => (order.merchant_name
      ? t("done.dispatch", { id: order.id, merchant: order.merchant_name })
      : t("done.dispatch_unassigned", { category: order.category }));
    return h("form", { class: "inline", id: "dispatch-form", onsubmit: (e) => {
      e.preventDefault();
      act("orders", { category: category.value.trim(), strategy: strategy.value, note: note.value }, placed);
    } }, h("label", { for: "dispatch-category" }, t("dispatch.category")), category,
    h("datalist", { id: "merchant-categories" }, categories.map((c) => h("option", { value: c }))),
    strategy, note,
    h("button", { type: "submit", id: "act-dispatch", class: "primary" }, t("action.dispatch")));
  }

  function offerForm() {
    const waiting = offers.filter((o) => o.status === "offered");
    if (waiting.length) {
      return h("p", { class: "muted", id: "offer-running" }, t("offer.running", { n: waiting.length }));
    }
    const need = h("input", { id: "offer-need", maxlength: 500, placeholder: t("offer.need_hint") });
    const skill = h("input", { id: "offer-skill", maxlength: 64, placeholder: t("offer.skill") });
    const medical = h("input", { type: "checkbox", id: "offer-medical" });
    return h("form", { class: "inline", id: "offer-form", onsubmit: (e) => {
      e.preventDefault();
      const body = { need: need.value.trim(), needs_medical: medical.checked };
      if (skill.value.trim()) body.skill = skill.value.trim();
      act("offers", body, "done.offer");
    } }, h("label", { for: "offer-need" }, t("offer.label")), need, skill,
    h("label", { for: "offer-medical", class: "check" }, medical, t("offer.medical")),
    h("button", { type: "submit", id: "act-offer", class: "primary" }, t("action.offer")));
  }

  function ordersCard() {
    if (detail.kind !== "service" && !orders.length) return null;
    return h("section", { class: "card", id: "orders-card" },
      h("h2", {}, t("case.orders"), h("span", { class: "count" }, String(orders.length))),
      orders.length
        ? h("table", { class: "grid compact" },
          h("thead", {}, h("tr", {}, ["col.order", "col.category", "col.merchant", "col.status", "col.contact"]
            .map((k) => h("th", {}, t(k))))),
          h("tbody", {}, orders.map((o) => h("tr", { dataset: { orderId: String(o.id), status: o.status } },
            h("td", { class: "mono" }, `#${o.id}`),
            h("td", {}, o.category, o.note ? h("div", { class: "muted small" }, o.note) : null),
            h("td", {}, o.merchant_name ?? h("span", { class: "muted" }, t("dispatch.nobody")),
              o.merchant_id && calling.can_call ? [" ", partyButton(`merchant:${o.merchant_id}`)] : null),
            h("td", {}, h("span", { class: `badge delivery o-${o.status}` }, tOr(`order.${o.status}`, o.status))),
            h("td", { class: "mono nowrap" }, contactCell(o))))))
        : h("p", { class: "empty" }, t("case.no_orders")));
  }

  function contactCell(o) {
    if (o.contacted_at) return t("dispatch.contacted_at", { at: formatTime(o.contacted_at) });
    if (o.contact_due_at && RUNNING_ORDER.has(o.status)) {
      return t("dispatch.contact_due", { at: formatTime(o.contact_due_at) });
    }
    return "—";
  }

  function offersCard() {
    if (detail.kind !== "care" && !offers.length) return null;
    return h("section", { class: "card", id: "offers-card" },
      h("h2", {}, t("case.offers"), h("span", { class: "count" }, String(offers.length))),
      offers.length
        ? h("table", { class: "grid compact" },
          h("thead", {}, h("tr", {}, ["col.volunteer", "col.ring", "col.distance", "col.status", "col.answered"]
            .map((k) => h("th", {}, t(k))))),
          h("tbody", {}, offers.map((o) => h("tr", { dataset: { volunteerId: String(o.volunteer_id), status: o.status } },
            h("td", {}, volunteerNames.get(o.volunteer_id) ?? `volunteer:${o.volunteer_id}`,
              calling.can_call ? [" ", partyButton(`volunteer:${o.volunteer_id}`)] : null),
            h("td", { class: "num" }, String(o.ring)),
            h("td", { class: "num" }, `${o.distance_km.toFixed(1)} km`),
            h("td", {}, h("span", { class: `badge delivery t-${o.status}` }, tOr(`offer.${o.status}`, o.status))),
            h("td", { class: "mono nowrap" }, formatTime(o.answered_at ?? o.offered_at))))))
        : h("p", { class: "empty" }, t("case.no_offers")));
  }

  function resolveForm() {
    const note = h("input", { id: "resolve-note", maxlength: 1000, placeholder: t("action.note") });
    // The outcome is required here: the centre's figures count cases by it.
    const outcome = outcomeSelect(outcomes);
    return h("form", { class: "inline", id: "resolve-form", novalidate: true, onsubmit: (e) => {
      e.preventDefault();
      if (!outcome.value) {
        outcome.setAttribute("aria-invalid", "true");
        outcome.focus();
        toast(t("outcome.required"), "error");
        return;
      }
      act("resolve", { note: note.value, outcome: outcome.value }, "done.resolve");
    } }, h("label", { for: "resolve-outcome" }, t("action.resolve_label")), outcome, note,
    h("button", { type: "submit", id: "act-resolve" }, t("action.resolve")));
  }

  function reclassifyForm() {
    const kind = h("select", { id: "reclass-kind" }, KINDS.filter((k) => k !== detail.kind)
      .map((k) => h("option", { value: k }, t(`kind.${k}`))),
    h("option", { value: "" }, t("action.same_kind")));
    // The line the call-back found (a single press that is legal help); the server picks
    // the kind that goes with it when the kind is left as it is.
    const line = h("select", { id: "reclass-line" }, h("option", { value: "" }, t("line.same")),
      LINES.filter((l) => l !== detail.line).map((l) => h("option", { value: l }, t(`line.${l}`))));
    const note = h("input", { id: "reclass-note", maxlength: 900, placeholder: t("action.why") });
    return h("form", { class: "inline", onsubmit: (e) => {
      e.preventDefault();
      const body = { note: note.value };
      if (kind.value) body.kind = kind.value;
      if (line.value) body.line = line.value;
      act("reclassify", body, "done.reclassify");
    } }, h("label", { for: "reclass-kind" }, t("action.reclassify_label")), kind,
    h("label", { for: "reclass-line" }, t("col.line")), line, note,
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
      }, (after) => (after.state === "closed"
        ? t("done.callback", { id: caseId })
        : t("done.callback_again", { id: caseId })));
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
    // The server says its lines (a callback's answers too) in the console's language.
    const why = (ev) => (ev.action === "script_step" ? tickText(ev, detail.script)
      : namePeople(ev.why, detail.people));
    return h("section", { class: "card", id: "history-card" }, h("h2", {}, t("case.history")),
      h("table", { class: "grid compact" },
        h("thead", {}, h("tr", {}, ["col.time", "col.by", "col.what", "col.why"].map((k) => h("th", {}, t(k))))),
        h("tbody", {}, detail.events.map((ev) => h("tr", { class: `ev-${ev.action}` },
          h("td", { class: "mono nowrap" }, formatTime(ev.at)), h("td", { class: "by" }, personCell(ev.who)),
          h("td", {}, what(ev)), h("td", {}, why(ev)))))));
  }

  function notificationsCard() {
    const list = detail.notifications;
    return h("section", { class: "card", id: "notifications-card" },
      h("h2", {}, t("case.notifications"), h("span", { class: "count" }, String(list.length))),
      list.length
        ? h("table", { class: "grid compact" },
          // Three columns, so the card's width at 1280×720 holds them all without clipping.
          h("thead", {}, h("tr", {}, ["col.time", "col.to", "col.status"].map((k) => h("th", {}, t(k))))),
          h("tbody", {}, list.map((n) => h("tr", { title: n.body },
            h("td", { class: "mono" }, formatTime(n.created_at)),
            h("td", {}, n.recipient ? h("div", {}, recipientText(n.recipient, detail.people)) : null,
              h("span", { class: "mono small" }, n.to)),
            h("td", {}, h("div", { class: "small" }, tOr(`channel.${n.channel}`, n.channel)),
              h("span", { class: `badge delivery d-${n.status}` }, tOr(`delivery.${n.status}`, n.status)),
              n.detail ? h("div", { class: "muted small" }, n.detail) : null)))))
        : h("p", { class: "empty" }, t("case.no_notifications")));
  }

  function draw() {
    const d = detail;
    mapNode ??= mapCard(d.elder_id);
    const running = ACTIVE.has(d.state);
    const since = running ? (serverNow() - Date.parse(d.opened_at)) / 1000 : null;
    refill(root, h("div", { class: "case-view", dataset: { caseId: d.id, state: d.state } },
      h("header", { class: ["case-head", d.kind === "emergency" && "emergency"] },
        h("a", { href: "#/board", class: "back" }, `← ${t("nav.board")}`),
        h("h1", { class: "mono" }, d.id), kindBadge(d.kind), lineBadge(d.line), stateBadge(d.state),
        caseBadges(d),
        h("span", { class: "summary" }, d.summary),
        // The ladder's flags ("call 120") matter while nobody owns the case.
        UNOWNED.has(d.state)
          ? [...new Set(d.events.filter((ev) => ev.action === "flag").map((ev) => ev.why))]
            .map((f) => h("span", { class: "flag" }, f))
          : null,
        h("span", { class: "meta" }, t("case.opened", { at: formatTime(d.opened_at) }),
          since !== null ? ` · ${t("case.age", { age: formatDuration(since) })}` : "",
          d.level ? ` · ${t("board.step", { n: d.level })}` : "",
          ` · ${t("col.owner")}: ${d.owner ? personText(d.owner_who) : t("board.unowned")}`,
          d.outcome ? ` · ${t("outcome.label")}: ${outcomeLabel(d.outcome.code)}` : "")),
      countdown(d.next_escalation),
      h("div", { class: "case-grid" },
        h("div", { class: "col" }, elderCard(), wellnessCard(d.elder_id, toast), deviceCard(),
          wearableCard(d.id, d.elder_id, d.device_id ?? null, toast), mapNode),
        h("div", { class: "col" }, scriptCard(caseId, d.script, ACTIVE.has(d.state), load, toast), actionsCard(),
          ordersCard(), offersCard(), historyCard()),
        h("div", { class: "col" }, notesCard(caseId, load, toast), notificationsCard()))));
  }

  function outcomeLabel(code) {
    const known = outcomes.find((o) => o.code === code);
    return known ? label(known.labels) : code;
  }

  function onlineLabel(online) {
    const key = online === true ? "online" : online === false ? "offline" : "unknown";
    return h("span", { class: `dot ${key}` }, t(`fleet.${key}`));
  }

  fill(root, h("p", { class: "empty" }, t("common.loading")));
  load();
  const ticker = setInterval(() => tickCountdowns(root), 1000);
  return {
    onCase: (news) => { if (news.case_id === caseId && !busy) load(); },
    onSync: () => { if (!busy) load(); },
    unmount: () => clearInterval(ticker),
  };
}
