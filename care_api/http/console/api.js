// Talking to the API: the bearer token (sessionStorage only), JSON calls, the live stream.

import { currentLang } from "./i18n.js";

const TOKEN_KEY = "vnh.token";
const STREAM_RETRY_MS = 5000;

let skewMs = 0; // server clock minus browser clock, so ages use the server's time

export const token = () => sessionStorage.getItem(TOKEN_KEY);
export const setToken = (value) => sessionStorage.setItem(TOKEN_KEY, value);
export const clearToken = () => sessionStorage.removeItem(TOKEN_KEY);

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
export async function api(path, { method = "GET", body } = {}) {
  const headers = {
    Accept: "application/json",
    Authorization: `Bearer ${token()}`,
    // The server says its own texts (case titles, history, flags) in the console's language.
    "Accept-Language": readerLanguage(),
  };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(`/api/v1${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
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
    source = new EventSource(`/api/v1/stream?token=${encodeURIComponent(token())}`);
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
