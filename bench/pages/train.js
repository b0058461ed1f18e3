// The page side of bench/train_throughput.py. Every contender runs in a worker of its own so that
// none can be slowed by another's leftovers: Hearth in the app's real worker (../worker.js, Python in
// Pyodide driving onnxruntime-web), each TensorFlow.js backend in tfjs-worker.js. The driver calls
// window.bench.* through Playwright and alternates contenders round by round.

const site = new URL("../", location.href).href;
const workers = new Map();
let nextId = 1;
const pending = new Map();

function listen(worker) {
  worker.addEventListener("message", (event) => {
    const msg = event.data;
    if (msg.type === "error") console.error(msg.text);
    if (msg.type !== "result" || !pending.has(msg.id)) return;
    const { resolve, reject } = pending.get(msg.id);
    pending.delete(msg.id);
    msg.error ? reject(new Error(msg.error)) : resolve(msg.value);
  });
  worker.addEventListener("error", (event) => console.error(`worker error: ${event.message}`));
  return worker;
}

function call(worker, msg) {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    worker.postMessage({ ...msg, id });
  });
}

window.bench = {
  isolated: self.crossOriginIsolated,

  /** Start one of Hearth's app workers (Pyodide, Panel, Hearth), exactly as index.html's boot.js does;
   * `base`: the build's folder under the site ("" for this one, "baseline/" for --baseline's). */
  startHearth(name, base = "") {
    const root = new URL(base, site).href;
    const worker = listen(new Worker(new URL("worker.js", root), { type: "module" }));
    worker.postMessage({ type: "start", origin: root });
    workers.set(name, worker);
  },

  /** Run Python in Hearth worker `name`; the last expression's value comes back. */
  python(name, code) {
    return call(workers.get(name), { type: "python", code });
  },

  /** A TF.js worker on `backend` ("wasm", "cpu", "webgl"); `threads` for wasm. */
  async startTfjs(name, backend, threads) {
    // TF.js's wasm backend takes at most half the cores it sees: show it 2n for n threads (tfjs-worker.js)
    const cores = backend === "wasm" && threads > 1 ? `cores=${2 * threads}` : "";
    const worker = listen(new Worker(new URL("tfjs-worker.js", location.href), { name: cores }));
    workers.set(name, worker);
    return call(worker, { type: "backend", backend, threads });
  },

  tfjs(name, msg) {
    return call(workers.get(name), msg);
  },
};
