// What the case page shows, read in one go: the case, its elder and contacts, the terminal,
// orders or volunteer offers, the merchants' categories, the calls and the outcome codes.

import { api } from "../api.js";
import { outcomeCodes } from "../outcomes.js";
import { ACTIVE } from "../states.js";

const enc = encodeURIComponent;
// Volunteers' names by id, kept for the page's life: a name does not change mid-shift.
const volunteerNames = new Map();

async function nameVolunteers(tasks) {
  const unknown = [...new Set(tasks.map((task) => task.volunteer_id))].filter((id) => !volunteerNames.has(id));
  const found = await Promise.allSettled(unknown.map((id) => api(`/volunteers/${id}`)));
  found.forEach((r, i) => { if (r.status === "fulfilled") volunteerNames.set(unknown[i], r.value.name); });
}

export const volunteerName = (id) => volunteerNames.get(id) ?? `volunteer:${id}`;

const value = (settled, otherwise) => (settled.status === "fulfilled" ? settled.value : otherwise);

/**
 * Read case `caseId` and everything its cards show; throws when the case cannot be read.
 * `before` is the last read: the categories and outcome codes, read once, are carried over.
 */
export async function readCase(caseId, before = null) {
  const detail = await api(`/cases/${enc(caseId)}`);
  const id = detail.elder_id;
  const kind = detail.kind;
  const offered = detail.events.some((ev) => ev.action === "offered");
  let categories = before?.categories ?? [];
  const [e, c, d, o, v, m, k] = await Promise.allSettled([
    api(`/elders/${id}`),
    api(`/elders/${id}/contacts`),
    detail.device_id ? api(`/devices/${enc(detail.device_id)}`) : Promise.resolve(null),
    // Orders exist on service cases, offers on care cases (and on cases reclassified since).
    kind === "service" ? api(`/orders?case_id=${enc(caseId)}`) : Promise.resolve([]),
    kind === "care" || offered ? api(`/tasks?case_id=${enc(caseId)}`) : Promise.resolve([]),
    kind === "service" && !categories.length ? api("/merchants?limit=200") : Promise.resolve(null),
    api(`/cases/${enc(caseId)}/calls`),
  ]);
  // The API lists newest first; the operator reads the rounds in order, nearest first.
  const offers = value(v, []).sort((a, b) => a.ring - b.ring || a.distance_km - b.distance_km);
  const merchants = value(m, null);
  if (merchants) categories = [...new Set(merchants.flatMap((merchant) => merchant.categories))].sort();
  await nameVolunteers(offers);
  let outcomes = before?.outcomes ?? [];
  if ((ACTIVE.has(detail.state) || detail.outcome) && !outcomes.length) outcomes = await outcomeCodes();
  return {
    detail,
    elder: value(e, null),
    contacts: value(c, []),
    device: value(d, null),
    orders: value(o, []),
    offers,
    categories,
    outcomes,
    calling: value(k, { can_call: false, calls: [] }),
  };
}
