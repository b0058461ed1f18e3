// The interface's words in the visitor's language, for the page (web/boot.js, index.html) and for the
// worker's modules whose messages the app shows (web/offline.js, web/model-store.js, web/ort-bridge.js).
// English is the source: the English text in the code is the key of the other languages' catalogs,
// i18n/<code>.json (pysrc/hearth/i18n/*.json, the very file Python's hearth.i18n reads), so English
// needs none. Each realm (the page, the worker) loads its catalog once with use(); t() then looks up.
// tests/test_i18n.py finds the double-quoted first argument of every t() and N_() call here and checks each
// catalog has it.

export const LANGUAGES = { en: "English", de: "Deutsch" }; // as hearth.i18n.LANGUAGES
export const SOURCE = "en";
const STORED = "hearth-language";

let catalog = {};
let active = SOURCE;

/** The page's language: the visitor's choice (kept in localStorage), else German for a German browser, else English. */
export function chosen() {
  let stored = null;
  try {
    stored = localStorage.getItem(STORED);
  } catch {} // storage blocked: the browser's language decides
  if (stored && Object.hasOwn(LANGUAGES, stored)) return stored;
  return (navigator.language || "").toLowerCase().startsWith("de") ? "de" : SOURCE;
}

/** Keep the visitor's choice for the next visits. */
export function remember(code) {
  try {
    localStorage.setItem(STORED, code);
  } catch {}
}

/** Speak `code` from now on: its catalog is fetched from the site (`base`), once. */
export async function use(code, base) {
  if (!Object.hasOwn(LANGUAGES, code)) throw new Error(`unknown language ${code}`);
  active = code;
  if (code === SOURCE) {
    catalog = {};
    return;
  }
  const response = await fetch(new URL(`i18n/${code}.json`, base));
  if (!response.ok) throw new Error(`i18n/${code}.json: HTTP ${response.status}`);
  catalog = await response.json();
}

export function language() {
  return active;
}

/** `text` (English) in the active language, its {name} fields filled from `fields`. */
export function t(text, fields) {
  const translated = catalog[text] ?? text;
  return fields ? translated.replace(/\{(\w+)\}/g, (all, name) => (name in fields ? fields[name] : all)) : translated;
}

/** Mark `text` for the catalogs where it is defined; it is translated where it is shown, with t(). */
export const N_ = (text) => text;
