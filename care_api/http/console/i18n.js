// The console's two languages: every visible string lives in i18n/<lang>.json.

const LANG_KEY = "vnh.lang";
export const LANGUAGES = ["en", "zh"];

let lang = "en";
let words = {};

function stored() {
  const saved = localStorage.getItem(LANG_KEY);
  if (LANGUAGES.includes(saved)) return saved;
  return navigator.language?.toLowerCase().startsWith("zh") ? "zh" : "en";
}

/** Load `code` (or the remembered language) and make it current. */
export async function loadLanguage(code = stored()) {
  const response = await fetch(`/console/static/i18n/${code}.json`, { cache: "no-cache" });
  if (!response.ok) throw new Error(`language ${code} failed to load (${response.status})`);
  words = await response.json();
  lang = code;
  localStorage.setItem(LANG_KEY, code);
  document.documentElement.lang = code === "zh" ? "zh-CN" : "en";
}

export function currentLang() {
  return lang;
}

/** The text for `key` with `{name}` placeholders filled; the key itself if it is missing. */
export function t(key, vars = {}) {
  const text = words[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in vars ? String(vars[name]) : `{${name}}`));
}

/** The text for `key`, or `fallback` when no language file has it (e.g. a new status). */
export function tOr(key, fallback, vars = {}) {
  return key in words ? t(key, vars) : fallback;
}

/** Fill every element carrying data-i18n with its text. */
export function translateStatic(root = document) {
  for (const node of root.querySelectorAll("[data-i18n]")) {
    node.textContent = t(node.dataset.i18n);
  }
  document.title = t("app.title");
}

const locale = () => (lang === "zh" ? "zh-CN" : "en-GB");

export function formatTime(iso) {
  if (!iso) return "—";
  return new Date(iso).toLocaleString(locale(), {
    month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
  });
}

/** A date; `exclusiveEnd` shows the day before an end-of-period midnight. */
export function formatDate(iso, exclusiveEnd = false) {
  const at = new Date(Date.parse(iso) - (exclusiveEnd ? 1 : 0));
  return at.toLocaleDateString(locale(), { year: "numeric", month: "2-digit", day: "2-digit" });
}

export function formatPercent(rate) {
  return rate === null || rate === undefined ? "—" : `${(rate * 100).toFixed(1)} %`;
}

/** A duration in seconds as "42 s", "3 min 05 s" or "2 h 07 min". */
export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "—";
  const total = Math.max(0, Math.round(seconds));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const secs = total % 60;
  if (hours) return t("unit.h_min", { h: hours, m: String(minutes).padStart(2, "0") });
  if (minutes) return t("unit.min_s", { m: minutes, s: String(secs).padStart(2, "0") });
  return t("unit.s", { s: secs });
}

/** The API's label maps are keyed by language tag; the console's languages are en and zh. */
export function label(labels) {
  const tag = currentLang() === "zh" ? "zh-CN" : "en";
  return labels?.[tag] ?? labels?.en ?? labels?.["zh-CN"] ?? Object.values(labels ?? {})[0] ?? "";
}
