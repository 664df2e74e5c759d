// The console shell: login, the header, hash routing between views, the live stream, alarms.

import { api, ApiError, clearToken, openStream, setToken, token } from "./api.js";
import * as board from "./board.js";
import * as caseView from "./case.js";
import { fill, h } from "./dom.js";
import * as elder from "./elder.js";
import * as elders from "./elders.js";
import * as fleet from "./fleet.js";
import { currentLang, loadLanguage, t, translateStatic } from "./i18n.js";
import * as kpi from "./kpi.js";
import * as merchants from "./merchants.js";
import * as volunteers from "./volunteers.js";
import { loadVocabulary, vocabularyLoaded } from "./states.js";
import { startWatch, wireSoundButton } from "./watch.js";

const TOAST_MS = 4000;
const VIEWS = { board, case: caseView, elder, elders, fleet, kpi, merchants, volunteers };
// The header link a view belongs under: one case is part of the board, one elder of the directory.
const SECTION = { case: "board", elder: "elders" };
const $ = (id) => document.getElementById(id);

let view = null;
let signedIn = false;
let closeStream = null;
let watch = null; // the alarm's watch over unowned emergencies and the link, while signed in
let toastTimer = null;

function route() {
  const [, name, arg] = location.hash.split("/");
  return { name: name in VIEWS ? name : "board", arg: arg ? decodeURIComponent(arg) : null };
}

function navigate(hash) {
  if (location.hash === hash) render();
  else location.hash = hash;
}

function toast(message, kind = "ok") {
  const node = $("toast");
  node.textContent = message;
  node.dataset.kind = kind;
  node.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { node.hidden = true; }, TOAST_MS);
}

function setSignedIn(value) {
  signedIn = value;
  $("nav").hidden = !signedIn;
  $("logout").hidden = !signedIn;
  $("live").hidden = !signedIn;
  $("search").hidden = !signedIn;
  if (!signedIn) {
    closeStream?.();
    closeStream = null;
    watch?.stop();
    watch = null;
  }
}

function setLive(state) {
  const node = $("live");
  node.dataset.state = state;
  node.textContent = t(`live.${state}`);
  watch?.onStatus(state);
}

function render() {
  view?.unmount?.();
  view = null;
  if (!token()) {
    setSignedIn(false);
    showLogin();
    return;
  }
  setSignedIn(true);
  if (!vocabularyLoaded()) {
    // Kinds and states come from the server; nothing is drawn before they are here.
    loadVocabulary().then(render, (err) => {
      if (err instanceof ApiError && err.status === 401) return; // signed out already
      fill($("view"), h("p", { class: "error" }, t("error.load", { detail: err.message })));
    });
    return;
  }
  if (!closeStream) startStream();
  const { name, arg } = route();
  for (const link of document.querySelectorAll("[data-route]")) {
    link.classList.toggle("active", link.dataset.route === (SECTION[name] ?? name));
  }
  // Each view draws into its own box: a view left while its reads were still out then draws
  // into a detached box, never over the view the operator moved on to.
  const box = h("div", { class: "view-box" });
  fill($("view"), box);
  view = VIEWS[name].mount(box, { arg, toast, navigate });
}

function signOut(message) {
  view?.unmount?.();
  view = null;
  clearToken();
  setSignedIn(false);
  showLogin(message);
}

function startStream() {
  watch = startWatch({ navigate });
  setLive("connecting");
  closeStream = openStream({
    onStatus: setLive,
    onSync: () => {
      watch?.onSync();
      view?.onSync?.();
    },
    onCase: (news) => {
      watch?.onCase(news);
      view?.onCase?.(news);
    },
  });
}

function showLogin(message = "") {
  const input = h("input", {
    type: "password", id: "token", name: "token", autocomplete: "off", required: true,
    placeholder: t("login.placeholder"),
  });
  const error = h("p", { class: "error", id: "login-error" }, message);
  const submit = async (event) => {
    event.preventDefault();
    setToken(input.value.trim());
    try {
      await api("/console/board");
    } catch (err) {
      clearToken();
      const forbidden = err instanceof ApiError && err.status === 403;
      error.textContent = t(forbidden ? "login.not_staff" : "login.invalid");
      return;
    }
    navigate(location.hash && location.hash !== "#/login" ? location.hash : "#/board");
  };
  fill($("view"), h("form", { class: "login card", onsubmit: submit },
    h("h1", {}, t("login.title")),
    h("label", { for: "token" }, t("login.token")),
    input,
    h("button", { type: "submit", id: "login-submit", class: "primary" }, t("login.submit")),
    error,
    h("p", { class: "hint" }, t("login.hint"))));
  input.focus();
}

function setLanguageButton() {
  $("lang").textContent = currentLang() === "zh" ? "English" : "中文";
  const hint = t("search.header");
  $("search-q").placeholder = hint;
  $("search-q").setAttribute("aria-label", hint);
  $("search-q").title = t("search.shortcut");
}

const CASE_NUMBER = /^C-\d{8}-\d+$/i;

/** The header's search: a case number opens the case, anything else the elder directory. */
function search(event) {
  event.preventDefault();
  const input = $("search-q");
  const q = input.value.trim();
  input.value = "";
  input.blur();
  if (CASE_NUMBER.test(q)) navigate(`#/case/${encodeURIComponent(q.toUpperCase())}`);
  else navigate(q ? `#/elders/${encodeURIComponent(q)}` : "#/elders");
}

function shortcut(event) {
  // "/" searches from anywhere but a field the operator is typing in.
  const typing = event.target.closest?.("input, textarea, select, [contenteditable]");
  if (event.key !== "/" || typing || !signedIn || event.ctrlKey || event.metaKey || event.altKey) return;
  event.preventDefault();
  $("search-q").focus();
}

async function main() {
  await loadLanguage();
  translateStatic();
  setLanguageButton();
  $("lang").addEventListener("click", async () => {
    await loadLanguage(currentLang() === "zh" ? "en" : "zh");
    translateStatic();
    setLanguageButton();
    setLive($("live").dataset.state);
    watch?.draw();
    render();
  });
  $("logout").addEventListener("click", () => signOut(""));
  $("search").addEventListener("submit", search);
  document.addEventListener("keydown", shortcut);
  window.addEventListener("hashchange", render);
  window.addEventListener("vnh:unauthorized", () => {
    if (signedIn) signOut(t("login.expired")); // else the login form reports it itself
  });
  wireSoundButton();
  render();
}

main();
