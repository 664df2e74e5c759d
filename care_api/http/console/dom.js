// Building DOM nodes safely: text always goes in as text nodes, never parsed as HTML.

const SVG_NS = "http://www.w3.org/2000/svg";

function apply(node, attrs) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      node.addEventListener(name.slice(2), value);
    } else if (name === "class") {
      node.setAttribute("class", Array.isArray(value) ? value.filter(Boolean).join(" ") : value);
    } else if (name === "dataset") {
      Object.assign(node.dataset, value);
    } else if (name === "style" || name.startsWith("on")) {
      // Inline styles and handler strings would defeat the page's content security policy.
      throw new Error(`attribute ${name} is not allowed`);
    } else {
      node.setAttribute(name, value === true ? "" : String(value));
    }
  }
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** An HTML element with attributes and children; strings become text nodes. */
export function h(tag, attrs, ...children) {
  const node = document.createElement(tag);
  apply(node, attrs);
  append(node, children);
  return node;
}

/** An SVG element, for charts. */
export function s(tag, attrs, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  apply(node, attrs);
  append(node, children);
  return node;
}

/** Replace everything inside `node` with `children`. */
export function fill(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

function isEdited(el) {
  if (el.type === "checkbox" || el.type === "radio") return el.checked !== el.defaultChecked;
  if (el.tagName === "SELECT") return [...el.options].some((o) => o.selected !== o.defaultSelected);
  return el.value !== el.defaultValue;
}

/**
 * Like fill, but what the operator is typing survives: a live update redraws the view while
 * a form is half filled, so edited fields (by id) keep their values, and focus and caret stay.
 */
export function refill(node, ...children) {
  const edited = new Map();
  for (const el of node.querySelectorAll("input[id], select[id], textarea[id]")) {
    if (isEdited(el)) edited.set(el.id, el.type === "checkbox" || el.type === "radio" ? el.checked : el.value);
  }
  const active = document.activeElement;
  const focusId = active && node.contains(active) && active.id ? active.id : null;
  const caret = focusId && typeof active.selectionStart === "number"
    ? [active.selectionStart, active.selectionEnd] : null;
  fill(node, ...children);
  for (const [id, value] of edited) {
    const el = node.querySelector(`#${CSS.escape(id)}`);
    if (!el) continue;
    if (typeof value === "boolean") el.checked = value; else el.value = value;
  }
  const again = focusId ? node.querySelector(`#${CSS.escape(focusId)}`) : null;
  if (again) {
    again.focus();
    if (caret && typeof again.setSelectionRange === "function") again.setSelectionRange(...caret);
  }
  return node;
}

/** A tel: link for a phone number; only digits and a leading plus reach the href. */
export function telLink(phone, label, attrs = {}) {
  const digits = String(phone || "").replace(/[^0-9+]/g, "");
  return h("a", { ...attrs, href: `tel:${digits}` }, label ?? phone);
}
