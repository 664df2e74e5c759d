// Small pieces the case page's cards share: a fact's term and value, a dash for nothing.

import { h } from "../dom.js";

/** "—" for a value that is not there. */
export const dash = (value) => (value === null || value === undefined || value === "" ? "—" : value);

/** A fact of a <dl class="facts">: its term and its value. */
export function field(label, ...value) {
  return [h("dt", {}, label), h("dd", {}, ...value)];
}
