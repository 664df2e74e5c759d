// The admin's ladders page: per case kind, who is told when nobody takes the case: each
// step's delay, audiences and channels, and how often the last step repeats.

import { api } from "./api.js";
import { fill, h } from "./dom.js";
import { adminOnly, bound, defaultBadge, editorFoot, send, whole } from "./editor.js";
import { t } from "./i18n.js";
import { KINDS } from "./states.js";

const enc = encodeURIComponent;
// The API's audiences and channels (care_api ladders.Audience, domain.channels.Channel); the
// server refuses a pair that does not go together (a console audience off the console).
const AUDIENCES = ["contacts_first", "contacts_rest", "contacts_all", "volunteers_nearest",
  "supervisor", "operators", "technician"];
const CHANNELS = ["sms", "voice", "wechat", "console"];
const DESKS = new Set(["operators", "technician"]);

/** The ladder as the form edits it: numbers as typed text, so a bad one reaches the API. */
function editable(ladder) {
  return {
    repeat: String(ladder.repeat),
    repeat_every_s: String(ladder.repeat_every_s),
    steps: ladder.steps.map((s) => ({
      after_s: String(s.after_s),
      flag: s.flag ?? "",
      notify: s.notify.map((n) => ({
        audience: n.audience, channels: [...n.channels], limit: n.limit === null ? "" : String(n.limit),
      })),
    })),
  };
}

function body(form) {
  return {
    repeat: whole(form.repeat),
    repeat_every_s: whole(form.repeat_every_s),
    steps: form.steps.map((s) => ({
      after_s: whole(s.after_s),
      flag: s.flag.trim() || null,
      notify: s.notify.map((n) => ({ audience: n.audience, channels: n.channels, limit: whole(n.limit) })),
    })),
  };
}

export function mount(root, { toast }) {
  let kind = KINDS[0];
  let ladder = null; // as the API answered
  let form = null; // as the admin is editing it
  const box = h("section", { class: "card", id: "ladder-editor" });

  function targetRow(step, si, target, ti) {
    const path = `steps.${si}.notify.${ti}`;
    const id = `ladder-${si}-${ti}`;
    const audience = h("select", { id: `${id}-audience`, "aria-label": t("ladders.audience"),
      dataset: { path: `${path}.audience` },
      onchange: (e) => {
        target.audience = e.target.value;
        // A desk is reached on the console only; a person never is.
        if (DESKS.has(target.audience)) target.channels = ["console"];
        else if (target.channels.includes("console")) target.channels = ["sms"];
        draw();
      } },
    AUDIENCES.map((a) => h("option", { value: a, selected: a === target.audience },
      t(`ladders.audience.${a}`))));
    const channels = h("span", { class: "channels", dataset: { path: `${path}.channels` } },
      CHANNELS.map((c) => h("label", { class: "nowrap" },
        h("input", { type: "checkbox", id: `${id}-${c}`, checked: target.channels.includes(c),
          onchange: (e) => {
            target.channels = e.target.checked ? [...target.channels, c] : target.channels.filter((x) => x !== c);
          } }), ` ${t(`channel.${c}`)}`)));
    return h("tr", { dataset: { target: String(ti) } },
      h("td", {}, audience),
      h("td", {}, channels),
      h("td", {}, bound(target, "limit", `${path}.limit`, { type: "text", label: t("ladders.limit"),
        attrs: { id: `${id}-limit`, size: 4, inputmode: "numeric", placeholder: t("ladders.everyone") } })),
      h("td", { class: "actions" }, h("button", { type: "button", class: "ghost danger",
        dataset: { action: "remove-target" },
        onclick: () => { step.notify.splice(ti, 1); draw(); } }, t("editor.remove"))));
  }

  function stepBlock(step, si) {
    const id = `ladder-${si}`;
    return h("fieldset", { class: "ladder-step", id: `${id}-step`, dataset: { step: String(si) } },
      h("legend", {}, t("ladders.step", { n: si + 1 })),
      h("div", { class: "editor-pick" },
        h("label", { for: `${id}-after` }, t(si === 0 ? "ladders.after_first" : "ladders.after")),
        bound(step, "after_s", `steps.${si}.after_s`, { label: t("ladders.after"),
          attrs: { id: `${id}-after`, size: 6, inputmode: "numeric" } }),
        h("label", { for: `${id}-flag` }, t("ladders.flag")),
        bound(step, "flag", `steps.${si}.flag`, { label: t("ladders.flag"),
          attrs: { id: `${id}-flag`, size: 24, maxlength: 64, placeholder: t("ladders.flag_hint") } }),
        h("button", { type: "button", class: "ghost danger", dataset: { action: "remove-step" },
          onclick: () => { form.steps.splice(si, 1); draw(); } }, t("ladders.remove_step"))),
      h("table", { class: "grid targets" },
        h("thead", {}, h("tr", {}, ["ladders.audience", "ladders.channels", "ladders.limit", null]
          .map((k) => h("th", {}, k ? t(k) : "")))),
        h("tbody", {}, step.notify.map((target, ti) => targetRow(step, si, target, ti)))),
      h("button", { type: "button", class: "ghost", id: `${id}-add-target`,
        onclick: () => { step.notify.push({ audience: "contacts_all", channels: ["sms"], limit: "" }); draw(); } },
      t("ladders.add_target")));
  }

  function draw() {
    fill(box,
      h("h2", {}, t("ladders.title"), " ", defaultBadge(ladder.default, "ladder-default")),
      h("p", { class: "hint" }, t("ladders.hint")),
      h("div", { class: "editor-pick" },
        h("label", { for: "ladder-kind" }, t("col.kind")),
        h("select", { id: "ladder-kind", onchange: (e) => { kind = e.target.value; load(); } },
          KINDS.map((k) => h("option", { value: k, selected: k === kind }, t(`kind.${k}`))))),
      form.steps.map(stepBlock),
      h("p", {}, h("button", { type: "button", class: "ghost", id: "ladder-add-step",
        onclick: () => { form.steps.push({ after_s: "60", flag: "", notify: [] }); draw(); } },
      t("ladders.add_step"))),
      h("div", { class: "editor-pick" },
        h("label", { for: "ladder-repeat" }, t("ladders.repeat")),
        bound(form, "repeat", "repeat", { label: t("ladders.repeat"),
          attrs: { id: "ladder-repeat", size: 4, inputmode: "numeric" } }),
        h("label", { for: "ladder-repeat-every" }, t("ladders.repeat_every")),
        bound(form, "repeat_every_s", "repeat_every_s", { label: t("ladders.repeat_every"),
          attrs: { id: "ladder-repeat-every", size: 6, inputmode: "numeric" } })),
      editorFoot("ladder", save, reset));
  }

  const show = (answer) => { ladder = answer; form = editable(answer); draw(); };

  let asked = 0;
  async function load() {
    const mine = ++asked; // a kind picked after this one wins, whichever answer comes first
    try {
      const answer = await api(`/ladders/${enc(kind)}`);
      if (mine === asked) show(answer);
    } catch (err) {
      if (err.status !== 401) toast(t("error.load", { detail: err.message }), "error");
    }
  }

  async function save() {
    const saved = await send(box, `/ladders/${enc(kind)}`, "PUT", body(form));
    if (saved) {
      show(saved);
      toast(t("ladders.saved", { kind: t(`kind.${kind}`) }));
    }
  }

  async function reset() {
    const now = await send(box, `/ladders/${enc(kind)}`, "DELETE");
    if (now) {
      show(now);
      toast(t("editor.reset_done"));
    }
  }

  async function start() {
    try {
      const who = await api("/session");
      if (who.role !== "admin") {
        fill(root, adminOnly("ladders.title", "ladders-admin-only"));
        return;
      }
      fill(root, box);
      await load();
    } catch (err) {
      if (err.status !== 401) toast(t("error.load", { detail: err.message }), "error");
    }
  }

  fill(root, h("p", { class: "empty" }, t("common.loading")));
  start();
  return {};
}
