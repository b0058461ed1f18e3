// What of this deployment is stored on this device for offline use, and storing the rest on demand.
// Runs in the page (the Offline panel, web/boot.js) and in the app's worker (the language model and
// the WebGPU runtime are kept on first use: pysrc/hearth/runtime/browser.py, web/ort-bridge.js).
//
// The service worker stores the "app" part on the first visit (web/sw.js); every other part is
// fetched here, checked against its sha256 and put into the same cache, with the headers the service
// worker would store, so it serves these files from then on, offline too. Storing happens here rather
// than in the service worker because the worker that asks may not be controlled by it (the first
// visit's page started before the service worker existed) and because a download of 100 MB can
// outlast the time a browser grants a service worker's event.

import { t } from "./i18n.js";

const HASH_HEADER = "x-hearth-sha256";
const ROOT = new URL("./", import.meta.url).href;

let buildPromise = null;
/** This site's build.json: version, each file's sha256 and size, the parts (served from the cache offline). */
export function build() {
  buildPromise ??= fetch(new URL("build.json", ROOT)).then((response) => {
    if (!response.ok) throw new Error(`build.json: HTTP ${response.status}`);
    return response.json();
  }).catch((error) => {
    buildPromise = null; // try again next time (e.g. once the network is back)
    throw error;
  });
  return buildPromise;
}

export class OfflineError extends Error {
  constructor(kind, message) {
    super(message);
    this.kind = kind; // "offline" | "quota" | "integrity" | "version" | "unsupported"
  }
}

export function sizeText(bytes) {
  return bytes >= 1e9 ? `${(bytes / 1e9).toFixed(2)} GB` : `${(bytes / 1e6).toFixed(1)} MB`;
}

const cacheName = (info) => `hearth-app-${info.version}`;

/** Whether `path` is stored with the hash this deployment expects. */
async function stored(cache, info, path) {
  const response = await cache.match(new URL(path, ROOT).href);
  return response?.headers.get(HASH_HEADER) === info.files[path];
}

/**
 * Every part and how much of it is on this device:
 * [{name, title, label, bytes, files, storedBytes, storedFiles, complete}] ("app" first).
 */
export async function parts() {
  const info = await build();
  const cache = self.caches && (await caches.has(cacheName(info))) ? await caches.open(cacheName(info)) : null;
  const out = [];
  for (const [name, part] of Object.entries(info.parts)) {
    let storedFiles = 0;
    let storedBytes = 0;
    for (const path of part.files) {
      if (cache && (await stored(cache, info, path))) {
        storedFiles += 1;
        storedBytes += info.sizes[path];
      }
    }
    out.push({ name, title: part.title, label: part.label, bytes: part.bytes, files: part.files.length, storedBytes, storedFiles,
               complete: storedFiles === part.files.length });
  }
  return out;
}

/** One part's state (see `parts`). */
export async function part(name) {
  const found = (await parts()).find((p) => p.name === name);
  if (!found) throw new Error(`Hearth has no part ${name}`);
  return found;
}

async function sha256(buffer) {
  const digest = await crypto.subtle.digest("SHA-256", buffer);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The part's missing files, one after the other: fetched, checked, stored; `onProgress({done, total, file})`. */
async function store(name, onProgress, expectVersion) {
  if (!self.caches) throw new OfflineError("unsupported", t("This browser gives the page no storage (Cache API), so nothing can be kept for offline use."));
  const info = await build();
  if (expectVersion && info.version !== expectVersion) {
    // The site answered with another deployment's list: storing it would mix two versions.
    throw new OfflineError("version", t("A newer version of Hearth was deployed: reload the page, then try again."));
  }
  const part = info.parts[name];
  if (!part) throw new Error(`Hearth has no part ${name}`);
  const cache = await caches.open(cacheName(info));
  const missing = [];
  for (const path of part.files) if (!(await stored(cache, info, path))) missing.push(path);
  const total = missing.reduce((sum, path) => sum + info.sizes[path], 0);
  if (!missing.length) return { fetched: 0 };
  if (navigator.storage?.estimate) {
    const { quota, usage } = await navigator.storage.estimate();
    if (quota - usage < total * 1.02) {
      throw new OfflineError("quota", t("Not enough room to keep {part} ({size}): the browser allows this site {free} more. Free some space and try again.",
                                        { part: t(part.title), size: sizeText(total), free: sizeText(Math.max(quota - usage, 0)) }));
    }
  }
  let done = 0;
  onProgress({ done, total, file: missing[0] });
  for (const path of missing) {
    let response;
    try {
      // no-cache: a file the page already loaded is only revalidated, never transferred again.
      response = await fetch(new URL(path, ROOT).href, { cache: "no-cache" });
    } catch {
      const title = t(part.title);
      throw new OfflineError("offline", t("{part} is not on this device yet and the site cannot be reached: download it first ({size}, once, while online); from then on it works offline.",
                                          { part: title[0].toUpperCase() + title.slice(1), size: sizeText(total) }));
    }
    if (!response.ok) throw new OfflineError("offline", t("{path}: the site answered HTTP {status}.", { path, status: response.status }));
    const chunks = [];
    const reader = response.body.getReader();
    for (;;) {
      let chunk;
      try {
        chunk = await reader.read();
      } catch {
        throw new OfflineError("offline", t("The connection dropped while downloading {part}; try again (the files already complete are kept).", { part: t(part.title) }));
      }
      if (chunk.done) break;
      chunks.push(chunk.value);
      done += chunk.value.byteLength;
      onProgress({ done, total, file: path });
    }
    const body = await new Blob(chunks).arrayBuffer();
    const hash = await sha256(body);
    if (hash !== info.files[path]) {
      throw new OfflineError("integrity", t("{path} is not the file this version of Hearth expects (sha256 {hash}): the site may be mid-update; reload the page and try again.",
                                            { path, hash }));
    }
    const headers = {
      "Content-Type": response.headers.get("Content-Type") || "application/octet-stream",
      "Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp",
      "Cross-Origin-Resource-Policy": "same-origin",
      "Content-Security-Policy": path === info.worker ? info.worker_csp : info.csp,
      [HASH_HEADER]: hash,
    };
    await cache.put(new URL(path, ROOT).href, new Response(body, { headers }));
  }
  onProgress({ done: total, total, file: null });
  return { fetched: total };
}

const storing = new Map(); // part name -> the running store(), so two callers share one download
const listeners = new Map(); // part name -> progress callbacks of everyone waiting on it

/**
 * Make sure part `name` is on this device: download what is missing (once, however many ask) and keep
 * it. `onProgress({done, total, file})` reports bytes of the missing files. `expectVersion`: refuse if
 * the site now serves another deployment (the caller's files would not match). Throws OfflineError.
 */
export function keep(name, onProgress = () => {}, expectVersion = null) {
  if (!listeners.has(name)) listeners.set(name, new Set());
  listeners.get(name).add(onProgress);
  if (!storing.has(name)) {
    const report = (progress) => {
      for (const callback of listeners.get(name)) {
        try {
          callback(progress);
        } catch (error) {
          console.warn("Hearth: a progress callback failed:", error);
        }
      }
    };
    storing.set(name, store(name, report, expectVersion).finally(() => {
      storing.delete(name);
      listeners.delete(name);
    }));
  }
  return storing.get(name);
}
