// One case: the elder, the terminal, the history, the messages sent, and the actions. Each
// card is a module of case/ that redraws only itself from one read of the case; this page
// reads, lays the cards out once per visit, and reads again on news.

import { api } from "./api.js";
import { tickCountdowns } from "./countdown.js";
import { fill, h } from "./dom.js";
import { t } from "./i18n.js";
import { mapCard } from "./map.js";
import { wearablePart } from "./wearable.js";
import { actionsCard } from "./case/actions.js";
import { caller, callUnderWay } from "./case/calls.js";
import { readCase } from "./case/data.js";
import { deviceCard } from "./case/device.js";
import { elderCard } from "./case/elder.js";
import { countdownBar, headCard } from "./case/head.js";
import { historyCard } from "./case/history.js";
import { notesCard } from "./case/notes.js";
import { notificationsCard } from "./case/notifications.js";
import { offersCard } from "./case/offers.js";
import { ordersCard } from "./case/orders.js";
import { procedureCard } from "./case/procedure.js";
import { wellnessCard } from "./case/wellness.js";

const enc = encodeURIComponent;
const CALL_POLL_MS = 3000;

/**
 * Make `parent`'s children `nodes` (a null is left out), in order, without moving a node
 * that stays: a node taken out of the page, even for a moment, loses the operator's focus.
 */
function place(parent, nodes) {
  const wanted = nodes.filter(Boolean);
  for (const child of [...parent.children]) if (!wanted.includes(child)) child.remove();
  wanted.forEach((node, i) => {
    if (parent.children[i] !== node) parent.insertBefore(node, parent.children[i] ?? null);
  });
}

/** A card that loads and draws itself (wellness, the watch, the map): always in its place. */
const selfDrawn = (node) => ({ node, update: () => node });

export function mount(root, { arg: caseId, toast }) {
  let read = null; // the last read of the case, for the cards and the next read
  let page = null; // the view and its cards, laid out at the first read
  let callPoll = null;
  let busy = false;
  let left = false;
  const ctx = { caseId, toast, act, reload: load };
  const callsFor = caller(caseId, toast, load);

  /** The view for the case's first read: its cards, each in its column, none drawn yet. */
  function layout({ detail: d }) {
    const wellness = wellnessCard(d.elder_id, toast);
    const wearable = wearablePart(caseId, d.elder_id, d.device_id ?? null, toast);
    // The map is drawn once per visit: case news must not read the map again each time.
    const map = mapCard(d.elder_id);
    const columns = [
      [elderCard(), selfDrawn(wellness.node), deviceCard(), selfDrawn(wearable.node), selfDrawn(map)],
      [procedureCard(ctx), actionsCard(ctx), ordersCard(), offersCard(), historyCard()],
      [notesCard(ctx), notificationsCard()],
    ];
    const grid = h("div", { class: "case-grid" }, columns.map(() => h("div", { class: "col" })));
    const head = headCard();
    const view = h("div", { class: "case-view" }, head.node, grid);
    // On later reads the cards that read their own data read it again.
    const again = () => { wellness.reload(); wearable.reload(); };
    return { view, head, grid, columns, again, fresh: true };
  }

  function draw(s) {
    page ??= layout(s);
    const { view, head, grid, columns } = page;
    view.dataset.caseId = s.detail.id;
    view.dataset.state = s.detail.state;
    place(view, [head.update(s), countdownBar(s), grid]);
    columns.forEach((cards, i) => place(grid.children[i], cards.map((card) => card.update(s))));
    if (page.fresh) {
      page.fresh = false;
      fill(root, view);
    } else {
      page.again();
    }
  }

  async function load() {
    let next;
    try {
      next = await readCase(caseId, read);
    } catch (err) {
      page = null;
      fill(root, h("p", { class: "error" }, t("case.not_found", { id: caseId, detail: err.message })));
      return;
    }
    if (left) return;
    read = { ...next, calls: callsFor(next.calling) };
    // A call under way changes without a case event: look again until it is over.
    clearTimeout(callPoll);
    if (callUnderWay(read.calling)) callPoll = setTimeout(load, CALL_POLL_MS);
    draw(read);
  }

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

  fill(root, h("p", { class: "empty" }, t("common.loading")));
  load();
  const ticker = setInterval(() => tickCountdowns(root), 1000);
  return {
    onCase: (news) => { if (news.case_id === caseId && !busy) load(); },
    onSync: () => { if (!busy) load(); },
    unmount: () => {
      left = true;
      clearInterval(ticker);
      clearTimeout(callPoll);
    },
  };
}
