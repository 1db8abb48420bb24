// Every visible string in Simplified Chinese and English (strings.json), chosen from
// the browser's languages until the user picks one; the pick is remembered.
// Times are shown in Beijing time (the deployment's time zone, no daylight saving).

const LANG_KEY = "sg.lang";
export const LANGUAGES = ["zh-CN", "en"];
export const TIME_ZONE = "Asia/Shanghai";

let strings = {};
let lang = "zh-CN";

export async function loadStrings() {
  const response = await fetch("strings.json", { cache: "no-cache" });
  strings = await response.json();
  lang = initialLanguage();
  document.documentElement.lang = lang;
}

function initialLanguage() {
  const stored = localStorage.getItem(LANG_KEY);
  if (LANGUAGES.includes(stored)) return stored;
  for (const wanted of navigator.languages || [navigator.language]) {
    const code = String(wanted).toLowerCase();
    if (code.startsWith("zh")) return "zh-CN";
    if (code.startsWith("en")) return "en";
  }
  return "zh-CN";
}

export function language() {
  return lang;
}

export function setLanguage(next) {
  if (!LANGUAGES.includes(next)) return;
  lang = next;
  localStorage.setItem(LANG_KEY, next);
  document.documentElement.lang = next;
}

// t(key, {name: value}): a missing key shows itself, so it is noticed and fixed.
export function t(key, vars) {
  const table = strings[lang] || {};
  let text = key in table ? table[key] : key;
  for (const [name, value] of Object.entries(vars || {})) {
    text = text.split(`{${name}}`).join(String(value));
  }
  return text;
}

// A value from a known set (kinds, states …) or the raw value when it is new to us.
export function term(prefix, value) {
  if (value === null || value === undefined || value === "") return t("dash");
  const key = `${prefix}.${value}`;
  const text = t(key);
  return text === key ? String(value) : text;
}

function parse(iso) {
  if (!iso) return null;
  // The API sends UTC with an offset; a bare timestamp is UTC too.
  const text = /[zZ]|[+-]\d\d:?\d\d$/.test(iso) ? iso : `${iso}Z`;
  const at = new Date(text);
  return Number.isNaN(at.getTime()) ? null : at;
}

const parts = new Intl.DateTimeFormat("en-GB", {
  timeZone: TIME_ZONE,
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  hourCycle: "h23",
});

function pieces(at) {
  const out = {};
  for (const { type, value } of parts.formatToParts(at)) out[type] = value;
  return out;
}

// 2026-05-01 08:30:05 in Beijing time, the same in both languages.
export function formatTime(iso) {
  const at = parse(iso);
  if (!at) return t("dash");
  const p = pieces(at);
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`;
}

export function formatClock(at) {
  const p = pieces(at);
  return `${p.hour}:${p.minute}:${p.second}`;
}

export function formatAgo(iso, now = new Date()) {
  const at = parse(iso);
  if (!at) return t("time.never");
  const seconds = Math.round((at.getTime() - now.getTime()) / 1000);
  const rtf = new Intl.RelativeTimeFormat(lang, { numeric: "auto" });
  const abs = Math.abs(seconds);
  if (abs < 60) return rtf.format(seconds, "second");
  if (abs < 3600) return rtf.format(Math.round(seconds / 60), "minute");
  if (abs < 86400) return rtf.format(Math.round(seconds / 3600), "hour");
  return rtf.format(Math.round(seconds / 86400), "day");
}

export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined) return t("dash");
  const s = Math.max(0, Math.round(seconds));
  const d = Math.floor(s / 86400);
  const hrs = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d) return t("duration.days", { d, h: hrs });
  if (hrs) return t("duration.hours", { h: hrs, m });
  return t("duration.minutes", { m });
}

export function formatNumber(value, digits = 1) {
  if (value === null || value === undefined) return t("dash");
  return new Intl.NumberFormat(lang, { maximumFractionDigits: digits }).format(value);
}
