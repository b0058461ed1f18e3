// Hearth's service worker: the whole app offline after one visit.
// build.py prepends `const BUILD = {version, files: {path: sha256}}` to this file, so every
// deployment has a new worker script, which the browser installs on the next load.
/* global BUILD */

const APP_CACHE = `hearth-app-${BUILD.version}`;
const APP_PREFIX = "hearth-app-";
const HASH_HEADER = "x-hearth-sha256";
// Models a user downloaded live in their own cache (web/model-store.js), kept across deployments.
const MODEL_CACHE_PREFIX = "hearth-models";

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

/** Every file of this deployment, each checked against its sha256; unchanged files are copied from the old cache. */
async function precache() {
  const cache = await caches.open(APP_CACHE);
  const oldCaches = (await caches.keys()).filter((k) => k.startsWith(APP_PREFIX) && k !== APP_CACHE);
  const entries = Object.entries(BUILD.files);
  let done = 0;
  const queue = [...entries];
  async function next() {
    while (queue.length) {
      const [path, hash] = queue.shift();
      const url = new URL(path, self.registration.scope).href;
      const have = await cache.match(url);
      if (!(have && have.headers.get(HASH_HEADER) === hash)) {
        let body = null;
        for (const name of oldCaches) {
          const old = await (await caches.open(name)).match(url);
          if (old && old.headers.get(HASH_HEADER) === hash) {
            body = await old.arrayBuffer();
            break;
          }
        }
        if (!body) {
          const response = await fetch(url, { cache: "no-cache" });
          if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
          body = await response.arrayBuffer();
          const actual = await sha256(body);
          // A file from another deployment (a half-updated host): refuse rather than mix versions.
          if (actual !== hash) throw new Error(`${path}: sha256 ${actual}, expected ${hash}`);
        }
        // Stored with the headers it is served with, so the fetch handler can answer with the cached
        // response itself: Chromium then keeps the compiled code of scripts and wasm for the next load.
        const headers = { ...SECURITY_HEADERS, "Content-Type": typeFor(path), [HASH_HEADER]: hash };
        if (path === BUILD.worker) headers["Content-Security-Policy"] = BUILD.worker_csp;
        await cache.put(url, new Response(body, { headers }));
      }
      done += 1;
      if (done % 10 === 0 || done === entries.length) broadcast({ type: "precache", done, total: entries.length });
    }
  }
  await Promise.all([next(), next(), next(), next()]);
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
  event.waitUntil(precache().then(() => self.skipWaiting()));
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

async function fromCacheThenNetwork(request) {
  const url = new URL(request.url);
  const key = url.origin + url.pathname; // ?v=VERSION only busts other deployments' workers
  const cached = await (await caches.open(APP_CACHE)).match(key);
  if (cached) return cached; // as stored, headers included (a new Response would lose the code cache)
  for (const name of (await caches.keys()).filter((k) => k.startsWith(MODEL_CACHE_PREFIX))) {
    const model = await (await caches.open(name)).match(request, { ignoreSearch: true });
    if (model) return withHeaders(model, request.url);
  }
  return withHeaders(await fetch(request), request.url);
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return; // e.g. a model download
  if (request.headers.has("range")) return; // resumable downloads talk to the server directly
  const isPage = request.mode === "navigate" || url.pathname.endsWith("/index.html");
  event.respondWith(isPage ? fromNetworkThenCache(request) : fromCacheThenNetwork(request));
});
