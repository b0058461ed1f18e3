// The page side of bench/train_throughput.py. Every contender runs in a worker of its own so that
// none can be slowed by another's leftovers: Hearth in the app's real worker (../worker.js, Python in
// Pyodide driving onnxruntime-web), each TensorFlow.js backend in tfjs-worker.js. The driver calls
// window.bench.* through Playwright and alternates contenders round by round.

import { call, python, startHearth, startWorker } from "./worker-rpc.js";

window.bench = {
  isolated: self.crossOriginIsolated,

  /** Start one of Hearth's app workers; `base`: "" for this build, "baseline/" for --baseline's. */
  startHearth,
  python,

  /** A TF.js worker on `backend` ("wasm", "cpu", "webgl"); `threads` for wasm. */
  async startTfjs(name, backend, threads) {
    // TF.js's wasm backend takes at most half the cores it sees: show it 2n for n threads (tfjs-worker.js)
    const cores = backend === "wasm" && threads > 1 ? `cores=${2 * threads}` : "";
    startWorker(name, "tfjs-worker.js", { name: cores });
    return call(name, { type: "backend", backend, threads });
  },

  tfjs: call,
};
