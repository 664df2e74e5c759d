// The console shell: login, the header, hash routing between views, the live stream, alarms.

import {
  api, ApiError, clearToken, COOKIE_SESSION, openStream, setToken, signIn, signOutSession, token,
} from "./api.js";
import * as board from "./board.js";
import * as caseView from "./case.js";
import { fill, h } from "./dom.js";
import * as elder from "./elder.js";
import * as elders from "./elders.js";
import * as fleet from "./fleet.js";
import * as imports from "./imports.js";
import { currentLang, loadLanguage, t, translateStatic } from "./i18n.js";
import * as kpi from "./kpi.js";
import * as ladders from "./ladders.js";
import * as merchants from "./merchants.js";
import * as procedures from "./procedures.js";
import * as volunteers from "./volunteers.js";
import { loadVocabulary, vocabularyLoaded } from "./states.js";
import * as users from "./users.js";
import { startWatch, wireSoundButton } from "./watch.js";

const TOAST_MS = 4000;
const VIEWS = {
  board, case: caseView, elder, elders, fleet, imports, kpi, ladders, merchants, procedures, users,
  volunteers,
};
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
  if (!closeStream) {
    startStream();
    showAdminLinks();
  }
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

/** Links only an administrator can use (import, staff, procedures, ladders) are shown to administrators only. */
async function showAdminLinks() {
  const links = document.querySelectorAll("[data-admin-only]");
  for (const link of links) link.hidden = true;
  try {
    const who = await api("/session");
    for (const link of links) link.hidden = who.role !== "admin";
  } catch {
    // A dead session is handled by the view's own reads (vnh:unauthorized).
  }
}

function signOut(message) {
  view?.unmount?.();
  view = null;
  signOutSession();
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
  const next = () => navigate(location.hash && location.hash !== "#/login" ? location.hash : "#/board");
  const error = h("p", { class: "error", id: "login-error" }, message);
  // Redrawn when the language changes: what was typed meanwhile, and where, stays.
  const typed = (id) => document.getElementById(id)?.value ?? "";
  const focused = document.activeElement?.id;

  // Staff sign in with their own username and password (an HttpOnly session cookie).
  const username = h("input", {
    type: "text", id: "username", name: "username", autocomplete: "username", required: true,
    maxlength: 64, autocapitalize: "none", spellcheck: "false",
  });
  const password = h("input", {
    type: "password", id: "password", name: "password", autocomplete: "current-password",
    required: true, maxlength: 128,
  });
  username.value = typed("username");
  password.value = typed("password");
  const withPassword = async (event) => {
    event.preventDefault();
    error.textContent = ""; // the answer to this attempt, never the last one's
    try {
      await signIn(username.value.trim(), password.value);
      await api("/console/board");
    } catch (err) {
      clearToken();
      password.value = "";
      const key = err instanceof ApiError && err.status === 429 ? "login.locked"
        : err instanceof ApiError && err.status === 403 ? "login.not_staff" : "login.wrong_password";
      error.textContent = t(key);
      return;
    }
    next();
  };

  // A bearer token (VNH_ADMIN_TOKEN or one minted for a person) still works, for set-up.
  const input = h("input", {
    type: "password", id: "token", name: "token", autocomplete: "off", required: true,
    placeholder: t("login.placeholder"),
  });
  input.value = typed("token");
  const withToken = async (event) => {
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
    next();
  };
  // A centre with single sign-on gets a link to its IdP (a plain navigation, no script).
  const sso = h("p", { class: "sso", id: "sso-box", hidden: true },
    h("a", { class: "button primary", id: "sso-login", href: "/api/v1/session/sso/login" },
      t("login.sso")));
  fetch("/api/v1/session/sso", { headers: { Accept: "application/json" } })
    .then((r) => (r.ok ? r.json() : { enabled: false }))
    .then((answer) => { sso.hidden = !answer.enabled; }, () => {});
  fill($("view"), h("div", { class: "login-box" },
    h("form", { class: "login card", id: "login-password", onsubmit: withPassword },
      h("h1", {}, t("login.title")),
      sso,
      h("label", { for: "username" }, t("login.username")),
      username,
      h("label", { for: "password" }, t("login.password")),
      password,
      h("button", { type: "submit", id: "password-submit", class: "primary" }, t("login.submit")),
      error),
    h("form", { class: "login card token-login", id: "login-token", onsubmit: withToken },
      h("label", { for: "token" }, t("login.token")),
      input,
      h("button", { type: "submit", id: "login-submit" }, t("login.submit_token")),
      h("p", { class: "hint" }, t("login.hint")))));
  ({ password, token: input }[focused] ?? username).focus();
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

/** Back from the IdP: "?sso=ok" means the session cookie is set; "?sso=refused" why not. */
function ssoReturn() {
  const answer = new URLSearchParams(location.search).get("sso");
  if (!answer) return "";
  history.replaceState(null, "", `/${location.hash}`);
  if (answer === "ok") setToken(COOKIE_SESSION);
  return answer === "refused" ? t("login.sso_refused") : "";
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
  const refused = ssoReturn();
  if (refused) showLogin(refused);
  else render();
}

main();
