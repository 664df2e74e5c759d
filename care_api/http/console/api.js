// Talking to the API: the bearer token or the session cookie, JSON calls, the live stream.

import { currentLang } from "./i18n.js";

const TOKEN_KEY = "vnh.token";
// Signed in with a password: the HttpOnly cookie carries the session, this tab only notes it.
export const COOKIE_SESSION = "cookie-session";
const STREAM_RETRY_MS = 5000;

let skewMs = 0; // server clock minus browser clock, so ages use the server's time

export const token = () => sessionStorage.getItem(TOKEN_KEY);
export const setToken = (value) => sessionStorage.setItem(TOKEN_KEY, value);
export const clearToken = () => sessionStorage.removeItem(TOKEN_KEY);
const cookieMode = () => token() === COOKIE_SESSION;

/** The headers every call sends: the bearer token, or the header a cookie write needs (CSRF). */
export function authHeaders() {
  return cookieMode() ? { "X-VNH-Console": "1" } : { Authorization: `Bearer ${token()}` };
}

/** Record the server's time as told by a response, so `serverNow()` follows its clock. */
export function noteServerTime(iso) {
  skewMs = Date.parse(iso) - Date.now();
}

export const serverNow = () => Date.now() + skewMs;

/** The console's language as a BCP 47 tag for the server. */
export const readerLanguage = () => (currentLang() === "zh" ? "zh-CN" : "en");

export class ApiError extends Error {
  constructor(status, detail) {
    super(typeof detail === "string" ? detail : JSON.stringify(detail));
    this.status = status;
    this.detail = detail; // a 422's list of {loc, type, msg}: forms show each by its field
  }
}

/** Call /api/v1`path`; throws ApiError with the server's detail on any non-2xx answer. */
export async function api(path, { method = "GET", body, file } = {}) {
  const headers = {
    Accept: "application/json",
    ...authHeaders(),
    // The server says its own texts (case titles, history, flags) in the console's language.
    "Accept-Language": readerLanguage(),
  };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  // A file goes as the raw body (bulk import): no multipart to parse on the server.
  if (file !== undefined) headers["Content-Type"] = file.type || "application/octet-stream";
  const response = await fetch(`/api/v1${path}`, {
    method,
    headers,
    body: file ?? (body === undefined ? undefined : JSON.stringify(body)),
    cache: "no-store",
    credentials: "same-origin",
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    if (response.status === 401) window.dispatchEvent(new CustomEvent("vnh:unauthorized"));
    throw new ApiError(response.status, data.detail ?? response.statusText);
  }
  return data;
}

/**
 * Follow the server's case stream. EventSource cannot send headers, so the token rides in
 * the query of this one URL. Returns a function that closes the stream.
 */
export function openStream({ onCase, onSync, onStatus }) {
  let source = null;
  let retry = null;
  let stopped = false;

  const connect = () => {
    // The session cookie goes with the request by itself; a token has to ride in the query.
    const query = cookieMode() ? "" : `?token=${encodeURIComponent(token())}`;
    source = new EventSource(`/api/v1/stream${query}`);
    source.addEventListener("hello", () => { onStatus("live"); onSync(); });
    source.addEventListener("resync", () => onSync());
    source.addEventListener("case", (event) => onCase(JSON.parse(event.data)));
    source.onerror = () => {
      onStatus("reconnecting");
      if (source.readyState === EventSource.CLOSED && !stopped) {
        // The browser gave up (e.g. a 401): try again later; api() will notice a dead token.
        retry = setTimeout(connect, STREAM_RETRY_MS);
      }
    };
  };
  connect();
  return () => {
    stopped = true;
    clearTimeout(retry);
    source?.close();
  };
}

/** Sign in with a username and password; the answer sets the HttpOnly session cookie. */
export async function signIn(username, password) {
  const response = await fetch("/api/v1/session", {
    method: "POST",
    headers: { Accept: "application/json", "Content-Type": "application/json" },
    body: JSON.stringify({ username, password }),
    credentials: "same-origin",
    cache: "no-store",
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, data.detail ?? response.statusText);
  setToken(COOKIE_SESSION);
  return data;
}

/** End the cookie session on the server (a token session just forgets its token). */
export async function signOutSession() {
  if (cookieMode()) {
    await fetch("/api/v1/session", { method: "DELETE", credentials: "same-origin" }).catch(() => {});
  }
  clearToken();
}
