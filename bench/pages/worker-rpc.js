// The workers of a bench page, by name, and the one message protocol they all answer: the page posts
// `{...msg, id}` and the worker replies `{type: "result", id, value}` or `{type: "result", id, error}`
// (Hearth's app worker, ../worker.js, speaks it; so do the peers' bench workers).

const site = new URL("../", location.href).href;
const workers = new Map();
const pending = new Map();
let nextId = 1;

/** Start worker `name` from `url` (relative to the page) and return it. */
export function startWorker(name, url, options = {}) {
  const worker = new Worker(new URL(url, location.href), options);
  worker.addEventListener("message", (event) => {
    const msg = event.data;
    if (msg.type === "error") console.error(msg.text);
    if (msg.type !== "result" || !pending.has(msg.id)) return;
    const { resolve, reject } = pending.get(msg.id);
    pending.delete(msg.id);
    msg.error ? reject(new Error(msg.error)) : resolve(msg.value);
  });
  worker.addEventListener("error", (event) => console.error(`worker error: ${event.message}`));
  workers.set(name, worker);
  return worker;
}

/** Send `msg` to worker `name`; resolves with its answer. */
export function call(name, msg) {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    workers.get(name).postMessage({ ...msg, id });
  });
}

/** Start one of Hearth's app workers (Pyodide, Panel, Hearth), exactly as index.html's boot.js does;
 * `base`: the build's folder under the site ("" for this one). */
export function startHearth(name, base = "") {
  const root = new URL(base, site).href;
  startWorker(name, new URL("worker.js", root), { type: "module" }).postMessage({ type: "start", origin: root });
}

/** Run Python in Hearth worker `name`; the last expression's value comes back. */
export function python(name, code) {
  return call(name, { type: "python", code });
}
