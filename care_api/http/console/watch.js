// What must not be missed, whatever view is open: emergencies nobody has taken (a banner that
// counts them, a tone repeating until the last is taken) and a lost connection (a full-width
// bar, the board greyed, a tone of its own). Emergencies already waiting at login or reload
// are announced at once.

import { armSound, flash, onArmed, setAlarm, soundArmed } from "./alarm.js";
import { api } from "./api.js";
import { fill, h } from "./dom.js";
import { t } from "./i18n.js";
import { UNOWNED } from "./states.js";

const enc = encodeURIComponent;
const $ = (id) => document.getElementById(id);
// Several events arrive together for one change; one read serves them all.
const RELOAD_DEBOUNCE_MS = 80;
// A blip while the server restarts is shown at once but sounds only if it lasts.
const LOST_SOUND_AFTER_MS = 3000;
const BANNER_IDS = 3;

/** The tone for what is waiting: "call 120" above an escalation above a new emergency. */
function toneFor(waiting) {
  if (!waiting.length) return null;
  if (waiting.some((c) => c.flags.some((f) => f.includes("120")))) return "call120";
  if (waiting.some((c) => c.state === "escalated" || c.level > 0)) return "escalation";
  return "emergency";
}

/** Start watching; returns what the shell feeds it (news, syncs, the link's state) and stop(). */
export function startWatch({ navigate }) {
  let waiting = []; // unowned emergencies, oldest first
  const announced = new Set(); // every emergency already announced on this page
  let reloadTimer = null;
  let lostTimer = null;
  let lost = false;
  let stopped = false;

  async function read() {
    let data;
    try {
      data = await api("/console/board");
    } catch {
      return; // a lost link has its own state; a dead token signs the operator out
    }
    if (stopped) return;
    waiting = data.cases.filter((c) => c.kind === "emergency" && UNOWNED.has(c.state))
      .sort((a, b) => Date.parse(a.opened_at) - Date.parse(b.opened_at));
    const unheard = waiting.filter((c) => !announced.has(c.id));
    for (const c of unheard) announced.add(c.id);
    if (unheard.length) flash(t("alarm.title", { id: unheard[unheard.length - 1].id }));
    setAlarm("cases", toneFor(waiting));
    draw();
  }

  function readSoon() {
    clearTimeout(reloadTimer);
    reloadTimer = setTimeout(read, RELOAD_DEBOUNCE_MS);
  }

  function drawBanner() {
    const banner = $("banner");
    banner.hidden = !waiting.length;
    banner.dataset.tone = toneFor(waiting) ?? "";
    if (!waiting.length) return;
    const count = waiting.length === 1 ? t("alarm.waiting_one") : t("alarm.waiting", { n: waiting.length });
    const more = waiting.length - BANNER_IDS;
    const oldest = waiting[0];
    fill(banner, h("strong", { id: "banner-count" }, count),
      waiting.slice(0, BANNER_IDS).map((c) => h("a", { class: "mono", href: `#/case/${enc(c.id)}` },
        `${c.id} · ${c.elder_name}`)),
      more > 0 ? h("span", {}, t("alarm.more", { n: more })) : null,
      toneFor(waiting) === "call120" ? h("span", { class: "flag" }, t("alarm.call_120")) : null,
      h("button", { type: "button", id: "banner-open", onclick: () => navigate(`#/case/${enc(oldest.id)}`) },
        t("alarm.open_oldest")));
  }

  function drawSound() {
    // Silent is a state the operator must see; armed is the normal state and needs no room.
    const button = $("sound");
    button.hidden = stopped || soundArmed();
    button.dataset.state = soundArmed() ? "on" : "off";
    button.textContent = t(soundArmed() ? "sound.on" : "sound.off");
    button.title = t(soundArmed() ? "sound.on_title" : "sound.off_title");
  }

  function drawLink() {
    const bar = $("offline");
    bar.hidden = !lost;
    document.body.classList.toggle("offline", lost);
    if (lost) fill(bar, h("strong", {}, t("link.lost")), " ", h("span", {}, t("link.lost_detail")));
  }

  function draw() {
    drawBanner();
    drawSound();
    drawLink();
  }

  function onStatus(state) {
    const wasLost = lost;
    lost = state === "reconnecting";
    if (lost && !wasLost) {
      lostTimer = setTimeout(() => setAlarm("link", "lost"), LOST_SOUND_AFTER_MS);
    } else if (!lost) {
      clearTimeout(lostTimer);
      setAlarm("link", null);
      // Live again: whatever happened meanwhile is read afresh (the view reloads on hello too).
      if (wasLost || state === "live") readSoon();
    }
    drawLink();
  }

  const forgetArmed = onArmed(drawSound);
  draw();
  return {
    onCase: readSoon,
    onSync: readSoon,
    onStatus,
    draw,
    stop() {
      stopped = true;
      forgetArmed();
      clearTimeout(reloadTimer);
      clearTimeout(lostTimer);
      waiting = [];
      lost = false;
      setAlarm("cases", null);
      setAlarm("link", null);
      draw();
    },
  };
}

/** The header's sound button arms the sound (a click is the gesture browsers ask for). */
export function wireSoundButton() {
  $("sound").addEventListener("click", armSound);
  // Any click or key press arms it too: the login click does, so a shift starts armed.
  document.addEventListener("pointerdown", armSound);
  document.addEventListener("keydown", armSound);
}
