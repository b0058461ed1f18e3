// Hearth's service worker: the app offline after one visit.
// build.py prepends `const BUILD = {version, files: {path: sha256}, sizes, parts}` to this file, so every
// deployment has a new worker script, which the browser installs on the next load (or when an open
// page checks for updates: web/boot.js).
//
// The "app" part (everything training needs; sitebuild/site.py PARTS) is stored on the first visit: the
// first install stores nothing and takes control at once, so every file of that part the page fetches
// passes through here and is stored as it goes by (never downloaded twice, whatever the HTTP cache
// keeps), and once the app is up the page asks for the rest of the part ("complete"). A later
// deployment's worker stores its whole app part while installing, copying unchanged files from the old
// cache (those a visitor kept included, so a kept model is not downloaded again), and takes over only
// when the visitor reloads (web/boot.js). The other parts (the built-in language model, the WebGPU
// runtime) are stored by web/offline.js the first time they are used, into this same cache.
/* global BUILD */

const APP_CACHE = `hearth-app-${BUILD.version}`;
const APP_PREFIX = "hearth-app-";
const HASH_HEADER = "x-hearth-sha256";
// Models a user downloaded live in their own cache (web/model-store.js), kept across deployments.
const MODEL_CACHE_PREFIX = "hearth-models";
// Asks for the network only (web/boot.js's update and connectivity check): never answered from the cache.
const PROBE_PARAM = "hearth-probe";

const SECURITY_HEADERS = {
  // Cross-origin isolation, so onnxruntime-web can use threads even where the host sets no headers.
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Embedder-Policy": "require-corp",
  "Cross-Origin-Resource-Policy": "same-origin",
  "Content-Security-Policy": BUILD.csp,
};

async function sha256(buffer) {
  const digest = await crypto.subtle.digest("SHA-256", buffer);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function broadcast(message) {
  for (const client of await self.clients.matchAll({ includeUncontrolled: true })) client.postMessage(message);
}

/**
 * The "app" part of this deployment, each file checked against its sha256, plus every file of any
 * part that an older deployment's cache holds unchanged (what the visitor kept). Unchanged files are
 * copied from the old cache; the rest are fetched with `no-cache`, so what the page itself loaded on
 * this visit is only revalidated (the HTTP cache answers 304), never transferred twice.
 */
async function precache() {
  const cache = await caches.open(APP_CACHE);
  const oldCaches = (await caches.keys()).filter((k) => k.startsWith(APP_PREFIX) && k !== APP_CACHE);
  const wanted = new Set(APP_FILES);
  const carried = new Map(); // url -> old response with the same hash
  for (const name of oldCaches) {
    const old = await caches.open(name);
    for (const request of await old.keys()) {
      const path = new URL(request.url).pathname.slice(new URL(self.registration.scope).pathname.length);
      const response = await old.match(request);
      if (BUILD.files[path] && response.headers.get(HASH_HEADER) === BUILD.files[path] && !carried.has(path)) {
        carried.set(path, response);
        wanted.add(path);
      }
    }
  }
  const entries = [...wanted].map((path) => [path, BUILD.files[path]]);
  let done = 0;
  const queue = [...entries];
  async function next() {
    while (queue.length) {
      const [path, hash] = queue.shift();
      const url = new URL(path, self.registration.scope).href;
      const have = await cache.match(url);
      if (!(have && have.headers.get(HASH_HEADER) === hash)) {
        let body = null;
        if (carried.has(path)) body = await carried.get(path).arrayBuffer();
        if (!body) {
          const response = await fetch(url, { cache: "no-cache" });
          if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
          body = await response.arrayBuffer();
          const actual = await sha256(body);
          // A file from another deployment (a half-updated host): refuse rather than mix versions.
          if (actual !== hash) throw new Error(`${path}: sha256 ${actual}, expected ${hash}`);
        }
        await put(cache, path, body, hash);
      }
      done += 1;
      if (done % 10 === 0 || done === entries.length) broadcast({ type: "precache", done, total: entries.length, version: BUILD.version });
    }
  }
  await Promise.all([next(), next(), next(), next()]);
  // This deployment's list, for web/offline.js offline (it lists the parts and what each holds).
  await cache.put(new URL("build.json", self.registration.scope).href,
                  new Response(JSON.stringify(BUILD), { headers: { ...SECURITY_HEADERS, "Content-Type": "application/json" } }));
}

const APP_FILES = BUILD.parts.app.files;
const APP_SET = new Set(APP_FILES);

async function put(cache, path, body, hash) {
  // Stored with the headers it is served with, so the fetch handler can answer with the cached
  // response itself: Chromium then keeps the compiled code of scripts and wasm for the next load.
  const headers = { ...SECURITY_HEADERS, "Content-Type": typeFor(path), [HASH_HEADER]: hash };
  if (path === BUILD.worker) headers["Content-Security-Policy"] = BUILD.worker_csp;
  await cache.put(new URL(path, self.registration.scope).href, new Response(body, { headers }));
}

/** Store a file of the app part the page fetched through us, if it is this deployment's (else drop it). */
async function storePassing(path, bodyPromise) {
  try {
    const body = await bodyPromise;
    if ((await sha256(body)) === BUILD.files[path]) await put(await caches.open(APP_CACHE), path, body, BUILD.files[path]);
  } catch {
    // the page stopped reading or the network dropped: "complete" fetches it later
  }
}

let completing = null;
/** The first visit's rest of the app part (what the page has not fetched through us); then "stored". */
function complete() {
  completing ??= precache().then(
    () => broadcast({ type: "stored", version: BUILD.version }),
    (error) => {
      completing = null; // the next page load asks again
      broadcast({ type: "store-failed", version: BUILD.version, message: String(error) });
    });
  return completing;
}

const TYPES = {
  html: "text/html; charset=utf-8", js: "text/javascript", mjs: "text/javascript", css: "text/css",
  json: "application/json", wasm: "application/wasm", svg: "image/svg+xml", png: "image/png",
  webmanifest: "application/manifest+json", whl: "application/octet-stream", zip: "application/zip",
  onnx: "application/octet-stream", txt: "text/plain; charset=utf-8", csv: "text/csv; charset=utf-8",
};
function typeFor(path) {
  return TYPES[path.split(".").pop()] ?? "application/octet-stream";
}

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    if (!self.registration.active) {
      // The first install: take control at once and store the app part as the page fetches it.
      await self.skipWaiting();
      return;
    }
    await precache();
    // Pages of the running deployment stay on it (their lazy files still come from its cache) until
    // the visitor takes the offer to reload (web/boot.js), which asks this worker to take over.
    await broadcast({ type: "update-ready", version: BUILD.version });
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) {
      if (key.startsWith(APP_PREFIX) && key !== APP_CACHE) await caches.delete(key);
    }
    await self.clients.claim();
    await broadcast({ type: "activated", version: BUILD.version });
  })());
});

self.addEventListener("message", (event) => {
  if (event.data?.type === "version") event.ports[0]?.postMessage(BUILD.version);
  // Chrome can leave a worker that called skipWaiting() during install parked as "waiting" when the
  // old worker was busy at that moment; asking again from the page unparks it.
  if (event.data?.type === "skip-waiting") self.skipWaiting();
  if (event.data?.type === "complete") event.waitUntil(complete());
});

function withHeaders(response, url) {
  if (response.status === 0 || response.type === "opaque") return response;
  const headers = new Headers(response.headers);
  for (const [k, v] of Object.entries(SECURITY_HEADERS)) headers.set(k, v);
  if (new URL(url).pathname.endsWith("/" + BUILD.worker)) headers.set("Content-Security-Policy", BUILD.worker_csp);
  headers.delete(HASH_HEADER);
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}

async function fromNetworkThenCache(request) {
  // The page itself: fresh when the network answers (so a new deployment is seen on the next load),
  // the cached copy when it does not (offline) or is too slow.
  const cache = await caches.open(APP_CACHE);
  try {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), 4000);
    const response = await fetch(request, { signal: controller.signal, cache: "no-cache" });
    clearTimeout(timer);
    if (response.ok) return withHeaders(response, request.url);
  } catch {
    // offline: fall through to the cache
  }
  const url = new URL(request.url);
  const cached = (await cache.match(url.origin + url.pathname)) ?? (await cache.match(new URL("index.html", self.registration.scope).href));
  return cached ? withHeaders(cached, request.url) : new Response("Hearth is offline and this page was never saved.", { status: 503 });
}

async function fromCacheThenNetwork(event) {
  const request = event.request;
  const url = new URL(request.url);
  const key = url.origin + url.pathname; // ?v=VERSION only busts other deployments' workers
  const cached = await (await caches.open(APP_CACHE)).match(key);
  if (cached) return cached; // as stored, headers included (a new Response would lose the code cache)
  for (const name of (await caches.keys()).filter((k) => k.startsWith(MODEL_CACHE_PREFIX))) {
    const model = await (await caches.open(name)).match(request, { ignoreSearch: true });
    if (model) return withHeaders(model, request.url);
  }
  const response = await fetch(request);
  const path = url.pathname.slice(new URL(self.registration.scope).pathname.length);
  if (!response.ok || !response.body || !APP_SET.has(path)) return withHeaders(response, request.url);
  // A file of the app part: one copy to the page, one to the cache (checked against its sha256 first).
  const [forPage, forCache] = response.body.tee();
  event.waitUntil(storePassing(path, new Response(forCache).arrayBuffer()));
  return withHeaders(new Response(forPage, { status: response.status, statusText: response.statusText, headers: response.headers }),
                     request.url);
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return; // e.g. a model download
  if (url.searchParams.has(PROBE_PARAM)) return; // the network's answer, or a failure: that is the question
  if (request.headers.has("range")) return; // resumable downloads talk to the server directly
  const isPage = request.mode === "navigate" || url.pathname.endsWith("/index.html");
  event.respondWith(isPage ? fromNetworkThenCache(request) : fromCacheThenNetwork(event));
});
